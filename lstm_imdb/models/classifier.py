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
from torchmetrics import MaxMetric, MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, BinaryF1Score

from lstm_imdb.models.adversarial import adversarial_perturbation
from lstm_imdb.models.encoder import RNNEncoder
from lstm_imdb.models.optim import build_optimizers, check_optimizers, plain
from lstm_imdb.models.pretrained import (
    init_from_language_model,
    init_from_vectors,
    validate_knowledge_options,
)
from lstm_imdb.models.wide import sparse_wide_weights
from lstm_imdb.models.wide_hooks import WidePartHooks
from lstm_imdb.utils.decision import THRESHOLD
from lstm_imdb.utils.errors import refuse

# The datamodule's test dataloaders come in this order (rotten_tomatoes only when the source has it).
TEST_SPLITS = ("test", "rotten_tomatoes")
DEFAULT_OPTIMIZER = {"_target_": "torch.optim.Adam", "lr": 1e-3}


def _metrics(prefix: str) -> MetricCollection:
    return MetricCollection(
        {
            "acc": BinaryAccuracy(threshold=THRESHOLD),
            "f1": BinaryF1Score(threshold=THRESHOLD),
            "auroc": BinaryAUROC(),
        },
        prefix=prefix,
    )


def _loss_setting_problems(bag_loss_weight, deep_loss_weight, label_smoothing) -> list[str]:
    problems = [
        f"model.{key}={value!r}: must be a number >= 0"
        for key, value in (("bag_loss_weight", bag_loss_weight), ("deep_loss_weight", deep_loss_weight))
        if not isinstance(value, (int, float)) or not 0 <= value < math.inf
    ]
    if not isinstance(label_smoothing, (int, float)) or not 0 <= label_smoothing < 1:
        problems.append(
            f"model.label_smoothing={label_smoothing!r}: must be in [0, 1) (0: off; 0.1 aims at 0.05 and 0.95)"
        )
    return problems


