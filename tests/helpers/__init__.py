"""Running the project's command-line entry points in a subprocess, on tiny data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import torch

from lstm_imdb.training.callbacks import StopOnNonFiniteLoss

TESTS_DIR = Path(__file__).resolve().parents[1]  # importable in subprocesses: `helpers.<probe>` targets


def run_module(
    module: str,
    *overrides: str,
    root: Path,
    timeout: int = 300,
    check: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "LSTM_IMDB_ROOT": str(root),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        # the tests folder is importable, for fault-injection targets such as helpers.ExplodingSGD
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
        "TOKENIZERS_PARALLELISM": "false",
        "HYDRA_FULL_ERROR": "0",
    }
    proc = subprocess.run(
        [sys.executable, "-m", module, *overrides],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        timeout=timeout,
        cwd=root,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{module} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


def tiny_train_overrides(acl_dir: Path, run_dir: Path, *extra: str) -> list[str]:
    """A small, fast, learnable setting of the default config on the tiny aclImdb folder."""
    return [
        "data.source=acl",
        f"data.acl_dir={acl_dir}",
        "data.num_words=60",
        "data.sequence_length=40",
        "data.batch_size=16",
        "model.embedding_dim=8",
        "model.hidden_size=16",
        "model.optimizer.lr=0.02",
        "trainer.max_epochs=4",
        "trainer.accelerator=cpu",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


class ExplodingSGD(torch.optim.SGD):
    """Fault injection for sweep tests: after `after` steps the weights become NaN, as in a diverging run."""

    def __init__(self, params, lr: float = 0.01, after: int = 2, **kwargs):
        super().__init__(params, lr=lr, **kwargs)
        self.after, self.steps = after, 0

    @torch.no_grad()
    def step(self, closure=None):
        loss = super().step(closure)
        self.steps += 1
        if self.steps >= self.after:
            for group in self.param_groups:
                for p in group["params"]:
                    p.fill_(float("nan"))
        return loss


class SpoilBeforeValidation(L.Callback):
    """Fault injection for resume tests: before each validation of a run, the head's bias is pushed so far
    negative that every review is called negative, so those epochs are worse than any trained one."""

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            with torch.no_grad():
                pl_module.net.head.bias.fill_(-100.0)


class RecordValidationRows(L.Callback):
    """Probe for DDP tests: each rank writes the rows of the validation reviews it scored in its last
    validation to `<dirpath>/val_rows_rank<r>.json`."""

    def __init__(self, dirpath: str):
        self.dirpath, self.rows = Path(dirpath), []

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self.rows = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if not trainer.sanity_checking:
            self.rows.extend(batch["index"].tolist())

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.dirpath.mkdir(parents=True, exist_ok=True)
            (self.dirpath / f"val_rows_rank{trainer.global_rank}.json").write_text(json.dumps(self.rows))


class NonFiniteLossOnRank(StopOnNonFiniteLoss):
    """Fault injection for DDP tests: the loss that rank `rank` reports at batch `batch` of the first
    epoch is NaN (the other ranks' losses, and every gradient, stay finite)."""

    def __init__(self, rank: int = 1, batch: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.rank, self.batch = rank, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_rank == self.rank and trainer.current_epoch == 0 and batch_idx == self.batch:
            outputs = {"loss": torch.tensor(float("nan"))}
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
