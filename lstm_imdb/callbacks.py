"""Callbacks of this project (Lightning's own ones are used for everything else)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import lightning as L

log = logging.getLogger(__name__)


class MetricHistory(L.Callback):
    """Keeps each epoch's train/val metrics and the learning rate, and writes them to `history.json` in
    the run folder: the training-curves figure and the notebooks read it. It is part of the checkpoint,
    so a resumed run keeps its whole history."""

    def __init__(self, filename: str = "history.json"):
        self.filename = filename
        self.epochs: list[dict] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        row = {"epoch": trainer.current_epoch, "step": trainer.global_step}
        for key, value in trainer.callback_metrics.items():
            if key.startswith(("train/", "val/")):
                row[key] = float(value)
        if trainer.optimizers:
            row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.epochs = [r for r in self.epochs if r["epoch"] != row["epoch"]] + [row]
        log.info(
            "epoch %d: %s",
            row["epoch"],
            "  ".join(
                f"{k} {row[k]:.4f}"
                for k in ("train/loss", "train/acc", "val/loss", "val/acc", "lr")
                if k in row
            ),
        )
        if trainer.is_global_zero and trainer.default_root_dir:
            path = Path(trainer.default_root_dir) / self.filename
            path.write_text(json.dumps(self.epochs, indent=1))

    def state_dict(self) -> dict:
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict: dict) -> None:
        self.epochs = list(state_dict.get("epochs", []))


class StopOnNonFiniteLoss(L.Callback):
    """Stops the run with a clear message at the first NaN or infinite training loss, before the bad
    weights reach a checkpoint (the last good checkpoint stays as it was)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not math.isfinite(float(loss)):
            raise FloatingPointError(
                f"Training loss is {float(loss)} at epoch {trainer.current_epoch}, step {trainer.global_step} "
                f"(batch {batch_idx}). Try a lower model.optimizer.lr or trainer.gradient_clip_val=1.0; "
                "the last good checkpoint is kept."
            )
