"""The validation split, computed in one place for the LSTMs, the vocabulary and the baseline."""

from __future__ import annotations

import numpy as np

from lstm_imdb.utils.errors import ConfigError


def fold_count(val_fraction: float) -> int:
    """How many validation folds one draw holds: 1 / val_fraction, to the nearest whole number."""
    return max(1, round(1 / val_fraction))


def fold_problem(val_fraction: float, fold: int) -> str | None:
    """What is wrong with `fold` as a validation fold for `val_fraction` (None: nothing)."""
    if 0 <= fold < fold_count(val_fraction):
        return None
    return (
        f"data.val_fold={fold}: with data.val_fraction={val_fraction:g} the folds are 0 to "
        f"{fold_count(val_fraction) - 1}"
    )


def validation_split(n: int, val_fraction: float, seed: int, fold: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) of a train split of `n` reviews, each sorted: a seeded random
    `val_fraction` of the rows (at least one) is held out for validation.

    `fold` k holds out the k-th such block of the same permutation (the last one cut at the end of the
    split), so folds 0 to `fold_count - 1` of one seed are disjoint: `val_fraction=0.3333` with folds 0, 1, 2
    is 3-fold cross-validation. Fold 0 is the split every run used before folds existed."""
    problem = fold_problem(val_fraction, fold)
    if problem:
        raise ConfigError(problem)
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * val_fraction))
    held = np.zeros(n, dtype=bool)
    held[perm[fold * n_val : (fold + 1) * n_val]] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def rows_seen_in(texts, reference) -> np.ndarray:
    """Boolean mask of the `texts` that occur word for word among the `reference` texts."""
    seen = set(reference)
    return np.fromiter((t in seen for t in texts), dtype=bool, count=len(texts))
