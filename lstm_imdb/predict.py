"""Sentiment of new reviews from a checkpoint alone.

    python -m lstm_imdb.predict ckpt_path=PATH text="A wonderful, moving film."
    python -m lstm_imdb.predict ckpt_path=PATH input_path=reviews.txt output_path=out.jsonl

An input file is one review a line (`.txt`) or JSON lines with a `text` field (`.jsonl`). Each review
gives one JSON line: `text`, `prob_positive`, `label`; a line that cannot be read or is empty gives an
`error` instead, and the others are still written.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig
from tqdm.auto import tqdm

from lstm_imdb.checkpoint import CheckpointError, LoadedCheckpoint, load_checkpoint
from lstm_imdb.data.batching import PadCollate
from lstm_imdb.data.tokenizer import encode
from lstm_imdb.decision import LABELS, predicted_labels
from lstm_imdb.paths import CONFIG_DIR

log = logging.getLogger(__name__)


class Predictor:
    """Tokenizes, batches (sorted by length, for little padding) and scores reviews."""

    def __init__(self, loaded: LoadedCheckpoint, batch_size: int = 512, max_chars: int = 200_000):
        self.model = loaded.model.eval()
        self.tokenizer = loaded.tokenizer
        hp = loaded.data_hparams
        self.collate = PadCollate(
            hp["sequence_length"], hp["padding_side"], hp["truncation_side"], pad_to_longest=True
        )
        self.batch_size = batch_size
        # Only the last `sequence_length` tokens count; cutting huge texts first keeps tokenizing cheap.
        self.max_chars = max_chars

    def _clip(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return text[-self.max_chars :] if self.collate.truncation_side == "left" else text[: self.max_chars]

    @torch.inference_mode()
    def predict_proba(self, texts: list[str], progress: bool = False) -> np.ndarray:
        ids = encode(self.tokenizer, [self._clip(t) for t in texts])
        order = np.argsort([-min(len(i), self.collate.sequence_length) for i in ids], kind="stable")
        probs = np.empty(len(texts), dtype=np.float32)
        starts = range(0, len(order), self.batch_size)
        for s in tqdm(starts, desc="predicting", unit="batch", disable=not progress):
            idx = order[s : s + self.batch_size]
            batch = self.collate([(np.asarray(ids[i], dtype=np.int64), 0) for i in idx])
            probs[idx] = torch.sigmoid(self.model(batch["input_ids"]).float()).numpy()
        return probs


def read_reviews(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text or None, error or None) for each line of a .txt or .jsonl file."""
    is_jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                yield n, None, f"line {n} is not UTF-8 ({err.reason} at byte {err.start})"
                continue
            if is_jsonl:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    text = record["text"] if isinstance(record, dict) else None
                except json.JSONDecodeError as err:
                    yield n, None, f"line {n} is not JSON ({err.msg})"
                    continue
                if not isinstance(text, str):
                    yield n, None, f'line {n} has no "text" string field'
                    continue
                yield n, text, None
            else:
                yield n, line, None


def has_words(predictor: Predictor, text: str) -> bool:
    return bool(predictor.tokenizer.encode(text[:10_000]).ids)


def predict_texts(
    predictor: Predictor, rows: list[tuple[int, str | None, str | None]], progress: bool
) -> list[dict]:
    """One result per row: a prediction, or an error for unreadable/empty rows."""
    results: list[dict] = []
    good = []
    for n, text, error in rows:
        if error is None and not has_words(predictor, text):
            error = "empty review (no words after removing markup and punctuation)"
        results.append({"line": n, "text": text, "error": error} if error else {"line": n, "text": text})
        if not error:
            good.append(len(results) - 1)
    probs = predictor.predict_proba([results[i]["text"] for i in good], progress=progress)
    for i, p, y in zip(good, probs, predicted_labels(probs), strict=True):
        results[i].update(prob_positive=round(float(p), 6), label=LABELS[y])
    return results


def run(cfg: DictConfig) -> list[dict]:
    if (cfg.text is None) == (cfg.input_path is None):
        raise ValueError('Give exactly one of text="a review" or input_path=FILE')
    predictor = Predictor(load_checkpoint(cfg.ckpt_path), batch_size=cfg.batch_size)
    if cfg.text is not None:
        [result] = predict_texts(predictor, [(1, str(cfg.text), None)], progress=False)
        if "error" in result:
            raise ValueError(f"Nothing to predict: {result['error']}")
        print(json.dumps({k: v for k, v in result.items() if k != "line"}, ensure_ascii=False))
        return [result]
    path = Path(cfg.input_path)
    if not path.is_file():
        raise FileNotFoundError(f"input_path={str(path)!r}: no such file")
    results = predict_texts(predictor, list(read_reviews(path)), progress=True)
    out = Path(cfg.output_path) if cfg.output_path else path.with_suffix(".predictions.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    errors = [r for r in results if "error" in r]
    log.info(
        "Wrote %d predictions to %s (%d lines with errors)", len(results) - len(errors), out, len(errors)
    )
    for r in errors[:10]:
        log.warning("%s", r["error"])
    return results


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="predict")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except (CheckpointError, ValueError, FileNotFoundError) as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    main()
