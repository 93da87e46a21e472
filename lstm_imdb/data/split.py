"""The validation split, computed in one place for the LSTMs, the vocabulary and the baseline."""

from __future__ import annotations

import numpy as np


def validation_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) of a train split of `n` reviews, each sorted: a seeded random
    `val_fraction` of the rows (at least one) is held out for validation."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * val_fraction))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def rows_seen_in(texts, reference) -> np.ndarray:
    """Boolean mask of the `texts` that occur word for word among the `reference` texts."""
    seen = set(reference)
    return np.fromiter((t in seen for t in texts), dtype=bool, count=len(texts))
