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
from lstm_imdb.report import finish_run
from lstm_imdb.runtime import instantiate_group, tensorboard_writer

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    paths = list(cfg.ckpt_path) if OmegaConf.is_list(cfg.ckpt_path) else [cfg.ckpt_path]
    loaded = load_ensemble(paths) if len(paths) > 1 else load_checkpoint(paths[0])
    overrides = {k: v for k, v in cfg.data.items() if v is not None}
    # the data encoded with the checkpoint's vocabulary, as the model expects, whatever the data
    datamodule = IMDBDataModule(**{**loaded.data_hparams, **overrides}, tokenizer=loaded.tokenizer)
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    metrics = {}
    for results in trainer.validate(loaded.model, datamodule=datamodule):
        metrics.update({k: float(v) for k, v in results.items() if k != "val/acc_best"})
    for results in trainer.test(loaded.model, datamodule=datamodule):
        metrics.update({k: float(v) for k, v in results.items()})
    return finish_run(
        Path(cfg.paths.output_dir),
        metrics,
        loaded.model.test_predictions,
        datamodule.seen_in_train,
        rows=loaded.model.test_rows,
        tb_writer=tensorboard_writer(loggers),
        extra={"checkpoints": [str(p) for p in paths]},
    )


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> None:
    try:
        evaluate(cfg)
    except CheckpointError as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    main()
