"""Lightning's TensorBoard logger, written the way a reader of TensorBoard needs it. TensorBoard opens on
its first two tag groups, in name order, and collapses the rest: so the curves are `train/*` (the learning
rate as `train/lr`, at the epoch it was used in) and `val/*`, against the epoch (from 0, as the logs and
history.json number them), with no `epoch` chart; the test splits' figures are not charts but HPARAMS'
metrics, as `~final/<metric>` (a group that sorts after every letter; the report's figures are
`~report/*`). Hyperparameters are written as each
run's session only (no experiment summary), so that HPARAMS lists every run's settings and puts first
those that differ between the runs shown (its own rule when no run imposes a column list)."""

from __future__ import annotations

from typing import Any

from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

FINAL = "~final"


class RunTensorBoardLogger(TensorBoardLogger):
    def __init__(
        self, *args, final_splits: tuple[str, ...] = ("test", "test_dedup", "rotten_tomatoes"), **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.final_splits = tuple(final_splits)  # `<split>/...` metrics: shown in HPARAMS only
        self._learning_rates: dict[str, float] = {}

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        metrics = {k: v for k, v in metrics.items() if k.split("/")[0] not in self.final_splits}
        epoch = metrics.pop("epoch", None)  # Lightning adds it to every metric logged by `self.log`
        if epoch is None and metrics and all(k.startswith("lr-") for k in metrics):
            # LearningRateMonitor logs `lr-<optimizer>` at an epoch's start, by step: kept for that epoch
            if len(metrics) == 1:
                metrics = {"train/lr": next(iter(metrics.values()))}
            self._learning_rates.update(
                {k if k.startswith("train/") else f"train/{k}": v for k, v in metrics.items()}
            )
            return
        if epoch is not None:
            metrics, self._learning_rates = {**self._learning_rates, **metrics}, {}
            step = int(epoch)
        if metrics:
            super().log_metrics(metrics, step)

    @rank_zero_only
    def log_hyperparams(
        self, params: Any, metrics: dict[str, Any] | None = None, step: int | None = None
    ) -> None:
        super().log_hyperparams(params, metrics=None, step=step)  # kept for hparams.yaml; writes nothing more
        if not metrics:
            return
        from torch.utils.tensorboard.summary import hparams

        self.log_metrics(metrics, step)
        _, session_start, session_end = hparams(
            self._sanitize_params(_flatten_dict(_convert_params(params))), metrics
        )
        writer = self.experiment._get_file_writer()
        writer.add_summary(session_start, step)
        writer.add_summary(session_end, step)
