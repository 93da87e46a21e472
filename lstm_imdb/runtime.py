"""What the entry points share: building callbacks and loggers from config, finding checkpoints,
recording the environment of a run."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
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


def seconds_since_process_start() -> float:
    """Seconds since this process started (the interpreter's start-up and imports included); NaN where
    the OS does not say."""
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except Exception:  # psutil missing or the OS refuses: the figure is informative only
        return float("nan")


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_root(), capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def git_dirty() -> bool | None:
    """True when the code or configs differ from the commit (the run's code is not exactly `git_commit`);
    generated docs do not count."""
    try:
        out = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "lstm_imdb",
                "conf",
                "pyproject.toml",
            ],
            cwd=project_root(),
            capture_output=True,
            text=True,
            timeout=5,
        )
        return bool(out.stdout.strip()) if out.returncode == 0 else None
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
        "git_dirty": git_dirty(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
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


# Settings that cannot change a result (where files live, how fast batches arrive, where it runs): kept
# out of TensorBoard's HPARAMS, whose columns should be what a researcher compares.
_NOT_HPARAMS = {
    "_recursive_",
    "data_dir",
    "acl_dir",
    "source",
    "hub_timeout",
    "num_workers",
    "pin_memory",
    "eval_batch_size",
    "default_root_dir",
    "accelerator",
    "devices",
    "num_nodes",
    "log_every_n_steps",
    "check_val_every_n_epoch",
    "sync_batchnorm",
    "use_distributed_sampler",
    "scheduler_monitor",
    "profiler",
}


def _flat(prefix: str, node) -> dict:
    """Nested config -> {"prefix/key/...": value}; a `_target_` becomes `name` (its class name)."""
    if not isinstance(node, dict):
        return {prefix: node}
    out = {}
    for key, value in node.items():
        if key in _NOT_HPARAMS or value is None:
            continue
        if key == "_target_":
            out[f"{prefix}/name"] = str(value).rsplit(".", 1)[-1]
        else:
            out.update(_flat(f"{prefix}/{key}", value))
    return out


def collect_hyperparameters(cfg: DictConfig, model: L.LightningModule, extra: dict) -> dict:
    """What TensorBoard's HPARAMS tab compares, flat: the seed and tags first, then the settings that can
    change a result (model, optimizer, scheduler, data sizes, the trainer's epochs, precision and
    clipping); no paths, worker counts or `_target_` strings of the model and data classes."""
    model_cfg, data_cfg, trainer_cfg = (
        {k: v for k, v in OmegaConf.to_container(cfg[group], resolve=True).items() if k != "_target_"}
        for group in ("model", "data", "trainer")
    )
    return {
        "seed": cfg.get("seed"),
        "tags": ",".join(map(str, cfg.get("tags") or [])),
        **_flat("model", model_cfg),
        **_flat("data", data_cfg),
        **_flat("trainer", trainer_cfg),
        "params/total": sum(p.numel() for p in model.parameters()),
        **extra,
    }


@rank_zero_only
def print_config_tree(cfg: DictConfig, order=("data", "model", "trainer", "callbacks", "logger")):
    """The composed config as a tree (rich), its main groups first; `print_config=false` turns it off."""
    from rich import print as rich_print
    from rich.syntax import Syntax
    from rich.tree import Tree

    tree = Tree("config", guide_style="dim")
    keys = [k for k in order if k in cfg] + [k for k in cfg if k not in order and k != "hydra"]
    for key in keys:
        value = cfg[key]
        if isinstance(value, DictConfig):
            try:
                text = OmegaConf.to_yaml(value, resolve=True)
            except Exception:  # an interpolation that only resolves later: show it as written
                text = OmegaConf.to_yaml(value)
        else:
            text = str(value)
        tree.add(str(key)).add(Syntax(text.rstrip(), "yaml", theme="ansi_dark", background_color="default"))
    rich_print(tree)


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
