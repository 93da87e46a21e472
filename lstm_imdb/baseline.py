"""A classic baseline beside the LSTMs: TF-IDF of word uni- and bigrams + logistic regression
(scikit-learn), optionally with naive-Bayes feature weights (NBSVM-style, Wang & Manning 2012).

    python -m lstm_imdb.baseline                      # same splits, same report files as training
    python -m lstm_imdb.baseline baseline.nb_weighting=true baseline.C=[1,4,16]

The regularization strength C is chosen on the same seeded validation split the LSTMs use (never on
test); the model is then refitted on all 25,000 training reviews and tested once.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from lstm_imdb.cli import entry
from lstm_imdb.data import load_imdb
from lstm_imdb.data.split import rows_seen_in, validation_split
from lstm_imdb.models.tfidf import fit_model
from lstm_imdb.runs.folder import ENVIRONMENT, write_json
from lstm_imdb.runs.provenance import environment
from lstm_imdb.runs.report import finish_run, split_metrics

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, float]:
    b = cfg.baseline
    ds = load_imdb(cfg.data.source, cfg.data.data_dir, cfg.data.acl_dir)
    texts, labels = list(ds["train"]["text"]), np.asarray(ds["train"]["label"])
    # the LSTMs' validation split (data.val_fraction, data.val_seed)
    fit_idx, val_idx = validation_split(len(texts), cfg.data.val_fraction, cfg.data.val_seed)
    Cs = list(b.C) if OmegaConf.is_list(b.C) else [b.C]
    scores = {}
    for C in Cs:
        predict, _ = fit_model(b, [texts[i] for i in fit_idx], labels[fit_idx], C)
        probs = predict([texts[i] for i in val_idx])
        scores[C] = split_metrics("val", probs, labels[val_idx])["val/acc"]
        log.info("C=%g: val/acc %.4f", C, scores[C])
    best_C = max(scores, key=scores.get)
    start = time.perf_counter()
    predict, n_features = fit_model(b, texts, labels, best_C)
    fit_s = time.perf_counter() - start
    metrics = {"val/acc": scores[best_C]}
    predictions = {}
    for name in ("test", "rotten_tomatoes"):
        if name in ds:
            probs = predict(list(ds[name]["text"]))
            y = np.asarray(ds[name]["label"])
            predictions[name] = (probs, y)
            metrics.update(split_metrics(name, probs, y))
    seen = {"test": rows_seen_in(ds["test"]["text"], texts)} if "test" in predictions else {}
    write_json(Path(cfg.paths.output_dir) / ENVIRONMENT, environment())
    log.info(
        "C=%g (by validation accuracy), %d features, refit on all train in %.1f s", best_C, n_features, fit_s
    )
    metrics = finish_run(
        Path(cfg.paths.output_dir),
        metrics,
        predictions,
        seen,
        reported=tuple(predictions),  # the validation figure is in val_acc_by_C
        extra={
            "C": best_C,
            "val_acc_by_C": {str(k): v for k, v in scores.items()},
            "features": n_features,
            "time/fit_s": fit_s,
        },
    )
    return metrics


@entry("baseline")
def main(cfg: DictConfig) -> float:
    return run(cfg)["val/acc"]


if __name__ == "__main__":
    main()
