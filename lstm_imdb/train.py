"""Train, then test the best checkpoint and write the report.

python -m lstm_imdb.train                                  # defaults (conf/train.yaml)
python -m lstm_imdb.train experiment=keras_tutorial        # the tutorial replica
python -m lstm_imdb.train model.hidden_size=256 trainer.max_epochs=10 data.batch_size=64
python -m lstm_imdb.train ckpt_path=last                   # resume the newest run's last.ckpt
python -m lstm_imdb.train -m model.hidden_size=64,128      # a sweep (multirun)
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from lstm_imdb.callbacks import MetricHistory
from lstm_imdb.checkpoint import CheckpointError
from lstm_imdb.paths import CONFIG_DIR
from lstm_imdb.report import finish_run
from lstm_imdb.runtime import (
    collect_hyperparameters,
    environment,
    instantiate_group,
    log_hyperparameters,
    print_config_tree,
    resolve_ckpt_path,
    seconds_since_process_start,
    tensorboard_writer,
    write_json,
)

log = logging.getLogger(__name__)

_RUNS_IN_PROCESS: list = []  # the runs this process has started (a sweep runs its jobs in one process)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and (if cfg.test) test; returns every final metric. All objects are built before any data
    work, so a bad config value fails in seconds."""
    entered = time.perf_counter()
    if cfg.get("print_config"):
        print_config_tree(cfg)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    out_dir = Path(cfg.paths.output_dir)
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), cfg.paths.log_dir, cfg.task_name)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    model: L.LightningModule = instantiate(cfg.model)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    history = next((c for c in callbacks if isinstance(c, MetricHistory)), None)

    env = {**environment(), "tags": list(cfg.get("tags") or []), "precision": str(trainer.precision)}
    write_json(out_dir / "environment.json", env)
    hparams = collect_hyperparameters(cfg, model, {"git_commit": env["git_commit"] or ""})
    log_hyperparameters(trainer, hparams)

    # the first run of this process counts from its start (imports included); the later jobs of an
    # in-process sweep from their own start
    if _RUNS_IN_PROCESS:
        since_process_start = time.perf_counter() - entered
    else:
        since_process_start = seconds_since_process_start()
    _RUNS_IN_PROCESS.append(out_dir)
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    fit_s = time.perf_counter() - start
    write_json(out_dir / "environment.json", {**env, "data": datamodule.data_fingerprint})
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if history and history.epochs:
        # a resumed run that had already reached max_epochs trains no epoch: its last epoch's figures
        # (restored with the checkpoint) stand in for what this process did not log
        metrics = {**{k: float(v) for k, v in history.epochs[-1].items() if "/" in k}, **metrics}
        if history.epochs_this_run == 0 and not trainer.interrupted:
            log.warning(
                "The checkpoint had already trained %d epochs (trainer.max_epochs=%d): nothing left to train; "
                "raise trainer.max_epochs to train more. Testing its best checkpoint.",
                len(history.epochs),
                trainer.max_epochs,
            )
    epochs = trainer.current_epoch
    epoch_s = history.epoch_seconds() if history else float("nan")
    # start-up: data set-up, sanity check and, under DDP, launching and joining the other ranks
    to_first_batch_s = history.first_batch_at - start if history and history.first_batch_at else float("nan")
    times = {
        "time/fit_s": fit_s,
        "time/epoch_s": epoch_s,
        "time/to_first_batch_s": to_first_batch_s,
        # from the process's start: interpreter, imports, config, objects, data, sanity check
        "time/process_to_first_batch_s": since_process_start + to_first_batch_s,
    }
    metrics.update({**times, "epochs": epochs})
    if trainer.interrupted:
        return metrics

    # taken now: testing from a checkpoint restores the callbacks' state as of that checkpoint
    rows = list(history.epochs) if history else None
    if cfg.get("test"):
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if not best:
            log.warning("No best checkpoint was saved: testing the current weights")
        test_start = time.perf_counter()
        for results in trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True):
            metrics.update({k: float(v) for k, v in results.items()})
        seen_in_train = datamodule.seen_in_train  # part of the test phase: found when first asked for
        times["time/test_s"] = metrics["time/test_s"] = time.perf_counter() - test_start
        extra = {
            "val/acc_best": metrics.get("val/acc_best"),  # the figure that chose the tested checkpoint
            "best_checkpoint": best,
            "epochs": epochs,
            **times,
            "data": datamodule.data_fingerprint,
        }
        tested = {k: v for k, v in metrics.items() if k.split("/")[0] in model.test_predictions}
        test_metrics = finish_run(
            out_dir,
            tested,
            model.test_predictions,
            seen_in_train,
            rows=model.test_rows,
            history=rows,
            tb_writer=tensorboard_writer(loggers),
            extra=extra,
        )
        metrics.update(test_metrics)
        # final metrics next to the hparams (TensorBoard's HPARAMS tab), as hp/<metric>
        # val/acc_best (what chose the checkpoint) and test/acc first: the columns HPARAMS shows first
        first = ("val/acc_best", "test/acc")
        final = {f"hp/{k}": metrics[k] for k in first if k in metrics}
        final.update({f"hp/{k}": v for k, v in test_metrics.items() if k not in first})
        final.update({f"hp/{k}": metrics[k] for k in ("val/acc",) if k in metrics})
        log_hyperparameters(trainer, hparams, final)
    if trainer.is_global_zero:
        log.info("Run folder: %s", out_dir)
        log.info("Fit took %.1f s over %d epochs (%.1f s/epoch)", fit_s, epochs, epoch_s)
    return metrics


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        metrics = train(cfg)
    except FloatingPointError as err:  # a non-finite loss: say so; in a sweep, report it and go on
        log.error("%s", err)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            return float("nan")
        sys.exit(1)
    except CheckpointError as err:  # ckpt_path: missing, unreadable or not ours
        log.error("%s", err)
        sys.exit(2)
    except SIGTERMException:
        log.error("Stopped by SIGTERM (see the message above for how to resume)")
        sys.exit(143)
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        raise KeyError(f"optimized_metric={name!r} was not logged; logged: {sorted(metrics)}")
    value = metrics[name]
    return value if math.isfinite(value) else float("nan")


if __name__ == "__main__":
    main()
