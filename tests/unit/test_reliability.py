"""Reliability: kill and resume, clean stops on signals, reproducible runs, non-finite losses, unsafe or
corrupt checkpoints. The in-process checks; the runs
are in tests/e2e/test_reliability.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lstm_imdb.inference.checkpoint import load_checkpoint
from lstm_imdb.training.callbacks import StopOnNonFiniteLoss
from lstm_imdb.utils.checkpoint_file import CheckpointError


def test_checkpoints_with_pickled_code_are_refused(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Path("/etc/passwd")}, path)  # an arbitrary pickled object
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_non_finite_loss_is_recorded_on_device_and_reported_at_the_next_check():
    """No host sync per step: the loss is looked at only every `check_every_n_steps` steps (and before
    validation and at the end of an epoch), and the report names the first bad step, not the later one."""
    from types import SimpleNamespace

    callback = StopOnNonFiniteLoss(check_every_n_steps=4)
    trainer = SimpleNamespace(current_epoch=3, global_step=0)
    for batch_idx, value in enumerate([0.7, float("nan"), 0.5]):
        trainer.global_step = 100 + batch_idx
        callback.on_train_batch_end(trainer, None, {"loss": torch.tensor(value)}, None, batch_idx)
    trainer.global_step = 103
    with pytest.raises(FloatingPointError, match=r"nan at epoch 3, step 101 \(batch 1\)"):
        callback.on_train_batch_end(trainer, None, {"loss": torch.tensor(float("inf"))}, None, 3)
