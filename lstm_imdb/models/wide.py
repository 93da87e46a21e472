"""The wide part of a wide-and-deep classifier: NBSVM over the review's full-text n-grams (`data.wide`), as a
linear layer whose logit is added to the recurrence's.

Staged training (`model.wide_fit`): when a fit starts, NBSVM is fitted on the training part with
scikit-learn (NB log-count ratios, logistic regression, Wang & Manning's interpolation; the same code as
`baseline=nbsvm`), and its weights (ratio times coefficient) are loaded into the layer, which then stays
fixed. The recurrence is trained on top. A classifier fitted on the training reviews is nearly always
right on them, so on its own training rows its logit would leave the recurrence nothing to learn. While
training, each training review therefore gets the wide logit of an NBSVM fitted on the *other* folds
(cross-fitting, `folds`): the recurrence learns to correct the errors NBSVM makes on reviews it has not
seen, which are the errors it makes on validation and test, where the layer's full fit is used.
With `refit_with_validation` the layer's main fit also sees the validation reviews (test and prediction
read it), and a second fit without them (`WideLinear.held_out`) scores validation, where v7's single fit
did: training, validation and the blend stay the same, only the test reads a fit on more reviews.
How much each part counts (`blend_on_validation`): after each validation pass of a fit, a logistic
regression of the labels on the two parts' logits over the validation reviews (three numbers: the wide
weight, the deep weight, a bias) sets the encoder's `blend`, which the next epoch trains with and the
epoch's checkpoint keeps (Mesnil et al. 2014 weigh their ensemble's members on a validation split the same
way). The validation figures are then those of a blend fitted on the same reviews: three numbers on
2,500 reviews, a small optimism; test is read once, after.
"""

from __future__ import annotations

import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from lstm_imdb.models.linear import NBWeighting, fit_logistic, interpolated, is_feature_cap
from lstm_imdb.utils.errors import refuse

log = logging.getLogger(__name__)

WIDE_FIT_KEYS = {
    "C": 3.0,
    "beta": 1.0,
    "nb_alpha": 1.0,
    "min_df": 1,
    "max_features": None,
    "folds": 5,
    "seed": 0,
    "max_iter": 1000,
    "blend_on_validation": True,
    "refit_with_validation": False,
}


def wide_fit_settings(wide_fit) -> dict:
    """`model.wide_fit` with its defaults filled in, or a ValueError naming each bad key."""
    given = dict(wide_fit or {})
    problems = [
        f"model.wide_fit.{k}: unknown key (keys: {', '.join(WIDE_FIT_KEYS)})"
        for k in given
        if k not in WIDE_FIT_KEYS
    ]
    s = {**WIDE_FIT_KEYS, **{k: v for k, v in given.items() if k in WIDE_FIT_KEYS}}
    for key in ("C", "nb_alpha"):
        if not isinstance(s[key], (int, float)) or not 0 < s[key] < math.inf:
            problems.append(f"model.wide_fit.{key}={s[key]!r}: must be a number > 0")
    if not isinstance(s["beta"], (int, float)) or not 0 < s["beta"] <= 1:
        problems.append(f"model.wide_fit.beta={s['beta']!r}: the interpolation weight lies in (0, 1]")
    for key, low in (("min_df", 1), ("folds", 2), ("seed", 0), ("max_iter", 1)):
        if not isinstance(s[key], int) or s[key] < low:
            problems.append(f"model.wide_fit.{key}={s[key]!r}: must be an integer >= {low}")
    if not is_feature_cap(s["max_features"]):
        problems.append(
            f"model.wide_fit.max_features={s['max_features']!r}: null (every bucket) or an integer >= 1"
        )
    for key in ("blend_on_validation", "refit_with_validation"):
        if not isinstance(s[key], bool):
            problems.append(f"model.wide_fit.{key}={s[key]!r}: must be true or false")
    refuse("model", problems)
    return s


WEIGHT_KEY = "weight.weight"  # WideLinear's fixed weights, under its own prefix in a state dict
INDEX_BYTES = 8  # a sparse tensor's int64 index per stored row


class WideLinear(nn.Module):
    """[sum of the weights of a review's present features] + bias, per review (fp32).

    With `model.wide_fit.refit_with_validation` it holds a second fit, `held_out`, that has not seen the
    validation reviews: validation reads it (`scoring_validation`, set by `score_validation`),
    while test and prediction read the weights fitted on every training review.
    Checkpoint files hold the fixed weights as a sparse tensor when that is smaller (`sparse_wide_weights`:
    a fit capped by `max_features` weighs few of the buckets, and the rest are zeros). Either form loads."""

    def __init__(self, buckets: int):
        super().__init__()
        self.weight = nn.EmbeddingBag(buckets, 1, mode="sum")
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(()))
        self.held_out: WideLinear | None = None  # set by `SentimentClassifier` with refit_with_validation
        self.scoring_validation = False  # read the held-out fit (validation), not the main one

    def forward(self, wide_ids: torch.Tensor, wide_offsets: torch.Tensor) -> torch.Tensor:
        if self.scoring_validation and self.held_out is not None:
            return self.held_out(wide_ids, wide_offsets)
        return self.weight(wide_ids, wide_offsets).squeeze(-1).float() + self.bias.float()

    def load_fit(self, weight: np.ndarray, bias: float) -> None:
        with torch.no_grad():
            self.weight.weight.copy_(torch.from_numpy(weight).unsqueeze(1))
            self.bias.fill_(bias)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # runs before the child's load, on load_state_dict's own copy of the dict
        key = prefix + WEIGHT_KEY
        if key in state_dict and state_dict[key].is_sparse:
            state_dict[key] = state_dict[key].to_dense()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def score_validation(module: nn.Module, on: bool) -> None:
    """Every wide layer in `module` (an ensemble's members too) reads its held-out fit, if it has one,
    while `on`: for validation, whose reviews the main fit has seen under `refit_with_validation`."""
    for layer in module.modules():
        if isinstance(layer, WideLinear):
            layer.scoring_validation = on


