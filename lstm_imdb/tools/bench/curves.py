"""Learning curves and time to accuracy, for both sides of `make bench-keras`.

What a user gets from a process stopped after k epochs: this project tests the checkpoint with the best
val acc among epochs 1..k (the first of equals, as ModelCheckpoint keeps it); the Keras code tests the
weights after epoch k. Each side's run keeps every epoch's weights and tests them (this project's after the
run, from per-epoch checkpoints; Keras's in a callback whose time is taken out of its process's), so one 5-epoch process
of each side gives the test accuracy and the whole-process time of every shorter run: the same process
without the epochs it would not have run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lstm_imdb.inference.checkpoint import load_checkpoint
from lstm_imdb.inference.predictor import Predictor
from lstm_imdb.utils.decision import predicted_labels

EPOCHS_DIR = "epoch_checkpoints"


def epoch_checkpoint_overrides(run_dir: Path) -> list[str]:
    """Overrides that keep every epoch's weights of a `lstm_imdb.train` run (`epoch-0.ckpt`, ...)."""
    key = "+callbacks.bench_every_epoch"
    return [
        f"{key}._target_=lightning.pytorch.callbacks.ModelCheckpoint",
        f"{key}.dirpath={run_dir / EPOCHS_DIR}",
        f"{key}.filename='epoch-{{epoch}}'",
        f"{key}.auto_insert_metric_name=false",
        f"{key}.monitor=null",
        f"{key}.save_top_k=-1",
        f"{key}.mode=max",  # unused without a monitor; a state key apart from last.ckpt's callback
    ]


def epoch_test_accuracy(run_dir: Path, epochs: int, texts: list[str], labels: list[int]) -> list[float]:
    """Test accuracy of each epoch's weights (as `evaluate` scores them: sorted by length, padding-free)."""
    out = []
    for epoch in range(epochs):
        loaded = load_checkpoint(run_dir / EPOCHS_DIR / f"epoch-{epoch}.ckpt")
        probs = Predictor(loaded).predict_proba(texts)
        out.append(float(np.mean(predicted_labels(probs) == np.asarray(labels))))
    return out


def tested_epochs(val_acc: list[float]) -> list[int]:
    """For a run stopped after each epoch k: the epoch whose checkpoint it tests (best val acc so far)."""
    best, out = 0, []
    for k, acc in enumerate(val_acc):
        if acc > val_acc[best]:
            best = k
        out.append(best)
    return out


def stopped_runs(process_s: float, epoch_s: list[float], test_acc: list[float]) -> list[dict]:
    """For a run stopped after epoch k = 1, 2, ...: its whole-process seconds (the timed process less the
    epochs after k) and the test accuracy it reports (`test_acc[k - 1]`)."""
    return [
        {"epochs": k, "process_s": process_s - sum(epoch_s[k:]), "test_acc": test_acc[k - 1]}
        for k in range(1, len(epoch_s) + 1)
    ]


def time_to_accuracy(runs: list[dict], target: float) -> dict | None:
    """The shortest of `runs` (see `stopped_runs`) whose test accuracy reaches `target`, or None."""
    return next((r for r in runs if r["test_acc"] >= target), None)


def add_curves(real: dict, keras: dict | None) -> None:
    """Each side's stopped runs; with Keras, the time for each side to reach the Keras code's best test
    accuracy of this session."""
    tested = tested_epochs(real["val_acc"])
    real["test_acc_tested"] = [real["test_acc_by_epoch"][e] for e in tested]
    real["stopped"] = stopped_runs(real["process_s"], real["epoch_s"], real["test_acc_tested"])
    if not keras:
        return
    keras["stopped"] = stopped_runs(keras["process_s"], keras["epoch_s"], keras["test_acc_by_epoch"])
    target = max(keras["test_acc_by_epoch"])
    real["reach_keras_best"] = {"target": target, "run": time_to_accuracy(real["stopped"], target)}
    keras["reach_keras_best"] = {"target": target, "run": time_to_accuracy(keras["stopped"], target)}
