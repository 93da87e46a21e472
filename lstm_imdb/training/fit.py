"""The two phases of `train` after set-up: fit (with its times and the last epoch's figures), then test
the best checkpoint and write the report."""

from __future__ import annotations

import logging
import time

from lstm_imdb.runs.provenance import seconds_since_process_start
from lstm_imdb.runs.report import finish_run
from lstm_imdb.training.hparams import log_hyperparameters
from lstm_imdb.training.setup import Run, tensorboard_writer
from lstm_imdb.training.tensorboard import FINAL

log = logging.getLogger(__name__)


def fit(run: Run, since_start: float | None = None) -> dict:
    """Fit; returns every final metric and the times. `since_start`: seconds from the process's start to
    here (default: measured from the OS's record of the process)."""
    since_start = seconds_since_process_start() if since_start is None else since_start
    trainer, history = run.trainer, run.history
    start = time.perf_counter()
    trainer.fit(run.model, datamodule=run.datamodule, ckpt_path=run.ckpt_path, weights_only=True)
    fit_s = time.perf_counter() - start
    run.write_environment(data=run.datamodule.data_fingerprint)
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
    # start-up: data set-up, sanity check and, under DDP, launching and joining the other ranks
    to_first_batch_s = history.first_batch_at - start if history and history.first_batch_at else float("nan")
    return {
        **metrics,
        "time/fit_s": fit_s,
        "time/epoch_s": history.epoch_seconds() if history else float("nan"),
        "time/to_first_batch_s": to_first_batch_s,
        # from the process's start: interpreter, imports, config, objects, data, sanity check
        "time/process_to_first_batch_s": since_start + to_first_batch_s,
        "epochs": trainer.current_epoch,
    }


def fit_summary(metrics: dict, history) -> str:
    """What the fit took (data set-up and tokenization apart from the epochs), what this process trained,
    and what the run has trained in all when it resumed another's epochs."""
    total = int(metrics["epochs"])
    this = history.epochs_this_run if history else total
    resumed = f" ({total} in the run: resumed after epoch {total - this})" if this != total else ""
    return (
        f"Fit took {metrics['time/fit_s']:.1f} s: {metrics['time/to_first_batch_s']:.1f} s to the first batch "
        f"(data, tokenization, sanity check), then {this} epoch{'' if this == 1 else 's'} trained by this "
        f"process{resumed} at {metrics['time/epoch_s']:.1f} s/epoch"
    )


def test_best(run: Run, metrics: dict, hparams: dict) -> dict:
    """Test the best checkpoint, write the report and put the final figures beside the hparams; returns
    `metrics` with the test figures and the test phase's time added."""
    trainer, model, datamodule = run.trainer, run.model, run.datamodule
    # taken now: testing from a checkpoint restores the callbacks' state as of that checkpoint
    rows = list(run.history.epochs) if run.history else None
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if not best:
        log.warning("No best checkpoint was saved: testing the current weights")
    test_start = time.perf_counter()
    metrics = dict(metrics)
    for results in trainer.test(
        model, datamodule=datamodule, ckpt_path=best or None, weights_only=True, verbose=False
    ):
        metrics.update({k: float(v) for k, v in results.items()})
    seen_in_train = datamodule.seen_in_train  # part of the test phase: found when first asked for
    metrics["time/test_s"] = time.perf_counter() - test_start
    times = {k: v for k, v in metrics.items() if k.startswith("time/")}
    extra = {
        "val/acc_best": metrics.get("val/acc_best"),  # the figure that chose the tested checkpoint
        "best_checkpoint": best,
        "epochs": metrics["epochs"],
        **times,
        "data": datamodule.data_fingerprint,
    }
    tested = {k: v for k, v in metrics.items() if k.split("/")[0] in model.test_predictions}
    test_metrics = finish_run(
        run.out_dir,
        tested,
        model.test_predictions,
        seen_in_train,
        rows=model.test_rows,
        history=rows,
        tb_writer=tensorboard_writer(run.loggers),
        extra=extra,
    )
    metrics.update(test_metrics)
    # final metrics next to the hparams (TensorBoard's HPARAMS tab), as ~final/<metric> (training/tensorboard.py);
    # val/acc_best (what chose the checkpoint) and test/acc first: the columns HPARAMS shows first
    first = ("val/acc_best", "test/acc")
    final = {f"{FINAL}/{k}": metrics[k] for k in first if k in metrics}
    final.update({f"{FINAL}/{k}": v for k, v in test_metrics.items() if k not in first})
    final.update({f"{FINAL}/{k}": metrics[k] for k in ("val/acc",) if k in metrics})
    log_hyperparameters(trainer, hparams, final)
    return {**metrics, **test_metrics}