def sparse_wide_weights(checkpoint: dict, prefix: str) -> None:
    """The wide layer's weights (at `prefix` in the checkpoint's model states, its held-out fit's too) as
    a sparse tensor, in place, where that takes fewer bytes than the dense ones (an index and a value for
    each non-zero weight)."""
    for states in ("state_dict", "current_model_state"):  # the latter: weight averaging's trained weights
        state = checkpoint.get(states) or {}
        for key in (prefix + WEIGHT_KEY, prefix + "held_out." + WEIGHT_KEY):
            weight = state.get(key)
            if weight is None or weight.is_sparse:
                continue
            size = weight.element_size()
            if int(torch.count_nonzero(weight)) * (INDEX_BYTES + size) < weight.numel() * size:
                state[key] = weight.to_sparse(sparse_dim=1)  # one index per row, same shape


@dataclass
class WideFit:
    weight: np.ndarray  # [buckets] NB ratio x interpolated coefficient
    bias: float
    out_of_fold: np.ndarray  # [rows] each training row's logit from the fit on the other folds
    seconds: float
    refit: tuple[np.ndarray, float] | None = None  # (weight, bias) refitted with the extra rows, if any


def _fit_nbsvm(X: sparse.csr_matrix, y: np.ndarray, s: dict) -> tuple[np.ndarray, float]:
    nb = NBWeighting(s["nb_alpha"], s["min_df"], s["max_features"]).fit(X, y)
    clf = interpolated(fit_logistic(nb.transform(X), y, s["C"], s["max_iter"]), s["beta"])
    return nb.r_ * clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0])


def _held_out_logits(X, y, fit_rows, held_rows, s):
    weight, bias = _fit_nbsvm(X[fit_rows], y[fit_rows], s)
    return held_rows, X[held_rows] @ weight + bias


def fit_wide(
    X: sparse.csr_matrix,
    y: np.ndarray,
    s: dict,
    extra: tuple[sparse.csr_matrix, np.ndarray] | None = None,
) -> WideFit:
    """NBSVM on all rows of X, each row's out-of-fold logit (`s`: see `wide_fit_settings`) and, given
    `extra` rows, NBSVM refitted on X's rows and those; the fits run in parallel, on as many cores as
    there are."""
    start = time.perf_counter()
    folds = StratifiedKFold(s["folds"], shuffle=True, random_state=s["seed"]).split(np.zeros(len(y)), y)
    # threads: liblinear releases the GIL, and nothing is copied to other processes
    with ThreadPoolExecutor(max(1, min(s["folds"] + 2, len(os.sched_getaffinity(0))))) as pool:
        refit = None
        if extra is not None:  # submitted first: the largest fit
            refit = pool.submit(
                _fit_nbsvm, sparse.vstack([X, extra[0]]).tocsr(), np.concatenate([y, extra[1]]), s
            )
        full = pool.submit(_fit_nbsvm, X, y, s)
        held_out = [pool.submit(_held_out_logits, X, y, fit_rows, held, s) for fit_rows, held in folds]
        weight, bias = full.result()
        held_out = [job.result() for job in held_out]
        refit = refit.result() if refit is not None else None
    out_of_fold = np.zeros(len(y), dtype=np.float32)
    for rows, logits in held_out:
        out_of_fold[rows] = logits
    seconds = time.perf_counter() - start
    what = "NBSVM, its refit with the validation reviews" if refit else "NBSVM"
    log.info("Wide part: %s and its %d-fold out-of-fold logits fitted in %.1f s", what, s["folds"], seconds)
    return WideFit(weight, bias, out_of_fold, seconds, refit)


def fit_blend(deep: torch.Tensor, wide: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(wide weight, deep weight, bias): the logistic regression of `labels` on the two parts' logits."""
    X = torch.stack([wide, deep], dim=1).double().cpu().numpy()
    y = labels.cpu().numpy()
    if len(np.unique(y)) < 2:  # nothing to fit (a tiny validation split): keep the plain sum
        return torch.tensor([1.0, 1.0, 0.0])
    clf = LogisticRegression(C=1e4, max_iter=1000).fit(X, y)
    return torch.tensor([*clf.coef_.ravel(), clf.intercept_[0]], dtype=torch.float32)
