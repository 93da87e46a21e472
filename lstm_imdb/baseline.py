"""The classic baselines beside the LSTMs (scikit-learn, lstm_imdb/models/linear.py):

    python -m lstm_imdb.baseline                      # baseline=tfidf: TF-IDF uni+bigrams + logistic regression
    python -m lstm_imdb.baseline baseline=nbsvm       # NBSVM: binarized uni+bi+trigrams, NB log-count ratios
    python -m lstm_imdb.baseline baseline=nbsvm baseline.C=[0.3,1] baseline.beta=[0.5,1]
    python -m lstm_imdb.baseline baseline=nbsvm baseline.cv_folds=3   # choose by 3-fold cross-validation
    python -m lstm_imdb.baseline baseline=nbsvm baseline.negation=true   # NEG_ on the words after "not" etc.

C (and NBSVM's interpolation beta) are chosen on the same seeded validation split the LSTMs use, or by
cross-validation on the training split (never on test); the model is then refitted on all 25,000 training
reviews and tested once. Same splits, report files and run folder as training.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from lstm_imdb.cli import entry
from lstm_imdb.data import load_imdb
from lstm_imdb.data.split import rows_seen_in, validation_split
from lstm_imdb.models.linear import check_options, fit_features, fit_logistic, interpolated, scorer
from lstm_imdb.runs.folder import ENVIRONMENT, write_json
from lstm_imdb.runs.provenance import environment
from lstm_imdb.runs.report import finish_run, split_metrics
from lstm_imdb.training.linear_selection import cross_validated, on_validation

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, float]:
    b = cfg.baseline
    check_options(b)
    started = time.perf_counter()
    ds = load_imdb(cfg.data.source, cfg.data.data_dir, cfg.data.acl_dir)
    texts, labels = list(ds["train"]["text"]), np.asarray(ds["train"]["label"])
    # the LSTMs' validation split (data.val_fraction, data.val_seed, data.val_fold)
    d = cfg.data
    fit_idx, val_idx = validation_split(len(texts), d.val_fraction, d.val_seed, d.val_fold)
    scores = on_validation(b, texts, labels, fit_idx, val_idx)
    cv_folds = cross_validated(b, texts, labels, b.cv_folds, cfg.seed) if b.cv_folds else {}
    cv = {key: float(np.mean(accs)) for key, accs in cv_folds.items()}
    chosen_on = cv or scores  # cross-validation when asked for, else validation
    best_C, best_beta = max(chosen_on, key=chosen_on.get)
    start = time.perf_counter()
    features, X = fit_features(b, texts, labels)
    predict = scorer(features, interpolated(fit_logistic(X, labels, best_C, b.max_iter), best_beta))
    fit_s = time.perf_counter() - start
    metrics = {"val/acc": scores[(best_C, best_beta)]}
    predictions = {}
    for name in ("test", "rotten_tomatoes"):
        if name in ds:
            probs = predict(list(ds[name]["text"]))
            y = np.asarray(ds[name]["label"])
            predictions[name] = (probs, y)
            metrics.update(split_metrics(name, probs, y))
    seen = {"test": rows_seen_in(ds["test"]["text"], texts)} if "test" in predictions else {}
    write_json(Path(cfg.paths.output_dir) / ENVIRONMENT, environment())
    by = f"{b.cv_folds}-fold cross-validated accuracy" if cv else "validation accuracy"
    chosen = f"{b.name}: C={best_C:g} beta={best_beta:g} (by {by}), {X.shape[1]} features"
    log.info("%s, refit on all train in %.1f s", chosen, fit_s)
    metrics = finish_run(
        Path(cfg.paths.output_dir),
        metrics,
        predictions,
        seen,
        reported=tuple(predictions),  # the validation figures are in val_acc_by_C
        extra={
            "baseline": b.name,
            "C": best_C,
            "beta": best_beta,
            "val_acc_by_C": {str(C): acc for (C, beta), acc in scores.items() if beta == best_beta},
            "val_acc_by_C_beta": {f"C={C:g} beta={beta:g}": acc for (C, beta), acc in scores.items()},
            "cv_acc_by_C_beta": {f"C={C:g} beta={beta:g}": acc for (C, beta), acc in cv.items()},
            "cv_acc_by_fold": {f"C={C:g} beta={beta:g}": accs for (C, beta), accs in cv_folds.items()},
            "chosen_by": "cv" if cv else "val",
            "features": X.shape[1],
            "time/fit_s": fit_s,
            "time/total_s": time.perf_counter() - started,
        },
    )
    return metrics


@entry("baseline")
def main(cfg: DictConfig) -> float:
    return run(cfg)["val/acc"]


if __name__ == "__main__":
    main()
