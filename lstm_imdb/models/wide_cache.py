"""The wide part's NBSVM fits, cached on disk under the data folder (`<data_dir>/wide_fits/`) by what they
are fitted on: the training rows' features and labels (and the validation rows' with
`refit_with_validation`) and the fit's settings.

Why: the fit does not depend on `seed`, so the members of `experiment=best`, the trials of a sweep, a
resumed fit and the ranks of a DDP run would otherwise each refit the same NBSVM (its folds, its refit) in
minutes of CPU. The fit is deterministic (liblinear, seeded), so a cached fit is the fit, bit for bit. The
entry is keyed by a hash of the data itself, not by names, so a change of split, tokenization, n-gram
settings or scikit-learn version is a new entry; a partial or corrupt entry is rebuilt (data/cache.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import sklearn
from scipy import sparse

from lstm_imdb.data.cache import load_or_build
from lstm_imdb.models.wide import WideFit, fit_wide

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when what `fit_wide` computes changes
FIT_KEYS = ("C", "beta", "nb_alpha", "min_df", "max_features", "folds", "seed", "max_iter")
FIT_FILE = "fit.npz"


def fit_key(X: sparse.csr_matrix, y: np.ndarray, s: dict, extra=None) -> str:
    """A hash of everything the fit reads: the matrices, the labels and the settings that change it."""
    h = hashlib.sha256()
    for matrix, labels in ((X, y), extra or (None, None)):
        if matrix is None:
            continue
        h.update(np.asarray(matrix.shape, dtype=np.int64).tobytes())
        for part in (matrix.indptr, matrix.indices, matrix.data):
            h.update(np.ascontiguousarray(part).tobytes())
        h.update(np.asarray(labels, dtype=np.int64).tobytes())
    settings = {k: s[k] for k in FIT_KEYS} | {"version": CACHE_VERSION, "sklearn": sklearn.__version__}
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()


def _sparse_vector(weight: np.ndarray) -> dict[str, np.ndarray]:
    rows = np.flatnonzero(weight).astype(np.int64)
    return {"rows": rows, "values": weight[rows]}


def _dense(rows: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    weight = np.zeros(size, dtype=values.dtype)
    weight[rows] = values
    return weight


def save_fit(folder: Path, fitted: WideFit, buckets: int) -> dict:
    arrays = {f"weight_{k}": v for k, v in _sparse_vector(fitted.weight).items()}
    arrays["bias"] = np.float64(fitted.bias)
    arrays["out_of_fold"] = fitted.out_of_fold
    if fitted.refit is not None:
        arrays.update({f"refit_{k}": v for k, v in _sparse_vector(fitted.refit[0]).items()})
        arrays["refit_bias"] = np.float64(fitted.refit[1])
    np.savez(folder / FIT_FILE, **arrays)
    return {"buckets": buckets, "fit_s": round(fitted.seconds, 1), "refit": fitted.refit is not None}


def load_fit(folder: Path, buckets: int) -> WideFit:
    with np.load(folder / FIT_FILE) as f:
        refit = None
        if "refit_rows" in f:
            refit = (_dense(f["refit_rows"], f["refit_values"], buckets), float(f["refit_bias"]))
        weight = _dense(f["weight_rows"], f["weight_values"], buckets)
        return WideFit(weight, float(f["bias"]), f["out_of_fold"], 0.0, refit)


def cached_fit_wide(
    X: sparse.csr_matrix,
    y: np.ndarray,
    s: dict,
    extra: tuple[sparse.csr_matrix, np.ndarray] | None,
    data_dir: Path | str | None,
) -> tuple[WideFit, bool]:
    """`fit_wide(X, y, s, extra)`, from `<data_dir>/wide_fits/` when an earlier run made the same fit
    (without a data_dir: fitted here). Returns the fit, and whether it came from the cache; its
    `seconds` are those this call took."""
    if data_dir is None:
        return fit_wide(X, y, s, extra), False
    start = time.perf_counter()
    folder = Path(data_dir) / "wide_fits" / f"nbsvm-{fit_key(X, y, s, extra)[:24]}"
    fitted_here = []

    def build(tmp: Path) -> dict:
        fitted_here.append(True)
        return save_fit(tmp, fit_wide(X, y, s, extra), X.shape[1])

    fitted = load_or_build(folder, lambda f: load_fit(f, X.shape[1]), build, what="wide part's NBSVM fit")
    fitted.seconds = time.perf_counter() - start
    if not fitted_here:
        log.info(
            "Wide part: NBSVM fit read in %.1f s from %s (the same data and settings)", fitted.seconds, folder
        )
    return fitted, not fitted_here
