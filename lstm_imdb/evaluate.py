"""Re-test a checkpoint (or an ensemble of checkpoints) on the validation split, the test split and
rotten_tomatoes, and write the same report as training.

python -m lstm_imdb.evaluate ckpt_path=logs/train/runs/<run>/checkpoints/best.ckpt
python -m lstm_imdb.evaluate ckpt_path=... data.source=acl data.acl_dir=/path/to/aclImdb

The validation score is the one to choose between models and ensembles with: it is computed on the same
held-out reviews the checkpoints were validated on (the split is drawn with `data.val_seed`, stored in
each checkpoint), and never used for training them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from lstm_imdb.checkpoint import CheckpointError, load_checkpoint, load_ensemble
from lstm_imdb.data.datamodule import IMDBDataModule
from lstm_imdb.paths import CONFIG_DIR
from lstm_imdb.report import deduplicated_metrics, summary_lines, write_report
from lstm_imdb.runtime import instantiate_group, tensorboard_writer

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    paths = list(cfg.ckpt_path) if OmegaConf.is_list(cfg.ckpt_path) else [cfg.ckpt_path]
    loaded = load_ensemble(paths) if len(paths) > 1 else load_checkpoint(paths[0])
    overrides = {k: v for k, v in cfg.data.items() if v is not None}
    datamodule = IMDBDataModule(**{**loaded.data_hparams, **overrides})
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    datamodule.setup("test")
    if datamodule.tokenizer.to_str() != loaded.tokenizer.to_str():
        # the data differ from training: encode with the checkpoint's vocabulary, as the model expects
        log.warning("The data's vocabulary differs from the checkpoint's; re-encoding with the checkpoint's")
        datamodule.use_tokenizer(loaded.tokenizer)
    metrics = {}
    for results in trainer.validate(loaded.model, datamodule=datamodule):
        metrics.update({k: float(v) for k, v in results.items() if k != "val/acc_best"})
    for results in trainer.test(loaded.model, datamodule=datamodule):
        metrics.update({k: float(v) for k, v in results.items()})
    metrics.update(
        deduplicated_metrics(loaded.model.test_predictions, datamodule.seen_in_train, loaded.model.test_rows)
    )
    out_dir = Path(cfg.paths.output_dir)
    write_report(
        out_dir,
        metrics,
        loaded.model.test_predictions,
        None,
        tensorboard_writer(loggers),
        extra={"checkpoints": [str(p) for p in paths]},
    )
    log.info("Report: %s", out_dir)
    for line in summary_lines(metrics):
        log.info(line)
    return metrics


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> None:
    try:
        evaluate(cfg)
    except CheckpointError as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    main()
