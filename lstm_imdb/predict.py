"""Sentiment of new reviews from a checkpoint (or an ensemble of checkpoints) alone.

    python -m lstm_imdb.predict ckpt_path=PATH text="A wonderful, moving film. I didn't expect it!"
    python -m lstm_imdb.predict ckpt_path=PATH text="first review" text="second review"
    cat reviews.txt | python -m lstm_imdb.predict ckpt_path=PATH > predictions.jsonl
    python -m lstm_imdb.predict ckpt_path=PATH input_path=reviews.jsonl output_path=out.csv
    python -m lstm_imdb.predict 'ckpt_path=[a.ckpt,b.ckpt]' input_path=reviews.txt   # an ensemble
    python -m lstm_imdb.predict ckpt_path=logs/train/multiruns/<sweep> input_path=...  # its best.ckpt's

`text=` takes any characters (commas, quotes, apostrophes, `=`, brackets, newlines, non-ASCII): it is taken
off the command line before Hydra parses it. Inputs: `.txt` (one review a line), `.jsonl` (a `text`
field, and an `id` kept in the output), `.csv` (a `text` column, and an `id` column kept), or standard
input (`input_path=-`, or piped in with no `text=`; JSON lines if its first line is a JSON object, else one
review a line). Files and standard input are read, scored and written in chunks (`chunk_size` reviews), so
memory does not grow with the input; output rows follow input order. Outputs: `.jsonl` or `.csv`, by the
suffix of `output_path` (default: `<input>.predictions.jsonl`; standard input: JSON lines on standard
output; logs go to standard error). A row that cannot be read or holds no words gets an `error` field
instead of a prediction, and the others go on.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from lstm_imdb.checkpoint import CheckpointError, LoadedCheckpoint, load_checkpoint, load_ensemble
from lstm_imdb.data.batching import PadCollate, length_sorted_batches
from lstm_imdb.data.tokenizer import encode
from lstm_imdb.decision import LABELS, predicted_labels
from lstm_imdb.paths import CONFIG_DIR

log = logging.getLogger(__name__)

FORMATS = ("txt", "jsonl", "csv")
# `text=` arguments taken off the command line before Hydra parses it (see `take_text_arguments`)
_COMMAND_LINE_TEXTS: list[str] = []


class Predictor:
    """Tokenizes, batches (sorted by length, for little padding) and scores reviews. A review's score does
    not depend on the others in its batch (the encoder's recurrence is padding-free)."""

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

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text (an empty list: no words after markup and punctuation are removed)."""
        return encode(self.tokenizer, [self._clip(t) for t in texts])

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.predict_ids(self.encode(texts))

    @torch.inference_mode()
    def predict_ids(self, ids: list[list[int]]) -> np.ndarray:
        lengths = [min(len(i), self.collate.sequence_length) for i in ids]
        probs = np.empty(len(ids), dtype=np.float32)
        for idx in length_sorted_batches(lengths, self.batch_size):
            batch = self.collate([(np.asarray(ids[i], dtype=np.int64), 0) for i in idx])
            probs[idx] = torch.sigmoid(self.model(batch["input_ids"]).float()).numpy()
        return probs


# ---------------------------------------------------------------------------------------- reading
def take_text_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the `text=` values, the other arguments). A value wrapped in one pair of matching quotes, as
    Hydra's own grammar writes it (`text='...'`), is unwrapped, with `\\'` read as `'`."""
    texts, rest = [], []
    for arg in argv:
        if not arg.startswith("text="):
            rest.append(arg)
            continue
        value = arg[len("text=") :]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1].replace("\\" + value[0], value[0])
        texts.append(value)
    return texts, rest


def _record(n: int, obj, field: str = "text") -> dict:
    if not isinstance(obj, dict):
        return {"line": n, "error": f"line {n} is not a JSON object"}
    row = {"line": n}
    if "id" in obj:
        row["id"] = obj["id"]
    text = obj.get(field)
    if not isinstance(text, str):
        return {**row, "error": f'line {n} has no "{field}" string field'}
    return {**row, "text": text}


def read_lines(stream: Iterable[bytes], fmt: str) -> Iterator[dict]:
    """Rows of a binary stream of `txt` or `jsonl` lines: {line, text} or {line, error} (and `id`)."""
    for n, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as err:
            yield {"line": n, "error": f"line {n} is not UTF-8 ({err.reason} at byte {err.start})"}
            continue
        if fmt == "txt":
            yield {"line": n, "text": line}
            continue
        if not line.strip():
            continue
        try:
            yield _record(n, json.loads(line))
        except json.JSONDecodeError as err:
            yield {"line": n, "error": f"line {n} is not JSON ({err.msg})"}


def read_csv(stream: Iterable[bytes]) -> Iterator[dict]:
    """Rows of a CSV file with a `text` column (and an optional `id`); `line` is the record number."""
    text_stream = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    reader = csv.DictReader(text_stream)
    if reader.fieldnames is None or "text" not in reader.fieldnames:
        raise ValueError(f"the CSV input needs a 'text' column; its columns are {reader.fieldnames}")
    for n, record in enumerate(reader, start=1):
        yield _record(n, record)


def _sniff(stream) -> tuple[str, Iterable[bytes]]:
    """txt or jsonl for standard input: jsonl when its first non-empty line is a JSON object."""
    head = []
    for raw in stream:
        head.append(raw)
        if raw.strip():
            break
    fmt = "txt"
    if head:
        try:
            fmt = "jsonl" if isinstance(json.loads(head[-1]), dict) else "txt"
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    return fmt, chain(head, stream)


