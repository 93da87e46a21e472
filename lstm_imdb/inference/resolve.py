"""Which checkpoint files a `ckpt_path=` names, for evaluate and predict (resuming: training/resume.py)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from lstm_imdb.runs.folder import checkpoints_under
from lstm_imdb.utils.checkpoint_file import CheckpointError


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
