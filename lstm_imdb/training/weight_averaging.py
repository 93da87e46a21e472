"""Averaged weights late in training (SWA, or EMA with `decay`), on Lightning's `WeightAveraging`: from a
fraction `start` of the fit's optimizer steps on, validation scores the averaged weights, so the best
checkpoint, the test and `evaluate` / `predict` use them.

`'callbacks=[default,weight_averaging]'` turns it on (conf/callbacks/weight_averaging.yaml).

What this adds to Lightning's callback, for this project's models:
- nothing is swapped in before the first average: validation before `start` scores the weights being
  trained (an average of nothing would be the untrained weights, and early stopping would see chance);
- checkpoints hold the average of the trained parameters with the model's own fixed ones and buffers (the
  wide part's NBSVM weights and its blend, fitted on validation), not averages or stale copies of them;
- testing a checkpoint keeps the averaged weights it holds (Lightning's callback would load the weights
  being trained back over them).
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn

from lstm_imdb.utils.errors import refuse


class LateWeightAveraging(WeightAveraging):
    """`start`: the fraction of the fit's optimizer steps after which the average is kept (0: all of them);
    `decay`: None for an equal average of every step since (SWA), or an EMA decay in (0, 1)."""

    def __init__(self, start: float = 0.5, decay: float | None = None, device: Any = None) -> None:
        problems = []
        if not isinstance(start, (int, float)) or not 0 <= start < 1:
            problems.append(
                f"callbacks.weight_averaging.start={start!r}: the fraction of the training steps after which "
                "weights are averaged, in [0, 1) (0.5: the second half)"
            )
        if decay is not None and (not isinstance(decay, (int, float)) or not 0 < decay < 1):
            problems.append(
                f"callbacks.weight_averaging.decay={decay!r}: null for an equal average (SWA), or an EMA decay "
                "in (0, 1) such as 0.999"
            )
        refuse("callbacks", problems)
        kwargs = {} if decay is None else {"multi_avg_fn": get_ema_multi_avg_fn(decay)}
        super().__init__(device=device, use_buffers=False, **kwargs)
        self.start, self.decay = start, decay
        self._first_step = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._first_step = int(self.start * trainer.estimated_stepping_batches)

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        return step_idx is not None and step_idx >= self._first_step

    def _averaging(self) -> bool:
        return self._average_model is not None and int(self._average_model.n_averaged) > 0

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._averaging():
            super().on_validation_epoch_start(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._averaging():
            super().on_validation_epoch_end(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the trained parameters only: the rest (buffers, the fitted blend) are the model's own
        if self._averaging():
            for average, current in zip(
                self._average_model.module.parameters(), pl_module.parameters(), strict=True
            ):
                if current.requires_grad:
                    current.data.copy_(average.data)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        if not self._averaging():
            return  # a plain checkpoint: nothing averaged yet
        super().on_save_checkpoint(trainer, pl_module, checkpoint)
        averaged, current = checkpoint["state_dict"], checkpoint["current_model_state"]
        trained = {name for name, p in pl_module.named_parameters() if p.requires_grad}
        checkpoint["state_dict"] = {k: averaged[k] if k in trained else v for k, v in current.items()}

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        # a fit resumed from an averaging checkpoint restores both states; testing keeps the averaged weights
        if trainer.state.fn == "fit" and "current_model_state" in checkpoint:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
