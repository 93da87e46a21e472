"""One set-up for `train` and `pretrain`: seed, the checkpoint to resume from, and every object built
from the config (data, model, callbacks, loggers, trainer) before any data work, so a bad value fails in
seconds; then the run's environment.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from omegaconf import DictConfig

from lstm_imdb.inference.resolve import resume_path
from lstm_imdb.runs.folder import ENVIRONMENT, write_json
from lstm_imdb.runs.provenance import environment
from lstm_imdb.training.callbacks import MetricHistory
from lstm_imdb.training.hparams import print_config_tree
from lstm_imdb.training.precision import check_precision


def instantiate_group(cfg: DictConfig | None) -> list:
    """Instantiate every `_target_` entry of a callbacks or logger group (None/empty gives [])."""
    if not cfg:
        return []
    return [instantiate(c) for c in cfg.values() if isinstance(c, DictConfig) and "_target_" in c]


def tensorboard_writer(loggers: list[Logger]):
    for lg in loggers:
        if isinstance(lg, TensorBoardLogger):
            return lg.experiment
    return None


@dataclass
class Run:
    """A run ready to fit: what `build_run` made from the config."""

    cfg: DictConfig
    out_dir: Path
    ckpt_path: str | None
    datamodule: L.LightningDataModule
    model: L.LightningModule
    callbacks: list
    loggers: list
    trainer: L.Trainer
    env: dict

    @property
    def history(self) -> MetricHistory | None:
        return next((c for c in self.callbacks if isinstance(c, MetricHistory)), None)

    def write_environment(self, **more) -> None:
        write_json(self.out_dir / ENVIRONMENT, {**self.env, **more})


def build_run(cfg: DictConfig, model_key: str = "model") -> Run:
    """Everything `cfg` describes, built; `model_key`: the config node of the LightningModule."""
    if cfg.get("print_config"):
        print_config_tree(cfg, order=("data", model_key, "trainer", "callbacks", "logger"))
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    ckpt_path = resume_path(cfg.get("ckpt_path"), cfg.paths.log_dir, cfg.task_name)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg[model_key])
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    check_precision(trainer.precision, trainer.strategy.root_device.type)
    env = {**environment(), "tags": list(cfg.get("tags") or []), "precision": str(trainer.precision)}
    run = Run(cfg, Path(cfg.paths.output_dir), ckpt_path, datamodule, model, callbacks, loggers, trainer, env)
    run.write_environment()
    return run
