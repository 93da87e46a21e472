"""From token ids to batches: a map-style dataset, a collate that truncates and pads, and a sampler
that groups reviews of similar length so that each batch is padded only to its own longest review."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import sparse
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset, Sampler

from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID
from lstm_imdb.data.tokens import TokenizedSplit
from lstm_imdb.data.wide import row_features

SIDES = ("left", "right")


class TokenDataset(Dataset):
    """(token ids, label, row index) of each review of a split, and with `wide` (the split's CSR matrix of
    hashed n-grams) the review's feature columns; the index lets predictions made in any batch order be
    put back in the split's order."""

    def __init__(self, split: TokenizedSplit, wide: sparse.csr_matrix | None = None):
        self.split = split
        self.wide = wide

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> tuple:
        item = (self.split.ids(i), int(self.split.labels[i]), int(i))
        return item if self.wide is None else (*item, row_features(self.wide, i))


class PadCollate:
    """Truncate each review to `sequence_length` tokens, then pad the batch.

    truncation_side="left" drops the start of a long review and keeps its LAST tokens (Keras's
    truncating="pre"); padding_side="left" puts padding before the text (Keras's padding="pre"), so the
    last time step of the LSTM is the last real token. With `pad_to_longest` a batch is padded to its
    longest review only, else to `sequence_length`. An empty review becomes a single unknown token.
    """

    def __init__(
        self,
        sequence_length: int,
        padding_side: str = "left",
        truncation_side: str = "left",
        pad_to_longest: bool = True,
    ):
        self.sequence_length = sequence_length
        self.padding_side = padding_side
        self.truncation_side = truncation_side
        self.pad_to_longest = pad_to_longest

    def truncate(self, ids: np.ndarray) -> np.ndarray:
        if len(ids) == 0:
            return np.array([UNK_ID], dtype=np.int64)
        if len(ids) <= self.sequence_length:
            return ids
        return ids[-self.sequence_length :] if self.truncation_side == "left" else ids[: self.sequence_length]

    def __call__(self, items: list[tuple]) -> dict[str, torch.Tensor]:
        """items: (ids, label), (ids, label, row index) or (ids, label, row index, wide feature columns);
        the batch has `index` and `wide_ids` + `wide_offsets` when they have them."""
        seqs = [torch.from_numpy(self.truncate(item[0]).astype(np.int64)) for item in items]
        input_ids = pad_sequence(seqs, batch_first=True, padding_value=PAD_ID, padding_side=self.padding_side)
        missing = self.sequence_length - input_ids.shape[1]
        if not self.pad_to_longest and missing > 0:
            pad = (missing, 0) if self.padding_side == "left" else (0, missing)
            input_ids = F.pad(input_ids, pad, value=PAD_ID)
        batch = {
            "input_ids": input_ids,
            "lengths": torch.tensor([len(s) for s in seqs], dtype=torch.int64),
            "labels": torch.tensor([item[1] for item in items], dtype=torch.int64),
        }
        if items and len(items[0]) > 2:
            batch["index"] = torch.tensor([item[2] for item in items], dtype=torch.int64)
        if items and len(items[0]) > 3:
            batch.update(wide_batch([item[3] for item in items]))
        return batch


def wide_batch(rows: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """The feature columns of each review as `nn.EmbeddingBag`'s flat ids and offsets."""
    offsets = np.zeros(len(rows), dtype=np.int64)
    np.cumsum([len(r) for r in rows[:-1]], out=offsets[1:])
    flat = np.concatenate(rows) if rows else np.zeros(0)
    return {
        "wide_ids": torch.from_numpy(flat.astype(np.int64)),
        "wide_offsets": torch.from_numpy(offsets),
    }


def longest_first(lengths) -> np.ndarray:
    """Review indices, longest first (stable): evaluation, prediction and the bench batch reviews in this
    order, so that each batch is padded to little more than its own reviews."""
    return np.argsort(-np.asarray(lengths), kind="stable")


def length_sorted_batches(lengths, batch_size: int) -> list[np.ndarray]:
    """Batches of review indices of similar length, longest first (for evaluation and prediction)."""
    order = longest_first(lengths)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of reviews of similar length.

    Training (shuffle=True): each epoch, a seeded permutation is cut into pools of
    `batch_size * pool_batches` reviews; each pool is sorted by length and cut into batches, and the
    batches are shuffled, so that batch composition and order both change between epochs.
    Evaluation (shuffle=False): all reviews sorted by length, longest first, for the least padding.
    Under DDP (the trainer config turns Lightning's own sampler injection off), training: every rank builds
    the same batches (same seed and epoch) and takes every `num_replicas`-th one, each rank the same
    number. Evaluation: every rank takes every `num_replicas`-th review of the sorted order, so each review
    is scored exactly once, none repeated or left out (ranks differ by at most one review).
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        pool_batches: int = 50,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
    ):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.drop_last = drop_last
        self.epoch = 0
        self._replicas, self._rank = num_replicas, rank

    @property
    def replicas_and_rank(self) -> tuple[int, int]:
        if self._replicas is not None:
            return self._replicas, self._rank or 0
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_world_size(), torch.distributed.get_rank()
        return 1, 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch seeds the shuffle (with `seed`): a resumed run draws the same batches again."""
        self.epoch = epoch

    @property
    def sampler(self) -> BucketBatchSampler:
        """Lightning calls `set_epoch` at the start of every epoch (resumed ones too) only on
        `dataloader.sampler` and `dataloader.batch_sampler.sampler`; a batch sampler built from lengths
        has no inner sampler, so it offers itself here to be reached."""
        return self

    def _batches(self) -> list[np.ndarray]:
        n, bs = len(self.lengths), self.batch_size
        if not self.shuffle:
            return length_sorted_batches(self.lengths, bs)
        rng = np.random.default_rng((self.seed, self.epoch))
        perm = rng.permutation(n)
        pool = bs * self.pool_batches
        batches = []
        for start in range(0, n, pool):
            chunk = perm[start : start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + bs] for i in range(0, len(chunk), bs))
        if self.drop_last:
            batches = [b for b in batches if len(b) == bs]
        return [batches[i] for i in rng.permutation(len(batches))]

    def _my_batches(self) -> list[np.ndarray]:
        replicas, rank = self.replicas_and_rank
        if replicas > 1 and not self.shuffle:
            mine = longest_first(self.lengths)[rank::replicas]
            return [mine[i : i + self.batch_size] for i in range(0, len(mine), self.batch_size)]
        batches = self._batches()
        if replicas == 1:
            return batches
        usable = len(batches) // replicas * replicas
        return batches[rank:usable:replicas]

    def __iter__(self):
        for batch in self._my_batches():
            yield batch.tolist()

    def __len__(self) -> int:
        return len(self._my_batches())


class EvalShardSampler(Sampler[int]):
    """Evaluation under DDP without a DistributedSampler's padding: rank r takes reviews r, r + R, r + 2R,
    ... so every review is scored exactly once (ranks differ by at most one review)."""

    def __init__(self, n: int):
        self.n = n

    def _mine(self) -> range:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return range(torch.distributed.get_rank(), self.n, torch.distributed.get_world_size())
        return range(self.n)

    def __iter__(self):
        return iter(self._mine())

    def __len__(self) -> int:
        return len(self._mine())
