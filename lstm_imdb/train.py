"""Train, then test the best checkpoint and write the report.

python -m lstm_imdb.train                                  # defaults (conf/train.yaml)
python -m lstm_imdb.train experiment=keras_tutorial        # the tutorial replica
python -m lstm_imdb.train model.hidden_size=256 trainer.max_epochs=10 data.batch_size=64
python -m lstm_imdb.train ckpt_path=last                   # resume the newest run of this config
python -m lstm_imdb.train -m model.hidden_size=64,128      # a sweep (multirun)
"""

from __future__ import annotations

import logging
import math
import time

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from lstm_imdb.cli import entry
from lstm_imdb.training.fit import fit, fit_summary, test_best
from lstm_imdb.training.hparams import collect_hyperparameters, log_hyperparameters
from lstm_imdb.training.setup import build_run

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and (if cfg.test) test; returns every final metric."""
    entered = time.perf_counter()
    run = build_run(cfg)
    hparams = collect_hyperparameters(cfg, run.model, {"git_commit": run.env["git_commit"] or ""})
    log_hyperparameters(run.trainer, hparams)
    # a single run counts its start-up from the process's start (imports included); a sweep's jobs, which
    # may share a process, from their own start
    in_sweep = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    metrics = fit(run, since_start=time.perf_counter() - entered if in_sweep else None)
    if run.trainer.interrupted:
        return metrics
    if cfg.get("test"):
        metrics = test_best(run, metrics, hparams)
    if run.trainer.is_global_zero:
        log.info("Run folder: %s", run.out_dir)
        log.info("%s", fit_summary(metrics, run.history))
    return metrics


@entry("train")
def main(cfg: DictConfig) -> float | None:
    """Train; returns `optimized_metric` to a sweeper."""
    return optimized_value(cfg, train(cfg))


def optimized_value(cfg: DictConfig, metrics: dict) -> float | None:
    """The figure a sweeper (Optuna) optimizes: `optimized_metric`, NaN when it is not finite."""
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        raise KeyError(f"optimized_metric={name!r} was not logged; logged: {sorted(metrics)}")
    value = metrics[name]
    return value if math.isfinite(value) else float("nan")


if __name__ == "__main__":
    main()
