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
    if not isinstance(s["blend_on_validation"], bool):
        problems.append(
            f"model.wide_fit.blend_on_validation={s['blend_on_validation']!r}: must be true or false"
        )
    if problems:
        raise ValueError("Invalid model config:\n  " + "\n  ".join(problems))
    return s


WEIGHT_KEY = "weight.weight"  # WideLinear's fixed weights, under its own prefix in a state dict
INDEX_BYTES = 8  # a sparse tensor's int64 index per stored row


class WideLinear(nn.Module):
    """[sum of the weights of a review's present features] + bias, per review (fp32).

    Checkpoint files hold the fixed weights as a sparse tensor when that is smaller (`sparse_wide_weights`:
    a fit capped by `max_features` weighs few of the buckets, and the rest are zeros). Either form loads."""

    def __init__(self, buckets: int):
        super().__init__()
        self.weight = nn.EmbeddingBag(buckets, 1, mode="sum")
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, wide_ids: torch.Tensor, wide_offsets: torch.Tensor) -> torch.Tensor:
        return self.weight(wide_ids, wide_offsets).squeeze(-1).float() + self.bias.float()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # runs before the child's load, on load_state_dict's own copy of the dict
        key = prefix + WEIGHT_KEY
        if key in state_dict and state_dict[key].is_sparse:
            state_dict[key] = state_dict[key].to_dense()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def sparse_wide_weights(checkpoint: dict, prefix: str) -> None:
    """The wide layer's weights (at `prefix` in the checkpoint's model states) as a sparse tensor, in place,
    where that takes fewer bytes than the dense ones (an index and a value for each non-zero weight)."""
    for states in ("state_dict", "current_model_state"):  # the latter: weight averaging's trained weights
        state = checkpoint.get(states) or {}
        weight = state.get(prefix + WEIGHT_KEY)
        if weight is None or weight.is_sparse:
            continue
        size = weight.element_size()
        if int(torch.count_nonzero(weight)) * (INDEX_BYTES + size) < weight.numel() * size:
            state[prefix + WEIGHT_KEY] = weight.to_sparse(sparse_dim=1)  # one index per row, same shape


@dataclass
class WideFit:
    weight: np.ndarray  # [buckets] NB ratio x interpolated coefficient
    bias: float
    out_of_fold: np.ndarray  # [rows] each training row's logit from the fit on the other folds
    seconds: float


def _fit_nbsvm(X: sparse.csr_matrix, y: np.ndarray, s: dict) -> tuple[np.ndarray, float]:
    nb = NBWeighting(s["nb_alpha"], s["min_df"], s["max_features"]).fit(X, y)
    clf = interpolated(fit_logistic(nb.transform(X), y, s["C"], s["max_iter"]), s["beta"])
    return nb.r_ * clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0])


def _held_out_logits(X, y, fit_rows, held_rows, s):
    weight, bias = _fit_nbsvm(X[fit_rows], y[fit_rows], s)
    return held_rows, X[held_rows] @ weight + bias


def fit_wide(X: sparse.csr_matrix, y: np.ndarray, s: dict) -> WideFit:
    """NBSVM on all rows of X, and each row's out-of-fold logit (`s`: see `wide_fit_settings`); the fits
    run in parallel, on as many cores as there are."""
    start = time.perf_counter()
    folds = StratifiedKFold(s["folds"], shuffle=True, random_state=s["seed"]).split(np.zeros(len(y)), y)
    # threads: liblinear releases the GIL, and nothing is copied to other processes
    with ThreadPoolExecutor(max(1, min(s["folds"] + 1, len(os.sched_getaffinity(0))))) as pool:
        full = pool.submit(_fit_nbsvm, X, y, s)
        held_out = [pool.submit(_held_out_logits, X, y, fit_rows, held, s) for fit_rows, held in folds]
        weight, bias = full.result()
        held_out = [job.result() for job in held_out]
    out_of_fold = np.zeros(len(y), dtype=np.float32)
    for rows, logits in held_out:
        out_of_fold[rows] = logits
    seconds = time.perf_counter() - start
    log.info("Wide part: NBSVM and its %d-fold out-of-fold logits fitted in %.1f s", s["folds"], seconds)
    return WideFit(weight, bias, out_of_fold, seconds)


def fit_wide_layer(layer: WideLinear, datamodule, settings: dict) -> tuple[torch.Tensor, dict]:
    """NBSVM on the datamodule's training part, loaded into `layer`; returns the training rows' out-of-fold
    logits and what to log about the fit."""
    wide = getattr(datamodule, "wide", {})
    buckets = layer.weight.num_embeddings
    if "train" not in wide or wide["train"].shape[1] != buckets:
        have = wide["train"].shape[1] if "train" in wide else None
        raise ValueError(
            f"model.wide_buckets={buckets}: the datamodule's wide features have {have} buckets; "
            "set data.wide (model.wide_buckets follows data.wide.buckets unless overridden)"
        )
    labels = datamodule.splits["train"].labels
    fitted = fit_wide(wide["train"], labels, settings)
    with torch.no_grad():
        layer.weight.weight.copy_(torch.from_numpy(fitted.weight).unsqueeze(1))
        layer.bias.fill_(fitted.bias)
    accuracy = float(((fitted.out_of_fold > 0) == labels).mean())
    log.info("Wide part: out-of-fold accuracy on the training part %.4f", accuracy)
    return torch.from_numpy(fitted.out_of_fold), {
        "fit_s": round(fitted.seconds, 1),
        "train_out_of_fold_acc": accuracy,
    }


def fit_blend(deep: torch.Tensor, wide: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(wide weight, deep weight, bias): the logistic regression of `labels` on the two parts' logits."""
    X = torch.stack([wide, deep], dim=1).double().cpu().numpy()
    y = labels.cpu().numpy()
    if len(np.unique(y)) < 2:  # nothing to fit (a tiny validation split): keep the plain sum
        return torch.tensor([1.0, 1.0, 0.0])
    clf = LogisticRegression(C=1e4, max_iter=1000).fit(X, y)
    return torch.tensor([*clf.coef_.ravel(), clf.intercept_[0]], dtype=torch.float32)
