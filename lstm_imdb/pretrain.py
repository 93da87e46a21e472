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

from omegaconf import DictConfig

from lstm_imdb.cli import entry
from lstm_imdb.runs.folder import PRETRAIN_METRICS, write_json
from lstm_imdb.training.fit import fit
from lstm_imdb.training.setup import build_run

log = logging.getLogger(__name__)


@entry("pretrain")
def main(cfg: DictConfig) -> float:
    """Fit the language model; returns its best validation loss per word (what a sweeper minimizes)."""
    run = build_run(cfg, model_key="lm")
    metrics = fit(run)
    checkpoint = run.trainer.checkpoint_callback
    best = checkpoint.best_model_path if checkpoint else ""
    val_loss = float(checkpoint.best_model_score) if best else float("nan")
    # the best epoch's row: its perplexity over the words in the vocabulary ([UNK] targets left out)
    rows = [r for r in (run.history.epochs if run.history else []) if "val/loss" in r]
    best_row = min(rows, key=lambda r: r["val/loss"]) if rows else {}
    metrics = {
        "val/loss_best": val_loss,
        "val/ppl_best": math.exp(min(val_loss, 50.0)),
        "val/ppl_known_best": best_row.get("val/ppl_known", float("nan")),
        **metrics,
        "best_checkpoint": best,
        "fine_tune": f"python -m lstm_imdb.train <the same experiment= and model.* overrides> model.init_from={best}",
    }
    write_json(run.out_dir / PRETRAIN_METRICS, {**metrics, "data": run.datamodule.data_fingerprint})
    if run.trainer.is_global_zero:
        log.info("Run folder: %s", run.out_dir)
        log.info(
            "Pretrained %d epochs in %.1f s (%.1f s/epoch): best val loss %.4f per word (perplexity %.1f; "
            "%.1f over the words in the vocabulary)",
            *(metrics[k] for k in ("epochs", "time/fit_s", "time/epoch_s", "val/loss_best", "val/ppl_best")),
            metrics["val/ppl_known_best"],
        )
        log.info("Fine-tune from it: %s", metrics["fine_tune"])
    return val_loss


if __name__ == "__main__":
    main()
