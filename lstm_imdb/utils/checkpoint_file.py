"""Reading a checkpoint file safely (`weights_only=True`: no pickled code runs), with one error type for
every way it can fail. What is inside is interpreted by `lstm_imdb.inference.checkpoint` (a classifier)
and `lstm_imdb.models.pretrained` (a language model)."""

from __future__ import annotations

from pathlib import Path

import torch


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable, or not one of this project's."""


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"ckpt_path={str(path)!r}: no such file. Pass a .ckpt from a run's checkpoints/ folder."
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, random bytes, pickled code refused by weights_only, ...
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(err).__name__}: {err})") from err
