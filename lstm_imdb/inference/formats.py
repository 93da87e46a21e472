"""`predict`'s inputs and outputs: `text=` arguments taken off the command line, `.txt` / `.jsonl` / `.csv`
readers (a bad row becomes an `error` row, the others go on), standard input sniffed as txt or jsonl, and
JSON-lines / CSV writers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

FORMATS = ("txt", "jsonl", "csv")


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


def sniff(stream) -> tuple[str, Iterable[bytes]]:
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


def is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return True


def output_file(input_path: str | None, output_path: str | None) -> Path | None:
    """Where predictions go: None (standard output) unless `output_path` names a .jsonl or .csv file other
    than the input; an input file that is not there fails here too, before any work."""
    if input_path not in (None, "-") and not Path(input_path).is_file():
        raise FileNotFoundError(f"input_path={input_path!r}: no such file")
    if output_path in (None, "-"):
        return None
    out = Path(output_path)
    if input_path not in (None, "-") and out.resolve() == Path(input_path).resolve():
        raise ValueError(f"output_path={output_path!r} is the input file: name another file")
    if out.suffix.lower() not in (".jsonl", ".csv"):
        raise ValueError(
            f"output_path={output_path!r}: must end in .jsonl or .csv (or be - for standard output)"
        )
    return out
