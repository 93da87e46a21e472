"""`SentimentClassifier`: the LightningModule around `RNNEncoder`: loss, metrics, optimizer, scheduler.

Its hyperparameters are plain values (the optimizer and scheduler are `_target_` dicts instantiated in
`configure_optimizers`), so checkpoints load with `weights_only=True` and carry everything to rebuild it.
"""

from __future__ import annotations

import math

import lightning as L
import numpy as np
import torch
import torch.nn as nn
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from torchmetrics import MaxMetric, MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, BinaryF1Score

from lstm_imdb.decision import THRESHOLD
from lstm_imdb.models.encoder import RNNEncoder

# The datamodule's test dataloaders come in this order (rotten_tomatoes only when the source has it).
TEST_SPLITS = ("test", "rotten_tomatoes")
DEFAULT_OPTIMIZER = {"_target_": "torch.optim.Adam", "lr": 1e-3}


def _plain(cfg):
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


def _check_target(key: str, cfg: dict | None, base: type) -> None:
    """Fail early (before any data work) on a `_target_` that is not an importable `base` subclass."""
    if cfg is None:
        return
    target = cfg.get("_target_") if isinstance(cfg, dict) else None
    if not target:
        raise ValueError(f"{key} needs a _target_ (e.g. torch.optim.Adam), got {cfg}")
    try:
        cls = get_class(target)
    except Exception as err:
        raise ValueError(f"{key}._target_={target!r}: cannot be imported ({err})") from err
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"{key}._target_={target!r}: not a {base.__module__}.{base.__name__}")


def _metrics(prefix: str) -> MetricCollection:
    return MetricCollection(
        {
            "acc": BinaryAccuracy(threshold=THRESHOLD),
            "f1": BinaryF1Score(threshold=THRESHOLD),
            "auroc": BinaryAUROC(),
        },
        prefix=prefix,
    )


