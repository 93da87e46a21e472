"""`IMDBDataModule`: raw reviews -> cached token ids -> train / val / test / rotten_tomatoes batches.

Batches are dicts: `input_ids` [B, T] int64, `lengths` [B] (real tokens, after truncation), `labels` [B],
`index` [B] (the reviews' rows in their split), and with `wide` (the full text's hashed n-grams,
`data/wide.py`) `wide_ids` and `wide_offsets` (an `nn.EmbeddingBag`'s flat input). The fitted vocabulary travels in checkpoints
(`state_dict`), so a checkpoint alone can predict.

The validation split is drawn with `val_seed`, not with the run's `seed`: runs of several seeds (an
ensemble's members, a seed study) hold out the same reviews, so their validation scores compare, and an
ensemble of them has a validation score of its own. `val_fold` holds out another block of the same draw:
runs of folds 0..k-1 cross-validate a whole model (`data/split.py`). The vocabulary is fitted on the
training part only, unless a `tokenizer` is given (a checkpoint's, to evaluate it): then every split is
encoded with that one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from tokenizers import Tokenizer
from torch.utils.data import DataLoader, DistributedSampler

from lstm_imdb.data.batching import SIDES, BucketBatchSampler, EvalShardSampler, PadCollate, TokenDataset
from lstm_imdb.data.cache import is_complete
from lstm_imdb.data.imdb import IMDBData, open_imdb
from lstm_imdb.data.sources import SOURCES
from lstm_imdb.data.split import fold_problem, rows_seen_in, validation_split
from lstm_imdb.data.tokens import TokenizedSplit, build_token_cache, token_cache_dir
from lstm_imdb.data.wide import wide_features, wide_settings
from lstm_imdb.utils.errors import refuse
from lstm_imdb.utils.paths import default_data_dir

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
        ("bucket_pool", 1),
        ("eval_batch_size", 1),
        ("num_workers", 0),
        ("seed", 0),
        ("val_seed", 0),
        ("val_fold", 0),
    ):
        if not isinstance(hp[key], int) or hp[key] < low:
            problems.append(f"data.{key}={hp[key]!r}: must be an integer >= {low}")
    for key in ("bucket", "pin_memory"):
        if not isinstance(hp[key], bool):
            problems.append(f"data.{key}={hp[key]!r}: must be true or false")
    for key in ("padding_side", "truncation_side"):
        if hp[key] not in SIDES:
            problems.append(f"data.{key}={hp[key]!r}: must be one of {', '.join(SIDES)}")
    if not (isinstance(hp["val_fraction"], (int, float)) and 0 < hp["val_fraction"] < 1):
        problems.append(f"data.val_fraction={hp['val_fraction']!r}: must be in the open interval (0, 1)")
    elif isinstance(hp["val_fold"], int) and (fold := fold_problem(hp["val_fraction"], hp["val_fold"])):
        problems.append(fold)
    refuse("data", problems)


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
        bucket_pool: int = 50,
        batch_size: int = 128,
        eval_batch_size: int = 512,
        val_fraction: float = 0.1,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 42,
        val_seed: int = 42,
        val_fold: int = 0,
        hub_timeout: float = 3.0,
        wide: dict | None = None,
        tokenizer: Tokenizer | str | None = None,
    ):
        super().__init__()
        validate_data_options(dict(locals()))  # the arguments above, by name
        wide = wide_settings(wide)  # the defaults filled in, so a checkpoint holds every setting
        self.save_hyperparameters(ignore=["tokenizer"])  # it travels in the checkpoint (state_dict)
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        if isinstance(tokenizer, str):
            tokenizer = Tokenizer.from_str(tokenizer)
        self.given_tokenizer: Tokenizer | None = tokenizer
        self.tokenizer: Tokenizer | None = None
        self.splits: dict[str, TokenizedSplit] = {}
        self.wide: dict = {}  # split -> CSR matrix of its reviews' hashed n-grams (with `wide`)
        self.data_fingerprint: dict = {}  # source and sha256 of each split (see sources.split_fingerprint)
        self._imdb: IMDBData | None = None
        self._seen_in_train: dict[str, np.ndarray] | None = None

    # ------------------------------------------------------------------ building (once, cached)
    def _data(self) -> IMDBData:
        if self._imdb is None:
            hp = self.hparams
            self._imdb = open_imdb(hp.source, self.data_dir, hp.acl_dir, hub_timeout=hp.hub_timeout)
            self.data_fingerprint = {"source": self._imdb.source, **self._imdb.fingerprints}
        return self._imdb

    @property
    def dataset(self):
        """The raw reviews (`DatasetDict`: train, test, rotten_tomatoes) the splits are built from."""
        return self._data().dataset

    def train_val_rows(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(training rows, validation rows) of the train split (`val_fraction`, drawn with `val_seed`,
        block `val_fold`)."""
        hp = self.hparams
        return validation_split(n, hp.val_fraction, hp.val_seed, hp.val_fold)

    def _token_cache(self, data: IMDBData):
        """(tokenizer, token ids of every split), cached per dataset, vocabulary setting and split; with a
        given tokenizer, the fitted cache when it holds the same vocabulary, else one of its own."""
        hp = self.hparams
        fit_rows, _ = self.train_val_rows(len(data.dataset["train"]))
        # the vocabulary never sees validation reviews (fold 0 keeps the name it had before folds)
        fitted_on = f"val{hp.val_fraction:g}s{hp.val_seed}" + (f"f{hp.val_fold}" if hp.val_fold else "")
        fitted = token_cache_dir(self.data_dir, data.cache_key, hp.num_words, fitted_on)
        given = self.given_tokenizer
        text = given.to_str() if given is not None else None
        if given is None or (
            is_complete(fitted) and Tokenizer.from_file(str(fitted / "tokenizer.json")).to_str() == text
        ):
            return build_token_cache(data.dataset, hp.num_words, fitted, fit_rows)
        log.info("Encoding the data with the given vocabulary (it differs from the one fitted on these data)")
        tag = "tok" + hashlib.sha256(text.encode()).hexdigest()[:12]
        folder = token_cache_dir(self.data_dir, data.cache_key, hp.num_words, tag)
        return build_token_cache(data.dataset, hp.num_words, folder, None, tokenizer=given)

    def prepare_data(self) -> None:
        self._token_cache(self._data())

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.tokenizer, ids = self._token_cache(self._data())
        full_train = TokenizedSplit.from_dataset(ids["train"])
        train_rows, val_rows = self.train_val_rows(len(full_train))
        self.splits = {
            "train": full_train.subset(train_rows),
            "val": full_train.subset(val_rows),
            **{name: TokenizedSplit.from_dataset(ids[name]) for name in ids if name != "train"},
        }
        log.info("Splits: %s", {k: len(v) for k, v in self.splits.items()})
        if self.hparams.wide is not None:
            self._build_wide_features(train_rows, val_rows)

    def _build_wide_features(self, train_rows: np.ndarray, val_rows: np.ndarray) -> None:
        """Hashed n-grams of every review's full text (stateless: nothing to fit, nothing to cache)."""
        start = time.perf_counter()
        raw = self._data().dataset
        train = wide_features(raw["train"]["text"], self.hparams.wide)
        self.wide = {"train": train[train_rows], "val": train[val_rows]}
        for name in self.splits:
            if name not in self.wide:
                self.wide[name] = wide_features(raw[name]["text"], self.hparams.wide)
        log.info("Wide features (hashed n-grams of the full text) in %.1f s", time.perf_counter() - start)

    @property
    def seen_in_train(self) -> dict[str, np.ndarray]:
        """split -> mask of its reviews that occur word for word in IMDB's train split (IMDB has a few);
        computed when first asked for (by the report), so that training does not wait for it."""
        if self._seen_in_train is None:
            raw = self._data().dataset
            texts = raw["train"]["text"]
            self._seen_in_train = {n: rows_seen_in(raw[n]["text"], texts) for n in ("test",) if n in raw}
            train_rows, val_rows = self.train_val_rows(len(texts))
            val_copies = rows_seen_in([texts[i] for i in val_rows], [texts[i] for i in train_rows])
            log.info(
                "%d test reviews occur word for word in train; %d validation reviews in the training part",
                int(sum(m.sum() for m in self._seen_in_train.values())),
                int(val_copies.sum()),
            )
        return self._seen_in_train

    # ------------------------------------------------------------------ serving batches
    @property
    def collate(self) -> PadCollate:
        hp = self.hparams
        return PadCollate(hp.sequence_length, hp.padding_side, hp.truncation_side, pad_to_longest=hp.bucket)

    def _loader(self, name: str, train: bool) -> DataLoader:
        hp = self.hparams
        split = self.splits[name]
        dataset = TokenDataset(split, self.wide.get(name))
        bs = hp.batch_size if train else hp.eval_batch_size
        common = dict(
            collate_fn=self.collate,
            num_workers=hp.num_workers,
            pin_memory=hp.pin_memory,
            persistent_workers=hp.num_workers > 0,
        )
        if hp.bucket:
            lengths = np.minimum(split.lengths, hp.sequence_length)
            # Lightning sets its epoch
            sampler = BucketBatchSampler(
                lengths, bs, shuffle=train, seed=hp.seed, pool_batches=hp.bucket_pool
            )
            return DataLoader(dataset, batch_sampler=sampler, **common)
        if torch.distributed.is_available() and torch.distributed.is_initialized():  # trainer=ddp
            if train:
                sampler = DistributedSampler(dataset, shuffle=True, seed=hp.seed)
            else:  # no padding with repeated reviews: each one is scored once
                sampler = EvalShardSampler(len(split))
            return DataLoader(dataset, batch_size=bs, sampler=sampler, **common)
        return DataLoader(dataset, batch_size=bs, shuffle=train, **common)

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

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {"tokenizer": self.tokenizer.to_str()} if self.tokenizer is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if "tokenizer" in state:
            self.tokenizer = Tokenizer.from_str(state["tokenizer"])
