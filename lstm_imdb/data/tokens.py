"""Token ids of every split, cached once per (dataset, vocabulary) setting.

Ids are stored untruncated, so changing `sequence_length` or padding never re-tokenizes. On load, a
split becomes `TokenizedSplit`: one flat int32 array plus offsets, read zero-copy from Arrow.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from datasets import Dataset, DatasetDict, load_from_disk
from datasets.table import InMemoryTable
from tokenizers import Tokenizer

from lstm_imdb.data.cache import load_or_build
from lstm_imdb.data.tokenizer import TOKENIZER_VERSION, encode, fit_tokenizer

log = logging.getLogger(__name__)


@dataclass
class TokenizedSplit:
    """A split's token ids as one flat array with offsets: row i is values[offsets[i]:offsets[i+1]]."""

    values: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def ids(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def subset(self, index: np.ndarray) -> TokenizedSplit:
        return TokenizedSplit.from_ids([self.ids(i) for i in index], self.labels[index])

    @classmethod
    def from_ids(cls, ids: list[list[int]], labels) -> TokenizedSplit:
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in ids], out=offsets[1:])
        values = np.fromiter((t for row in ids for t in row), dtype=np.int32, count=int(offsets[-1]))
        return cls(values, offsets, np.asarray(labels, dtype=np.int64))

    @classmethod
    def from_dataset(cls, ds: Dataset) -> TokenizedSplit:
        col = ds.data.column("input_ids").combine_chunks()
        offsets = col.offsets.to_numpy().astype(np.int64)
        values = col.values.to_numpy(zero_copy_only=False)
        # Arrow slices keep their parent's offsets: rebase them onto the values they point into.
        values = values[offsets[0] : offsets[-1]]
        offsets = offsets - offsets[0]
        labels = np.asarray(ds.data.column("label").to_numpy(), dtype=np.int64)
        return cls(values, offsets, labels)


def token_cache_dir(data_dir: Path, dataset_key: str, num_words: int, fitted_on: str) -> Path:
    """fitted_on names the rows the vocabulary is fitted on (see `IMDBDataModule._token_cache`)."""
    return Path(data_dir) / "tokens" / f"{dataset_key}-v{TOKENIZER_VERSION}-nw{num_words}-{fitted_on}"


def build_token_cache(
    raw: DatasetDict,
    num_words: int,
    folder: Path,
    fit_rows: np.ndarray | None,
    tokenizer: Tokenizer | None = None,
) -> tuple[Tokenizer, DatasetDict]:
    """Fit the vocabulary on the train split's `fit_rows` only (the training part: never the validation
    or test reviews), or take `tokenizer` as it is (a checkpoint's), encode every split, and cache both
    (atomically)."""

    def build(tmp: Path) -> dict:
        start = time.perf_counter()
        texts = raw["train"]["text"]
        tok = tokenizer or fit_tokenizer([texts[i] for i in fit_rows], num_words)
        fit_s = time.perf_counter() - start
        out, n = {}, 0
        start = time.perf_counter()
        for name, split in raw.items():
            ids = encode(tok, split["text"])
            n += len(ids)
            table = pa.table(
                {
                    "input_ids": pa.array(ids, type=pa.list_(pa.int32())),
                    "label": pa.array(split["label"], type=pa.int64()),
                }
            )
            out[name] = Dataset(InMemoryTable(table))
        enc_s = time.perf_counter() - start
        log.info("Vocabulary fitted in %.2f s; %d reviews tokenized in %.2f s", fit_s, n, enc_s)
        DatasetDict(out).save_to_disk(str(tmp / "ids"))
        tok.save(str(tmp / "tokenizer.json"))
        return {"timing": {"fit_s": fit_s, "encode_s": enc_s, "reviews": n}}

    def load(f: Path) -> tuple[Tokenizer, DatasetDict]:
        return Tokenizer.from_file(str(f / "tokenizer.json")), load_from_disk(str(f / "ids"))

    meta = {"num_words": num_words, "fit_rows": None if fit_rows is None else len(fit_rows)}
    return load_or_build(folder, load, build, meta=meta, what="token cache")
