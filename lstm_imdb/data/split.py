"""The validation split, computed in one place for the LSTMs, the vocabulary and the baseline."""

from __future__ import annotations

import numpy as np


def validation_split(n: int, val_fraction: float, seed: int, fold: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) of a train split of `n` reviews, each sorted: a seeded random
    `val_fraction` of the rows (at least one) is held out for validation.

    `fold` k holds out the k-th such block of the same permutation, so folds 0, 1, ... of one seed are
    disjoint: `val_fraction=0.3333` with folds 0, 1, 2 is 3-fold cross-validation. Fold 0 is the split
    every run used before folds existed."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * val_fraction))
    start = fold * n_val
    if fold < 0 or start + n_val > n:
        raise ValueError(
            f"data.val_fold={fold}: with data.val_fraction={val_fraction:g}, {n} reviews hold folds "
            f"0 to {n // n_val - 1} of {n_val} reviews each"
        )
    held = perm[start : start + n_val]
    return np.sort(np.concatenate([perm[:start], perm[start + n_val :]])), np.sort(held)


def rows_seen_in(texts, reference) -> np.ndarray:
    """Boolean mask of the `texts` that occur word for word among the `reference` texts."""
    seen = set(reference)
    return np.fromiter((t in seen for t in texts), dtype=bool, count=len(texts))
