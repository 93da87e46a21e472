"""How the classic baselines choose C and beta (`python -m lstm_imdb.baseline`): by accuracy on the LSTMs'
validation split, or, with `baseline.cv_folds`, by k-fold cross-validation on the whole training split,
which resolves differences that 2,500 validation reviews cannot (the features are refitted per fold)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from omegaconf import DictConfig
from sklearn.model_selection import StratifiedKFold

from lstm_imdb.models.linear import as_list, fit_features, fit_logistic, interpolated
from lstm_imdb.runs.report import split_metrics

log = logging.getLogger(__name__)


def held_out_scores(b: DictConfig, texts: Sequence[str], labels: np.ndarray, fit_idx, held_idx) -> dict:
    """{(C, beta): accuracy on the held rows} of every option, the features fitted once on the fit rows."""
    features, X = fit_features(b, [texts[i] for i in fit_idx], labels[fit_idx])
    X_held = features.transform([texts[i] for i in held_idx])
    scores = {}
    for C in as_list(b.C):
        fitted = fit_logistic(X, labels[fit_idx], C, b.max_iter)
        for beta in as_list(b.beta):
            probs = interpolated(fitted, beta).predict_proba(X_held)[:, 1]
            scores[(C, beta)] = split_metrics("held", probs, labels[held_idx])["held/acc"]
    return scores


def on_validation(b: DictConfig, texts, labels: np.ndarray, fit_idx, val_idx) -> dict:
    """Validation accuracy of every (C, beta)."""
    scores = held_out_scores(b, texts, labels, fit_idx, val_idx)
    for (C, beta), acc in scores.items():
        log.info("C=%g beta=%g: val/acc %.4f", C, beta, acc)
    return scores


def cross_validated(b: DictConfig, texts, labels: np.ndarray, folds: int, seed: int) -> dict:
    """{(C, beta): [accuracy on each of `folds` stratified folds of all the given rows]} (a choice is made on
    their mean; the folds are kept so that two settings can be compared fold by fold)."""
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels)
    per_fold = [held_out_scores(b, texts, labels, fit_idx, held_idx) for fit_idx, held_idx in split]
    scores = {key: [fold[key] for fold in per_fold] for key in per_fold[0]}
    for (C, beta), accs in scores.items():
        log.info(
            "C=%g beta=%g: %d-fold cross-validated acc %.4f (folds: %s)",
            C,
            beta,
            folds,
            np.mean(accs),
            ", ".join(f"{a:.4f}" for a in accs),
        )
    return scores