def read_reviews(stream, fmt: str) -> Iterator[dict]:
    if fmt == "csv":
        return read_csv(stream)
    return read_lines(stream, fmt)


# ---------------------------------------------------------------------------------------- writing
class JsonlWriter:
    def __init__(self, f):
        self.f = f

    def write(self, row: dict) -> None:
        self.f.write(json.dumps(row, ensure_ascii=False) + "\n")


class CsvWriter:
    FIELDS = ("line", "id", "text", "prob_positive", "label", "error")

    def __init__(self, f):
        self.writer = csv.DictWriter(f, fieldnames=self.FIELDS, extrasaction="ignore")
        self.writer.writeheader()

    def write(self, row: dict) -> None:
        self.writer.writerow(row)


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
    probs = predictor.predict_ids(ids)
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


# ---------------------------------------------------------------------------------------- entry
def checkpoint_paths(ckpt_path) -> list[Path]:
    """A checkpoint, a list of them, or a folder (a sweep or a run): every `checkpoints/best.ckpt` in it."""
    paths = [Path(p) for p in (list(ckpt_path) if OmegaConf.is_list(ckpt_path) else [ckpt_path])]
    found = []
    for p in paths:
        if p.is_dir():
            inside = sorted(p.glob("**/checkpoints/best.ckpt"))
            if not inside:
                raise CheckpointError(f"ckpt_path={str(p)!r}: a folder with no checkpoints/best.ckpt in it")
            found.extend(inside)
        else:
            found.append(p)
    return found


def load_predictor(cfg: DictConfig) -> Predictor:
    paths = checkpoint_paths(cfg.ckpt_path)
    loaded = load_ensemble(paths) if len(paths) > 1 else load_checkpoint(paths[0])
    if len(paths) > 1:
        log.info("Ensemble of %d checkpoints (mean probability)", len(paths))
    return Predictor(loaded, batch_size=cfg.batch_size)


def run(cfg: DictConfig, texts: list[str] | None = None, stdin=None) -> int:
    """Predict; returns how many rows were written."""
    texts = list(texts or []) + ([str(cfg.text)] if cfg.text is not None else [])
    stdin = stdin if stdin is not None else sys.stdin.buffer
    use_stdin = cfg.input_path == "-" or (not texts and cfg.input_path is None and not _is_tty(stdin))
    if texts and cfg.input_path is not None:
        raise ValueError('Give either text="a review" (any number of them) or input_path=FILE, not both')
    if not texts and cfg.input_path is None and not use_stdin:
        raise ValueError('Nothing to predict: give text="a review", input_path=FILE, or pipe reviews in')
    if cfg.chunk_size < 1:
        raise ValueError(f"chunk_size={cfg.chunk_size!r}: must be >= 1")
    if cfg.input_format not in ("auto", *FORMATS):
        raise ValueError(f"input_format={cfg.input_format!r}: must be auto, {', '.join(FORMATS)}")
    predictor = load_predictor(cfg)
    if texts:
        rows = score(predictor, [{"line": i + 1, "text": t} for i, t in enumerate(texts)])
        bad = [r for r in rows if "error" in r]
        if len(rows) == 1 and bad:
            raise ValueError(f"Nothing to predict: {bad[0]['error']}")
        for r in rows:
            print(json.dumps({k: v for k, v in r.items() if k != "line"}, ensure_ascii=False), flush=True)
        return len(rows)

    out = Path(cfg.output_path) if cfg.output_path else None
    if use_stdin:
        fmt, source = (cfg.input_format, stdin) if cfg.input_format != "auto" else _sniff(stdin)
        rows = read_reviews(source, fmt)
        return _write(predictor, rows, out, cfg, default_stdout=True)
    path = Path(cfg.input_path)
    if not path.is_file():
        raise FileNotFoundError(f"input_path={str(path)!r}: no such file")
    fmt = cfg.input_format
    if fmt == "auto":
        suffix = path.suffix.lower().lstrip(".")
        fmt = "jsonl" if suffix in ("jsonl", "ndjson") else "csv" if suffix == "csv" else "txt"
    out = out or path.with_suffix(".predictions.jsonl")
    with open(path, "rb") as f:
        return _write(predictor, read_reviews(f, fmt), out, cfg, default_stdout=False)


def _write(predictor: Predictor, rows: Iterator[dict], out: Path | None, cfg, default_stdout: bool) -> int:
    if out is None and default_stdout:
        writer = JsonlWriter(sys.stdout)
        written, errors = stream_predictions(predictor, rows, writer, cfg.chunk_size, progress=False)
        sys.stdout.flush()
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8", newline="") as f:
            writer = CsvWriter(f) if out.suffix.lower() == ".csv" else JsonlWriter(f)
            written, errors = stream_predictions(predictor, rows, writer, cfg.chunk_size, progress=True)
    log.info("Wrote %d rows to %s (%d with errors)", written, out or "standard output", errors)
    return written


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return True


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="predict")
def _hydra_main(cfg: DictConfig) -> None:
    try:
        run(cfg, texts=_COMMAND_LINE_TEXTS)
    except (CheckpointError, ValueError, FileNotFoundError) as err:
        log.error("%s", err)
        sys.exit(2)


def main() -> None:
    texts, sys.argv[1:] = take_text_arguments(sys.argv[1:])
    _COMMAND_LINE_TEXTS[:] = texts
    _hydra_main()


if __name__ == "__main__":
    main()