class SentimentClassifier(L.LightningModule):
    """`encoder_kwargs` are `RNNEncoder`'s options (vocab_size, embedding_dim, hidden_size, num_layers,
    bidirectional, cell, pooling, dropout, recurrent_dropout, output_dropout, init), flat in the config so
    that users write `model.hidden_size=256`."""

    def __init__(
        self,
        optimizer: dict | None = None,
        scheduler: dict | None = None,
        scheduler_monitor: str = "val/loss",
        scheduler_interval: str = "epoch",
        **encoder_kwargs,
    ):
        super().__init__()
        self.net = RNNEncoder(**encoder_kwargs)  # validates its options; an unknown one is a TypeError
        optimizer = _plain(optimizer) or dict(DEFAULT_OPTIMIZER)
        scheduler = _plain(scheduler) or None  # model/scheduler=none composes to {}
        _check_target("model.optimizer", optimizer, torch.optim.Optimizer)
        _check_target("model.scheduler", scheduler, torch.optim.lr_scheduler.LRScheduler)
        lr = optimizer.get("lr", 1.0)
        if not isinstance(lr, (int, float)) or not (0 < lr < math.inf):
            raise ValueError(f"model.optimizer.lr={lr!r}: must be a finite number > 0")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"model.scheduler_interval={scheduler_interval!r}: must be epoch or step")
        self.save_hyperparameters(
            {
                **encoder_kwargs,
                "optimizer": optimizer,
                "scheduler": scheduler,
                "scheduler_monitor": scheduler_monitor,
                "scheduler_interval": scheduler_interval,
            }
        )
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.train_metrics = _metrics("train/")
        self.val_metrics = _metrics("val/")
        self.test_metrics = nn.ModuleDict({name: _metrics(f"{name}/") for name in TEST_SPLITS})
        # The best val/acc of the whole run: kept in checkpoints, so a resumed run remembers the epochs
        # before the stop (the sanity check's validation never counts).
        self.val_acc_best = MaxMetric()
        # Filled by `test_step`: split -> (probabilities, labels) in the split's row order, for the report.
        self.test_predictions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # ... and the split's rows they are for (all of them, unless test batches were limited)
        self.test_rows: dict[str, np.ndarray] = {}
        self._test_buffers: dict[str, list[tuple[torch.Tensor, ...]]] = {}

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits [B] of the positive class."""
        return self.net(input_ids)

    def _step(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = self(batch["input_ids"]).float()
        labels = batch["labels"]
        loss = self.loss_fn(logits, labels.float())
        return loss, torch.sigmoid(logits), labels

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.val_acc_best.update_called:
            checkpoint["val_acc_best"] = float(self.val_acc_best.compute())

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.val_acc_best.reset()
        if "val_acc_best" in checkpoint:
            self.val_acc_best.update(torch.tensor(checkpoint["val_acc_best"]))

    # ------------------------------------------------------------------ train / val
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, probs, labels = self._step(batch)
        bs = len(labels)
        self.train_metrics.update(probs, labels)
        # on_step=False: values are accumulated on device and reduced once per epoch, across ranks under
        # DDP (sync_dist), with no host sync per step
        self.log(
            "train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True
        )
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=bs)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, probs, labels = self._step(batch)
        self.val_metrics.update(probs, labels)
        self.log("val/loss", loss, on_epoch=True, prog_bar=True, batch_size=len(labels), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        for key, value in values.items():
            self.log(key, value, prog_bar=key == "val/acc", sync_dist=True)  # already synced: the same value
        if not self.trainer.sanity_checking:
            self.val_acc_best(values["val/acc"])
        self.log(
            "val/acc_best",
            self.val_acc_best.compute() if self.val_acc_best.update_called else values["val/acc"],
        )

    # ------------------------------------------------------------------ test
    def on_test_epoch_start(self) -> None:
        self._test_buffers = {}
        self.test_predictions = {}
        self.test_rows = {}

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        name = TEST_SPLITS[dataloader_idx]
        loss, probs, labels = self._step(batch)
        self.test_metrics[name].update(probs, labels)
        self.log(f"{name}/loss", loss, add_dataloader_idx=False, batch_size=len(labels), sync_dist=True)
        self.log_dict(self.test_metrics[name], add_dataloader_idx=False)
        index = batch.get("index", torch.full_like(labels, -1))
        self._test_buffers.setdefault(name, []).append(
            (probs.detach().cpu(), labels.detach().cpu(), index.detach().cpu())
        )

    def on_test_epoch_end(self) -> None:
        """Every split's predictions in its row order, from all ranks under DDP (each review once)."""
        loaders = self.trainer.test_dataloaders
        count = len(loaders) if isinstance(loaders, (list, tuple)) else int(loaders is not None)
        names = TEST_SPLITS[:count] or tuple(self._test_buffers)
        for name in names:
            parts = self._test_buffers.get(name, [])
            mine = [torch.cat(column) for column in zip(*parts, strict=True)] if parts else None
            gathered = [mine]
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                gathered = [None] * torch.distributed.get_world_size()
                torch.distributed.all_gather_object(gathered, mine)  # every rank calls it, once per split
            gathered = [g for g in gathered if g is not None]
            if not gathered:
                continue
            probs, labels, index = (torch.cat(column) for column in zip(*gathered, strict=True))
            order = torch.argsort(index, stable=True)  # back to the split's row order
            if (index >= 0).all() and len(torch.unique(index)) != len(index):
                raise RuntimeError(f"{name}: some reviews were scored more than once across ranks")
            self.test_predictions[name] = (probs[order].float().numpy(), labels[order].numpy())
            self.test_rows[name] = index[order].numpy()

    # ------------------------------------------------------------------ optimization
    def configure_optimizers(self):
        optimizer = instantiate(self.hparams.optimizer, params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        cfg = dict(self.hparams.scheduler)
        # a scheduler config may say when it steps (`interval: step`) and what it watches (`monitor`)
        interval = cfg.pop("interval", self.hparams.scheduler_interval)
        monitor = cfg.pop("monitor", self.hparams.scheduler_monitor)
        if cfg.get("total_steps") == "auto":  # e.g. OneCycleLR: every optimizer step of the planned run
            cfg["total_steps"] = int(self.trainer.estimated_stepping_batches)
        scheduler = instantiate(cfg, optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": monitor, "interval": interval},
        }
