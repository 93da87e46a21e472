"""Which checkpoint files a `ckpt_path=` names: one place for evaluate, predict and resuming."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import OmegaConf

from lstm_imdb.runs.folder import LAST, checkpoints_under
from lstm_imdb.utils.checkpoint_file import CheckpointError, read_checkpoint

log = logging.getLogger(__name__)


def checkpoint_paths(ckpt_path) -> list[Path]:
    """A checkpoint, a list of them, or a folder (a run or a sweep): every `checkpoints/best.ckpt` in it."""
    if ckpt_path in (None, ""):
        raise CheckpointError("ckpt_path is not set: pass a .ckpt file, a run folder or a sweep folder")
    paths = [Path(p) for p in (list(ckpt_path) if OmegaConf.is_list(ckpt_path) else [ckpt_path])]
    found = []
    for p in paths:
        if p.is_dir():
            inside = checkpoints_under(p)
            if not inside:
                raise CheckpointError(f"ckpt_path={str(p)!r}: a folder with no checkpoints/best.ckpt in it")
            found.extend(inside)
        else:
            found.append(p)
    return found


def resume_path(ckpt_path: str | None, log_dir: str | Path, task_name: str) -> str | None:
    """The checkpoint a run resumes from: `last` -> the newest `last.ckpt` under `log_dir/task_name/`. The
    file must be a readable checkpoint: a missing or corrupt one fails here, before any data work."""
    if ckpt_path in (None, ""):
        return None
    if ckpt_path == "last":
        candidates = sorted(
            checkpoints_under(Path(log_dir, task_name), LAST), key=lambda p: p.stat().st_mtime
        )
        if not candidates:
            raise CheckpointError(f"ckpt_path=last: no last.ckpt under {Path(log_dir, task_name)}")
        ckpt_path = str(candidates[-1])
    read_checkpoint(ckpt_path)
    log.info("Resuming from %s", ckpt_path)
    return str(ckpt_path)
