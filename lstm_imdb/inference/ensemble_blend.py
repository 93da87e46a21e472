"""Ensemble weights fitted on the validation split, never on test: a logistic regression over the members'
logits (stacking; Mesnil et al. 2014 weight their RNN-LM and NB-SVM on validation the same way), in place
of the plain mean of their probabilities.

`python -m lstm_imdb.evaluate ckpt_path=<sweep> ensemble_weights=validation` fits them and writes
`ensemble_weights.json` beside its report; `ensemble_weights=<that file>` in evaluate or predict uses them
again with the same checkpoints. The blend is fitted on the same validation reviews that score it, so its
val/acc is optimistic: `val/acc_out_of_fold` (each review scored by a blend fitted on the other folds) is the
figure to compare with the mean's val/acc.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from lstm_imdb.inference.checkpoint import LoadedCheckpoint
from lstm_imdb.models.encoder import EnsembleEncoder
from lstm_imdb.models.wide import score_validation
from lstm_imdb.runs.folder import write_json

log = logging.getLogger(__name__)

BLEND_FILE = "ensemble_weights.json"
MEAN, VALIDATION = "mean", "validation"
FOLDS = 5  # for the out-of-fold validation accuracy of the fitted blend


class EnsembleWeightsError(ValueError):
    """An `ensemble_weights=` value that cannot be used: what was wrong and what to pass instead."""


def validation_member_logits(loaded: LoadedCheckpoint, datamodule) -> tuple[np.ndarray, np.ndarray]:
    """[N, M] logits of each member on the validation reviews, and their [N] labels."""
    model = loaded.model.eval()
    datamodule.setup("validate")
    rows, labels = [], []
    score_validation(model.net, True)  # members refitted with the validation reviews: their held-out fit
    try:
        with torch.inference_mode():
            for batch in datamodule.val_dataloader():
                rows.append(model.net.member_logits(batch["input_ids"], **model.wide_inputs(batch)).T)
                labels.append(batch["labels"])
    finally:
        score_validation(model.net, False)
    return torch.cat(rows).numpy(), torch.cat(labels).numpy()


def fit_ensemble_weights(logits: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """One weight per member and a bias (logistic regression on the members' logits), with the accuracy
    of the same fit scored out of fold and that of the plain mean, for comparison on the same reviews."""
    regression = LogisticRegression(C=1.0)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    out_of_fold = cross_val_predict(regression, logits, labels, cv=folds, method="decision_function")
    regression.fit(logits, labels)
    mean_prob = (1 / (1 + np.exp(-logits))).mean(1)
    return {
        "weights": [float(w) for w in regression.coef_[0]],
        "bias": float(regression.intercept_[0]),
        "fitted_on": f"validation ({len(labels)} reviews)",
        "val/acc_out_of_fold": float(((out_of_fold > 0) == labels).mean()),
        "val/acc_mean_probability": float(((mean_prob > 0.5) == labels).mean()),
    }


def _names(paths: list[Path]) -> list[str]:
    return [str(Path(p).resolve()) for p in paths]


def save_ensemble_weights(folder: str | Path, blend: dict, paths: list[Path]) -> Path:
    path = Path(folder) / BLEND_FILE
    write_json(path, {**blend, "checkpoints": _names(paths)})
    return path


def read_ensemble_weights(path: str | Path, paths: list[Path]) -> dict:
    """A blend written by `evaluate ensemble_weights=validation`, for the same checkpoints in the same order."""
    try:
        blend = json.loads(Path(path).read_text())
        written_for, weights = blend["checkpoints"], blend["weights"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise EnsembleWeightsError(
            f"ensemble_weights={str(path)!r} is not an {BLEND_FILE} written by `python -m lstm_imdb.evaluate "
            f"ensemble_weights=validation` ({err}); pass mean, validation (in evaluate), or such a file"
        ) from None
    if written_for != _names(paths) or len(weights) != len(paths):
        raise EnsembleWeightsError(
            f"ensemble_weights={str(path)!r} was fitted for the checkpoints {written_for}, but ckpt_path names "
            f"{_names(paths)}: pass the checkpoints it was fitted for, in that order, or refit it "
            "(ensemble_weights=validation in evaluate)"
        )
    return blend


def apply_ensemble_weights(
    option, loaded: LoadedCheckpoint, paths: list[Path], datamodule=None
) -> dict | None:
    """`ensemble_weights=`: 'mean' (None) keeps the mean probability; 'validation' fits the weights on
    `datamodule`'s validation split (evaluate); a path reads them. Returns the blend used, if any."""
    option = MEAN if option in (None, "") else str(option)
    if option == MEAN:
        return None
    if not isinstance(loaded.model.net, EnsembleEncoder):
        raise EnsembleWeightsError(
            f"ensemble_weights={option!r} weights the members of an ensemble, but ckpt_path names one "
            "checkpoint: pass several (a list or a sweep folder), or leave ensemble_weights=mean"
        )
    if option == VALIDATION:
        if datamodule is None:
            raise EnsembleWeightsError(
                "ensemble_weights=validation fits the weights on the validation split, in "
                "`python -m lstm_imdb.evaluate`: pass the ensemble_weights.json it writes here"
            )
        blend = fit_ensemble_weights(*validation_member_logits(loaded, datamodule))
    else:
        blend = read_ensemble_weights(option, paths)
    net = loaded.model.net
    net.weights, net.bias = torch.tensor(blend["weights"], dtype=torch.float32), float(blend["bias"])
    log.info(
        "Ensemble of %d checkpoints, weighted: %s, bias %.4f", len(paths), blend["weights"], blend["bias"]
    )
    return blend
