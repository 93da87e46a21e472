"""Sentiment of new reviews from a checkpoint (or an ensemble of checkpoints) alone.

    python -m lstm_imdb.predict ckpt_path=PATH text="A wonderful, moving film. I didn't expect it!"
    python -m lstm_imdb.predict ckpt_path=PATH text="first review" text="second review"
    cat reviews.txt | python -m lstm_imdb.predict ckpt_path=PATH > predictions.jsonl
    python -m lstm_imdb.predict ckpt_path=PATH input_path=reviews.jsonl output_path=out.csv
    python -m lstm_imdb.predict 'ckpt_path=[a.ckpt,b.ckpt]' input_path=reviews.txt   # an ensemble (any data settings)
    python -m lstm_imdb.predict ckpt_path=logs/train/multiruns/<sweep> input_path=...  # its best.ckpt's

`text=` takes any characters (commas, quotes, apostrophes, `=`, brackets, newlines, non-ASCII): it is taken
off the command line before Hydra parses it. Inputs: `.txt` (one review a line), `.jsonl` (a `text`
field, and an `id` kept in the output), `.csv` (a `text` column, and an `id` column kept), or standard
input (`input_path=-`, or piped in with no `text=`; JSON lines if its first line is a JSON object, else one
review a line). Files and standard input are read, scored and written in chunks (`chunk_size` reviews), so
memory does not grow with the input; output rows follow input order. Outputs, as Unix tools do: JSON lines
on standard output, unless `output_path` names a `.jsonl` or `.csv` file (`output_path=-` is standard
output); logs go to standard error. A row that cannot be read or holds no words gets an `error` field
instead of a prediction, and the others go on; an input with no rows at all is an error (exit 2).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from omegaconf import DictConfig

from lstm_imdb.cli import entry
from lstm_imdb.inference.checkpoint import load_model
from lstm_imdb.inference.ensemble_blend import apply_ensemble_weights
from lstm_imdb.inference.formats import (
    FORMATS,
    is_tty,
    output_file,
    read_reviews,
    sniff,
    take_text_arguments,
)
from lstm_imdb.inference.predictor import Predictor, score, write_predictions

log = logging.getLogger(__name__)


def load_predictor(cfg: DictConfig) -> Predictor:
    loaded, paths = load_model(cfg.ckpt_path)
    if apply_ensemble_weights(cfg.get("ensemble_weights"), loaded, paths) is None and len(paths) > 1:
        log.info("Ensemble of %d checkpoints (mean probability)", len(paths))
    return Predictor(loaded, batch_size=cfg.batch_size)


def run(cfg: DictConfig, texts: list[str] | None = None, stdin=None) -> int:
    """Predict; returns how many rows were written."""
    texts = list(texts or []) + ([str(cfg.text)] if cfg.text is not None else [])
    stdin = stdin if stdin is not None else sys.stdin.buffer
    use_stdin = cfg.input_path == "-" or (not texts and cfg.input_path is None and not is_tty(stdin))
    if texts and cfg.input_path is not None:
        raise ValueError('Give either text="a review" (any number of them) or input_path=FILE, not both')
    if not texts and cfg.input_path is None and not use_stdin:
        raise ValueError('Nothing to predict: give text="a review", input_path=FILE, or pipe reviews in')
    if cfg.chunk_size < 1:
        raise ValueError(f"chunk_size={cfg.chunk_size!r}: must be >= 1")
    if cfg.input_format not in ("auto", *FORMATS):
        raise ValueError(f"input_format={cfg.input_format!r}: must be auto, {', '.join(FORMATS)}")
    # a bad input or output path fails before the checkpoint loads
    out = output_file(cfg.input_path, cfg.output_path)
    predictor = load_predictor(cfg)
    if texts and out is not None:
        rows = iter([{"line": i + 1, "text": t} for i, t in enumerate(texts)])
        return write_predictions(predictor, rows, out, cfg.chunk_size, "the command line")
    if texts:
        rows = score(predictor, [{"line": i + 1, "text": t} for i, t in enumerate(texts)])
        bad = [r for r in rows if "error" in r]
        if len(rows) == 1 and bad:
            raise ValueError(f"Nothing to predict: {bad[0]['error']}")
        for r in rows:
            print(json.dumps({k: v for k, v in r.items() if k != "line"}, ensure_ascii=False), flush=True)
        return len(rows)
    if use_stdin:
        fmt, source = (cfg.input_format, stdin) if cfg.input_format != "auto" else sniff(stdin)
        return write_predictions(predictor, read_reviews(source, fmt), out, cfg.chunk_size, "standard input")
    path = Path(cfg.input_path)
    fmt = cfg.input_format
    if fmt == "auto":
        suffix = path.suffix.lower().lstrip(".")
        fmt = "jsonl" if suffix in ("jsonl", "ndjson") else "csv" if suffix == "csv" else "txt"
    with open(path, "rb") as f:
        return write_predictions(predictor, read_reviews(f, fmt), out, cfg.chunk_size, str(path))


def main() -> None:
    # `text=` values may hold any character: taken off the command line before Hydra parses it
    texts, sys.argv[1:] = take_text_arguments(sys.argv[1:])
    entry("predict", usage_errors=(ValueError, FileNotFoundError))(lambda cfg: run(cfg, texts=texts))()


if __name__ == "__main__":
    main()
