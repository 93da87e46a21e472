"""What the entry points share: building callbacks and loggers from config, finding checkpoints,
recording the environment of a run."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

import lstm_imdb
from lstm_imdb import allocator
from lstm_imdb.checkpoint import CheckpointError, read_checkpoint
from lstm_imdb.paths import project_root

log = logging.getLogger(__name__)


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


def resolve_ckpt_path(ckpt_path: str | None, log_dir: str | Path, task_name: str) -> str | None:
    """`last` -> the newest `last.ckpt` under `log_dir/task_name/`. The file must be a readable checkpoint:
    a missing or corrupt one fails here, before any data work."""
    if ckpt_path in (None, ""):
        return None
    if ckpt_path == "last":
        candidates = sorted(
            Path(log_dir, task_name).glob("**/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime
        )
        if not candidates:
            raise CheckpointError(f"ckpt_path=last: no last.ckpt under {Path(log_dir, task_name)}")
        ckpt_path = str(candidates[-1])
    read_checkpoint(ckpt_path)
    log.info("Resuming from %s", ckpt_path)
    return str(ckpt_path)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_root(), capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    """Versions and commit that produced a run (written to the run folder)."""
    import lightning
    import tokenizers
    import torchmetrics

    return {
        "lstm_imdb": lstm_imdb.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "torchmetrics": torchmetrics.__version__,
        "tokenizers": tokenizers.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "device": torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "malloc_tuned": allocator.tuned,
    }


def cpu_model() -> str | None:
    """The CPU's model name (Linux), for the run's record."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def collect_hyperparameters(cfg: DictConfig, model: L.LightningModule, extra: dict) -> dict:
    """The composed config's model, data and trainer parts (what TensorBoard's HPARAMS tab compares)."""
    return {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "data": OmegaConf.to_container(cfg.data, resolve=True),
        "trainer": OmegaConf.to_container(cfg.trainer, resolve=True),
        "seed": cfg.get("seed"),
        "params/total": sum(p.numel() for p in model.parameters()),
        **extra,
    }


def log_hyperparameters(trainer: L.Trainer, hparams: dict, metrics: dict[str, float] | None = None) -> None:
    """Send hparams to every logger; with `metrics`, TensorBoard also records them as the run's final
    values in its HPARAMS tab (Lightning's TensorBoardLogger writes the hparams summary only then)."""
    for lg in trainer.loggers:
        if isinstance(lg, TensorBoardLogger) and metrics:
            lg.log_hyperparams(hparams, metrics=metrics)
        elif metrics:
            lg.log_metrics(metrics, step=trainer.global_step)
        else:
            lg.log_hyperparams(hparams)
        lg.save()


@rank_zero_only  # under DDP only rank 0 writes run files
def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
