"""Scoring reviews with a loaded checkpoint: tokenize, batch by length, and stream rows through in chunks."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from lstm_imdb.data.batching import PadCollate, length_sorted_batches, wide_batch
from lstm_imdb.data.tokenizer import encode
from lstm_imdb.data.wide import row_features, wide_features
from lstm_imdb.inference.checkpoint import LoadedCheckpoint
from lstm_imdb.inference.formats import CsvWriter, JsonlWriter
from lstm_imdb.utils.decision import LABELS, predicted_labels

log = logging.getLogger(__name__)


class Reader:
    """One way of reading reviews, as a checkpoint's data settings say: its vocabulary, length, truncation
    side and n-gram settings. Yields the model's batches of inputs, sorted by length for little padding."""

    def __init__(self, data_hparams: dict, tokenizer, max_chars: int):
        hp = data_hparams
        self.tokenizer = tokenizer
        self.collate = PadCollate(
            hp["sequence_length"], hp["padding_side"], hp["truncation_side"], pad_to_longest=True
        )
        self.wide = hp.get("wide")  # the wide part's n-gram settings, when the model has one
        # Only the last `sequence_length` tokens count; cutting huge texts first keeps tokenizing cheap.
        self.max_chars = max_chars

    def clip(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return text[-self.max_chars :] if self.collate.truncation_side == "left" else text[: self.max_chars]

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text (an empty list: no words after markup and punctuation are removed)."""
        return encode(self.tokenizer, [self.clip(t) for t in texts])

    def batches(self, ids: list[list[int]], texts: list[str] | None, batch_size: int):
        """(review positions, the model's inputs for them), longest reviews first."""
        wide = wide_features([self.clip(t) for t in texts], self.wide) if self.wide is not None else None
        lengths = [min(len(i), self.collate.sequence_length) for i in ids]
        for idx in length_sorted_batches(lengths, batch_size):
            batch = self.collate([(np.asarray(ids[i], dtype=np.int64), 0) for i in idx])
            extra = {} if wide is None else wide_batch([row_features(wide, i) for i in idx])
            yield idx, {"input_ids": batch["input_ids"], **extra}


class Predictor:
    """Tokenizes, batches (sorted by length, for little padding) and scores reviews. A review's score does
    not depend on the others in its batch (the encoder's recurrence is padding-free). An ensemble whose
    members read reviews differently reads each review once per way (`Reader`), each member its own."""

    def __init__(self, loaded: LoadedCheckpoint, batch_size: int = 512, max_chars: int = 200_000):
        self.model = loaded.model.eval()
        views = loaded.views or [(loaded.data_hparams, loaded.tokenizer)]
        self.readers = [Reader(hp, tokenizer, max_chars) for hp, tokenizer in views]
        first = self.readers[0]
        self.tokenizer, self.collate, self.wide = first.tokenizer, first.collate, first.wide
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, as the first member reads it (an empty list: no words)."""
        return self.readers[0].encode(texts)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.predict_ids(self.encode(texts), texts)

    @torch.inference_mode()
    def predict_ids(self, ids: list[list[int]], texts: list[str] | None = None) -> np.ndarray:
        """P(positive) of each review's token ids (`encode`'s); a model with a wide part, or an ensemble of
        several readers, also needs the texts (n-grams come from the whole text)."""
        if (self.wide is not None or len(self.readers) > 1) and texts is None:
            raise ValueError(
                "this model reads the whole text (a wide part, or members with other vocabularies): "
                "predict_ids needs the texts as well as their ids"
            )
        if not ids:  # e.g. every review of a chunk empty: nothing to score (the vectorizer needs a text)
            return np.empty(0, dtype=np.float32)
        if len(self.readers) > 1:
            return self._predict_views(ids, texts)
        probs = np.empty(len(ids), dtype=np.float32)
        for idx, inputs in self.readers[0].batches(ids, texts, self.batch_size):
            probs[idx] = torch.sigmoid(self.model(**inputs).float()).numpy()
        return probs

    def _predict_views(self, ids: list[list[int]], texts: list[str]) -> np.ndarray:
        """Each view's members on the reviews as that view reads them, then the ensemble's blend."""
        net = self.model.net
        logits = np.empty((len(net.member_views), len(ids)), dtype=np.float32)
        for view, reader in enumerate(self.readers):
            members = [m for m, v in enumerate(net.member_views) if v == view]
            view_ids = ids if view == 0 else reader.encode(texts)
            for idx, inputs in reader.batches(view_ids, texts, self.batch_size):
                logits[np.ix_(members, idx)] = net.view_logits(view, **inputs).numpy()
        return torch.sigmoid(net.combine(torch.from_numpy(logits))).numpy()


def score(predictor: Predictor, rows: list[dict]) -> list[dict]:
    """Adds prob_positive and label to the rows that hold words, an error to those that do not."""
    readable = [i for i, row in enumerate(rows) if "error" not in row]
    encoded = predictor.encode([rows[i]["text"] for i in readable])  # once, for the whole chunk
    good, ids = [], []
    for i, row_ids in zip(readable, encoded, strict=True):
        if row_ids:
            good.append(i)
            ids.append(row_ids)
        else:
            rows[i]["error"] = "empty review (no words after removing markup and punctuation)"
    probs = predictor.predict_ids(ids, [rows[i]["text"] for i in good])
    for i, p, y in zip(good, probs, predicted_labels(probs), strict=True):
        rows[i].update(prob_positive=round(float(p), 6), label=LABELS[y])
    return rows


def stream_predictions(predictor: Predictor, rows: Iterator[dict], writer, chunk_size: int, progress: bool):
    """Read, score and write `chunk_size` rows at a time; returns (rows written, rows with an error)."""
    written = errors = 0
    bar = tqdm(desc="predicting", unit=" reviews", disable=not progress, file=sys.stderr)
    while chunk := list(islice(rows, chunk_size)):
        for row in score(predictor, chunk):
            writer.write(row)
            if "error" in row:
                errors += 1
                if errors <= 10:  # the first few; the count is logged at the end
                    log.warning("%s", row["error"])
        written += len(chunk)
        bar.update(len(chunk))
    bar.close()
    return written, errors


def write_predictions(
    predictor: Predictor, rows: Iterator[dict], out: Path | None, chunk_size: int, source: str
) -> int:
    """Score `rows` (read from `source`) into `out` (.csv or .jsonl), or as JSON lines onto standard output
    when `out` is None; returns how many rows were written. An input without a single row is an error, found
    before any file is written."""
    first = next(rows, None)
    if first is None:
        raise ValueError(
            f"Nothing to predict: {source} held no reviews (give one review a line, JSON lines with a "
            '"text" field, or a CSV file with a "text" column)'
        )
    rows = chain([first], rows)
    if out is None:
        written, errors = stream_predictions(
            predictor, rows, JsonlWriter(sys.stdout), chunk_size, progress=False
        )
        sys.stdout.flush()
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8", newline="") as f:
            writer = CsvWriter(f) if out.suffix.lower() == ".csv" else JsonlWriter(f)
            written, errors = stream_predictions(predictor, rows, writer, chunk_size, progress=True)
    log.info(
        "Scored %d reviews from %s: predictions %s (%d rows with an error)",
        written,
        source,
        f"in {out}" if out is not None else "on standard output",
        errors,
    )
    return written
