"""One set-up for `train` and `pretrain`: seed, the checkpoint to resume from (training/resume.py), and every object built
from the config (data, model, callbacks, loggers, trainer) before any data work, so a bad value fails in
seconds; then the run's environment.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from omegaconf import DictConfig

from lstm_imdb.runs.folder import ENVIRONMENT, write_json
from lstm_imdb.runs.provenance import environment
from lstm_imdb.training.callbacks import MetricHistory
from lstm_imdb.training.hparams import print_config_tree, print_overrides
from lstm_imdb.training.precision import check_precision
from lstm_imdb.training.resume import check_fits, resume_checkpoint
from lstm_imdb.training.trainer_config import check_monitors, check_trainer_config
from lstm_imdb.utils.errors import ConfigError


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


def show_config(cfg: DictConfig, model_key: str) -> None:
    """`print_config`: `overrides` (the default: what this command changed, and where the run folder is),
    `full` (the composed config as a tree; it is always in the run's .hydra/config.yaml) or false."""
    mode = cfg.get("print_config")
    if mode in (True, "full"):
        print_config_tree(cfg, order=("data", model_key, "trainer", "callbacks", "logger"))
    elif mode == "overrides":
        print_overrides(cfg)
    elif mode not in (False, None, "none"):
        raise ConfigError(f"print_config={mode!r}: must be overrides, full or false")


def build_run(cfg: DictConfig, model_key: str = "model") -> Run:
    """Everything `cfg` describes, built; `model_key`: the config node of the LightningModule."""
    show_config(cfg, model_key)
    check_trainer_config(cfg.get("trainer"))
    if cfg.get("seed") is not None:
        if not isinstance(cfg.seed, int) or isinstance(cfg.seed, bool):
            raise ConfigError(f"seed={cfg.seed!r}: must be an integer")
        L.seed_everything(cfg.seed, workers=True)
    resumed = resume_checkpoint(cfg, ("data", model_key))  # (path, contents), read once here
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg[model_key])
    ckpt_path = None
    if resumed is not None:
        check_fits(model, *resumed)
        ckpt_path = str(resumed[0])
    check_monitors(cfg.get("callbacks"), model)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    check_precision(trainer.precision, trainer.strategy.root_device.type)
    env = {**environment(), "tags": list(cfg.get("tags") or []), "precision": str(trainer.precision)}
    run = Run(cfg, Path(cfg.paths.output_dir), ckpt_path, datamodule, model, callbacks, loggers, trainer, env)
    run.write_environment()
    return run