class SentimentClassifier(WidePartHooks, L.LightningModule):
    """`encoder_kwargs` are `RNNEncoder`'s options (vocab_size, embedding_dim, hidden_size, num_layers,
    bidirectional, cell, pooling, dropout, recurrent_dropout, output_dropout, init), flat in the config so
    that users write `model.hidden_size=256`.

    Outside knowledge (docs/quality.md): `vectors` (e.g. glove-6b-50d) and/or `init_from` (a language model
    of `python -m lstm_imdb.pretrain`) initialize the encoder when a fit starts (a resumed fit then loads
    its checkpoint over them); `freeze_embedding` keeps the embedding rows fixed; `pretrained_lr_scale`
    multiplies the learning rate of the embedding and recurrent weights (ULMFiT's discriminative rates,
    two groups); `adversarial_eps` > 0 adds the loss under an adversarial perturbation of the embeddings;
    `bag_loss_weight` > 0 adds the n-gram bag's own loss, `deep_loss_weight` the deep part's;
    `label_smoothing` trains towards eps/2 and 1 - eps/2 instead of 0 and 1 (see `_training_losses`).

    The wide part (`wide_buckets` > 0, with the datamodule's `data.wide` features): NBSVM is fitted when a
    fit starts (`wide_fit`, `models/wide.py`), fixed, and training reads each training review's out-of-fold
    wide logit; evaluation and prediction read the fitted layer.
    """

    def __init__(
        self,
        optimizer: dict | None = None,
        scheduler: dict | None = None,
        scheduler_monitor: str = "val/loss",
        scheduler_interval: str = "epoch",
        vectors: str | None = None,
        freeze_embedding: bool = False,
        init_from: str | None = None,
        adversarial_eps: float = 0.0,
        pretrained_lr_scale: float = 1.0,
        bag_loss_weight: float = 0.0,
        deep_loss_weight: float = 0.0,
        label_smoothing: float = 0.0,
        wide_fit: dict | None = None,
        **encoder_kwargs,
    ):
        super().__init__()
        self.net = RNNEncoder(**encoder_kwargs)  # validates its options; an unknown one is a TypeError
        wide_fit = self._prepare_wide_part(wide_fit)
        validate_knowledge_options(vectors, freeze_embedding, init_from, adversarial_eps, pretrained_lr_scale)
        optimizer = plain(optimizer) or dict(DEFAULT_OPTIMIZER)
        scheduler = plain(scheduler) or None  # model/scheduler=none composes to {}
        refuse("model", _loss_setting_problems(bag_loss_weight, deep_loss_weight, label_smoothing))
        check_optimizers(optimizer, scheduler, scheduler_interval)
        if freeze_embedding:
            self.net.embedding.weight.requires_grad_(False)
        self.save_hyperparameters(
            {
                **encoder_kwargs,
                "optimizer": optimizer,
                "scheduler": scheduler,
                "scheduler_monitor": scheduler_monitor,
                "scheduler_interval": scheduler_interval,
                "vectors": vectors,
                "freeze_embedding": freeze_embedding,
                "init_from": init_from,
                "adversarial_eps": adversarial_eps,
                "pretrained_lr_scale": pretrained_lr_scale,
                "bag_loss_weight": bag_loss_weight,
                "deep_loss_weight": deep_loss_weight,
                "label_smoothing": label_smoothing,
                "wide_fit": wide_fit,
            }
        )
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.train_metrics = _metrics("train/")
        self.val_metrics = _metrics("val/")
        self.test_metrics = nn.ModuleDict({name: _metrics(f"{name}/") for name in TEST_SPLITS})
        # The best val/acc of the whole run: kept in checkpoints, so a resumed run remembers the epochs
        # before the stop (the sanity check's validation never counts).
        self.val_acc_best = MaxMetric()
        self.knowledge: dict = {}  # what `setup` put into the encoder (coverage), for the logs
        # Filled by `test_step`: split -> (probabilities, labels) in the split's row order, for the report.
        self.test_predictions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # ... and the split's rows they are for (all of them, unless test batches were limited)
        self.test_rows: dict[str, np.ndarray] = {}
        self._test_buffers: dict[str, list[tuple[torch.Tensor, ...]]] = {}
        # training rows' out-of-fold wide logits (set by `setup` when a fit starts; not in checkpoints)
        self.wide_out_of_fold: torch.Tensor | None = None
        self._val_parts: list[tuple[torch.Tensor, ...]] = []  # a wide model's validation logits

    def forward(self, input_ids: torch.Tensor, **wide) -> torch.Tensor:
        """Logits [B] of the positive class (`wide`: the batch's wide_ids and wide_offsets, if any)."""
        return self.net(input_ids, **wide)

    def _step(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = self(batch["input_ids"], **self.wide_inputs(batch)).float()
        labels = batch["labels"]
        loss = self.loss_fn(logits, labels.float())
        return loss, torch.sigmoid(logits), labels

    # ------------------------------------------------------------------ outside knowledge
    def setup(self, stage: str) -> None:
        """Before a fit: word vectors, then a pretrained LM (it may carry its own rows for the same words).
        Lightning restores a resumed fit's checkpoint after this hook, so a resume keeps its own weights."""
        hp = self.hparams
        if stage != "fit":
            return
        self.knowledge = {}
        if self.net.wide is not None:
            self._fit_wide_part(self.trainer.datamodule)
        if not (hp.vectors or hp.init_from):
            return
        datamodule = self.trainer.datamodule
        vocab = datamodule.tokenizer.get_vocab()
        if hp.vectors:
            self.knowledge["vectors"] = init_from_vectors(
                self.net.embedding, vocab, hp.vectors, datamodule.data_dir
            )
        if hp.init_from:
            self.knowledge["init_from"] = init_from_language_model(
                self.net.embedding, self.net.rnn, vocab, hp.init_from
            )

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.val_acc_best.update_called:
            checkpoint["val_acc_best"] = float(self.val_acc_best.compute())
        if self.net.wide is not None:  # after the callbacks' hooks, so weight averaging's copy too
            sparse_wide_weights(checkpoint, "net.wide.")

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.val_acc_best.reset()
        if "val_acc_best" in checkpoint:
            self.val_acc_best.update(torch.tensor(checkpoint["val_acc_best"]))

    # ------------------------------------------------------------------ train / val
    def _training_losses(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(the optimized total, the clean loss, probabilities, labels) with the extra terms that
        `adversarial_eps`, `bag_loss_weight` and `deep_loss_weight` ask for, each logged under its own name:
        - adversarial (`train/adv_loss`): the loss at the embeddings moved along the loss's gradient
          (`models/adversarial.py`); the bag's logit is shared (it does not read embeddings);
        - the bag's own loss (`train/bag_loss`): the n-gram bag's logit alone as a classifier, so that the
          bag keeps learning after the recurrent path has fit the training reviews (jointly, it stops
          getting a gradient); the deep part's own loss (`train/deep_loss`: the recurrence's logit
          plus the bag's, without the wide part's) likewise keeps it a classifier of its own beside a wide
          part that already fits most reviews.
        With `label_smoothing`, every optimized term aims at the smoothed labels; the clean loss (logged as
        `train/loss`) stays the loss against the labels themselves, comparable with `val/loss`."""
        labels = batch["labels"]
        smoothing = self.hparams.label_smoothing
        target = labels.float() * (1 - smoothing) + smoothing / 2
        ids, mask, embedded = self.net.embed(batch["input_ids"])
        if self.hparams.adversarial_eps > 0 and not embedded.requires_grad:
            # a frozen embedding: the perturbation needs the gradient at its output, not at its weights
            embedded = embedded.detach().requires_grad_(True)
        recurrent = self.net.recurrent_logit(embedded, mask)
        bag = self.net.bag_logit(ids)
        wide = self.net.wide_raw(**self.wide_inputs(batch))

        def combined(recurrent_logit):  # the bag's and the wide part's logits do not read embeddings
            deep = recurrent_logit.float() if bag is None else recurrent_logit.float() + bag
            return self.net.combine(deep, wide)

        logits = combined(recurrent)
        total = self.loss_fn(logits, target)
        loss = total if smoothing == 0 else self.loss_fn(logits.detach(), labels.float())
        bs = len(labels)
        if self.hparams.adversarial_eps > 0:
            (grad,) = torch.autograd.grad(total, embedded, retain_graph=True)
            moved = embedded + adversarial_perturbation(grad, embedded, mask, self.hparams.adversarial_eps)
            adv_loss = self.loss_fn(combined(self.net.recurrent_logit(moved, mask)), target)
            self.log("train/adv_loss", adv_loss, on_step=False, on_epoch=True, batch_size=bs, sync_dist=True)
            total = total + adv_loss
        hp = self.hparams
        for name, weight, logit in (
            ("bag", hp.bag_loss_weight, bag),
            ("deep", hp.deep_loss_weight, recurrent if bag is None else recurrent.float() + bag),
        ):
            if weight > 0 and logit is not None:
                own = self.loss_fn(logit.float(), target)
                self.log(
                    f"train/{name}_loss", own, on_step=False, on_epoch=True, batch_size=bs, sync_dist=True
                )
                total = total + weight * own
        return total, loss, torch.sigmoid(logits), labels

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        """Returns the loss to optimize; logs `train/loss` as the clean loss (the same figure as
        `val/loss`, whatever extra terms are on) and, when there are extra terms, the optimized sum as
        `train/loss_total`."""
        bs = len(batch["labels"])
        # on_step=False: values are accumulated on device and reduced once per epoch, across ranks under
        # DDP (sync_dist), with no host sync per step
        hp = self.hparams
        extra = (hp.adversarial_eps, hp.bag_loss_weight, hp.deep_loss_weight, hp.label_smoothing)
        if any(value > 0 for value in extra):
            total, loss, probs, labels = self._training_losses(batch)
            self.log("train/loss_total", total, on_step=False, on_epoch=True, batch_size=bs, sync_dist=True)
        else:
            loss, probs, labels = self._step(batch)
            total = loss
        self.train_metrics.update(probs, labels)
        self.log(
            "train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True
        )
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=bs)
        return total

    @property
    def validation_metrics(self) -> set[str]:
        """What every validation pass logs: what callbacks and the scheduler may monitor."""
        return {"val/loss", "val/acc_best", *self.val_metrics.keys()}

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        if self.net.wide is not None:  # scored at the epoch's end, with the blend fitted on them
            parts = self.net.deep_logit(batch["input_ids"]), self.net.wide_raw(**self.wide_inputs(batch))
            self._val_parts.append((parts[0].float(), parts[1], batch["labels"]))
            return
        loss, probs, labels = self._step(batch)
        self.val_metrics.update(probs, labels)
        self.log("val/loss", loss, on_epoch=True, prog_bar=True, batch_size=len(labels), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        if self._val_parts:
            self._score_blended_validation()
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
    def _param_groups(self) -> list[dict]:
        """One group, or two when `pretrained_lr_scale` != 1: the embedding and recurrent weights (what
        pretraining sets) at that multiple of the learning rate, the rest (head, bag) at the rate."""
        trainable = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        scale = self.hparams.pretrained_lr_scale
        if scale == 1:
            return [{"params": [p for _, p in trainable]}]
        lower = [p for n, p in trainable if n.startswith(("net.embedding.", "net.rnn."))]
        rest = [p for n, p in trainable if not n.startswith(("net.embedding.", "net.rnn."))]
        lr = self.hparams.optimizer.get("lr", 1e-3)
        return [{"params": lower, "lr": lr * scale}, {"params": rest, "lr": lr}]

    def configure_optimizers(self):
        return build_optimizers(
            self._param_groups(),
            self.hparams.optimizer,
            self.hparams.scheduler,
            lambda: self.trainer.estimated_stepping_batches,
            interval=self.hparams.scheduler_interval,
            monitor=self.hparams.scheduler_monitor,
        )
