"""The wide part's share of `SentimentClassifier` (the Lightning hooks around `models/wide.py`): fitting
NBSVM when a fit starts, the out-of-fold logits that training reads, and the blend fitted on validation."""

from __future__ import annotations

import logging

import torch

from lstm_imdb.models.wide import WideLinear, fit_blend, score_validation, wide_fit_settings
from lstm_imdb.models.wide_cache import cached_fit_wide
from lstm_imdb.utils.errors import ConfigError

log = logging.getLogger(__name__)


class WidePartHooks:
    """Mixed into `SentimentClassifier`; a model without a wide part (`net.wide` None) skips all of it."""

    def _prepare_wide_part(self, wide_fit: dict | None) -> dict | None:
        """`wide_fit` checked, with its defaults (None without a wide part); the layer fixed, and with
        `refit_with_validation` given a second, held-out fit."""
        if self.net.wide is None:
            return None
        wide_fit = wide_fit_settings(wide_fit)
        if wide_fit["refit_with_validation"]:
            # without drawing from the random stream (an EmbeddingBag draws its initial weights), so that
            # training, validation and the blend are those of the same settings without the refit, bit for bit
            with torch.random.fork_rng(devices=[]):
                self.net.wide.held_out = WideLinear(self.net.wide.weight.num_embeddings)
        self.net.wide.requires_grad_(False)  # fitted by NBSVM in `setup`, then fixed
        return wide_fit

    def wide_inputs(self, batch: dict) -> dict:
        """The wide part's input from a batch: while training, the rows' out-of-fold logits. An ensemble
        whose members read the reviews differently gets every view of the batch (`data/views.py`)."""
        if getattr(self.net, "member_views", None) is not None:
            return {"views": batch["views"]}
        if not self.net.reads_wide:
            return {}
        if self.training and self.wide_out_of_fold is not None:
            return {"wide_raw": self.wide_out_of_fold.to(batch["index"].device)[batch["index"]]}
        return {k: batch[k] for k in ("wide_ids", "wide_offsets") if k in batch}

    def on_validation_start(self) -> None:
        # a wide part refitted with the validation reviews scores them with its fit that has not seen them
        score_validation(self.net, True)

    def on_validation_end(self) -> None:
        score_validation(self.net, False)

    def _fit_wide_part(self, datamodule) -> None:
        """NBSVM into the wide layer, and the out-of-fold logits that training reads (a resumed fit refits
        the same, then loads its checkpoint over the layer)."""
        self.wide_out_of_fold, self.knowledge["wide"] = fit_wide_layer(
            self.net.wide, datamodule, self.hparams.wide_fit
        )

    def _score_blended_validation(self) -> None:
        """A wide model's validation: during a fit (not its sanity check), the blend is fitted on every
        rank's validation logits first (`models/wide.py`); each rank then scores its own reviews."""
        deep, wide, labels = (torch.cat(column) for column in zip(*self._val_parts, strict=True))
        self._val_parts = []
        fitting = self.trainer.state.fn == "fit" and not self.trainer.sanity_checking
        if fitting and self.hparams.wide_fit["blend_on_validation"]:
            gathered = [(deep.cpu(), wide.cpu(), labels.cpu())]
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                gathered = [None] * torch.distributed.get_world_size()
                torch.distributed.all_gather_object(gathered, (deep.cpu(), wide.cpu(), labels.cpu()))
            with torch.no_grad():
                self.net.blend.copy_(fit_blend(*(torch.cat(c) for c in zip(*gathered, strict=True))))
        logits = self.net.combine(deep, wide)
        self.val_metrics.update(torch.sigmoid(logits), labels)
        loss = self.loss_fn(logits, labels.float())
        self.log("val/loss", loss, prog_bar=True, batch_size=len(labels), sync_dist=True)


def fit_wide_layer(layer: WideLinear, datamodule, settings: dict) -> tuple[torch.Tensor, dict]:
    """NBSVM on the datamodule's training part, loaded into `layer` (read from the data folder's cache when
    an earlier run made the same fit: models/wide_cache.py); returns the training rows' out-of-fold logits
    and what to log about the fit. A layer with a held-out fit (`refit_with_validation`) gets that one
    there, and NBSVM refitted on the training and validation reviews as its main fit, as `baseline=nbsvm`
    refits on every training review before its test."""
    wide = getattr(datamodule, "wide", {})
    buckets = layer.weight.num_embeddings
    if "train" not in wide or wide["train"].shape[1] != buckets:
        have = wide["train"].shape[1] if "train" in wide else None
        raise ConfigError(
            f"model.wide_buckets={buckets}: the datamodule's wide features have {have} buckets; "
            "set data.wide (model.wide_buckets follows data.wide.buckets unless overridden)"
        )
    labels = datamodule.splits["train"].labels
    extra = (wide["val"], datamodule.splits["val"].labels) if layer.held_out is not None else None
    fitted, cached = cached_fit_wide(
        wide["train"], labels, settings, extra, getattr(datamodule, "data_dir", None)
    )
    if fitted.refit is None:
        layer.load_fit(fitted.weight, fitted.bias)
    else:
        layer.held_out.load_fit(fitted.weight, fitted.bias)
        layer.load_fit(*fitted.refit)
    accuracy = float(((fitted.out_of_fold > 0) == labels).mean())
    log.info("Wide part: out-of-fold accuracy on the training part %.4f", accuracy)
    return torch.from_numpy(fitted.out_of_fold), {
        "fit_s": round(fitted.seconds, 1),
        "cached": cached,
        "train_out_of_fold_acc": accuracy,
    }
