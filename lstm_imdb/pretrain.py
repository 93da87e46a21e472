"""Pretrain a language model whose embedding and recurrent weights start a classifier.

python -m lstm_imdb.pretrain experiment=best_single             # the shape of the model to fine-tune
python -m lstm_imdb.train experiment=best_single model.init_from=logs/pretrain/runs/<run>/checkpoints/best.ckpt
python -m lstm_imdb.pretrain experiment=best_single ckpt_path=last   # resume

Reads the training part of IMDB's train split only (the validation part measures perplexity; test text is
never read). Writes `pretrain_metrics.json` (perplexity, times, the checkpoint and the command that
fine-tunes from it) into the run folder.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from lstm_imdb.callbacks import MetricHistory
from lstm_imdb.checkpoint import CheckpointError
from lstm_imdb.paths import CONFIG_DIR
from lstm_imdb.runtime import (
    environment,
    instantiate_group,
    print_config_tree,
    resolve_ckpt_path,
    write_json,
)

log = logging.getLogger(__name__)


def pretrain(cfg: DictConfig) -> dict:
    if cfg.get("print_config"):
        print_config_tree(cfg, order=("data", "lm", "trainer", "callbacks", "logger"))
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    out_dir = Path(cfg.paths.output_dir)
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), cfg.paths.log_dir, cfg.task_name)
    datamodule: L.LightningDataModule = instantiate(cfg.data)
    lm: L.LightningModule = instantiate(cfg.lm)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    history = next((c for c in callbacks if isinstance(c, MetricHistory)), None)
    env = {**environment(), "tags": list(cfg.get("tags") or []), "precision": str(trainer.precision)}
    write_json(out_dir / "environment.json", env)

    start = time.perf_counter()
    trainer.fit(lm, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    fit_s = time.perf_counter() - start
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    val_loss = float(trainer.checkpoint_callback.best_model_score) if best else float("nan")
    # the best epoch's row: its perplexity over the words in the vocabulary ([UNK] targets left out)
    rows = [r for r in (history.epochs if history else []) if "val/loss" in r]
    best_row = min(rows, key=lambda r: r["val/loss"]) if rows else {}
    metrics = {
        "val/loss_best": val_loss,
        "val/ppl_best": math.exp(min(val_loss, 50.0)),
        "val/ppl_known_best": best_row.get("val/ppl_known", float("nan")),
        **{k: float(v) for k, v in trainer.callback_metrics.items()},
        "time/fit_s": fit_s,
        "time/epoch_s": history.epoch_seconds() if history else float("nan"),
        "epochs": trainer.current_epoch,
        "best_checkpoint": best,
        "fine_tune": f"python -m lstm_imdb.train <the same experiment= and model.* overrides> model.init_from={best}",
    }
    write_json(out_dir / "pretrain_metrics.json", {**metrics, "data": datamodule.data_fingerprint})
    if trainer.is_global_zero:
        log.info("Run folder: %s", out_dir)
        log.info(
            "Pretrained %d epochs in %.1f s (%.1f s/epoch): best val loss %.4f per word (perplexity %.1f; "
            "%.1f over the words in the vocabulary)",
            metrics["epochs"],
            fit_s,
            metrics["time/epoch_s"],
            val_loss,
            metrics["val/ppl_best"],
            metrics["val/ppl_known_best"],
        )
        log.info("Fine-tune from it: %s", metrics["fine_tune"])
    return metrics


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="pretrain")
def main(cfg: DictConfig) -> float:
    try:
        metrics = pretrain(cfg)
    except CheckpointError as err:
        log.error("%s", err)
        sys.exit(2)
    except SIGTERMException:
        log.error("Stopped by SIGTERM (resume with ckpt_path=last)")
        sys.exit(143)
    return metrics["val/loss_best"]


if __name__ == "__main__":
    main()
