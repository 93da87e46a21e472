"""Callbacks of this project (Lightning's own ones are used for everything else)."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lstm_imdb.runs.folder import HISTORY, LAST
from lstm_imdb.utils.errors import ConfigError

log = logging.getLogger(__name__)


class MetricHistory(L.Callback):
    """Keeps each epoch's train/val metrics and the learning rate, and writes them to `history.json` in
    the run folder: the training-curves figure and the notebooks read it. It is part of the checkpoint,
    so a resumed run keeps its whole history."""

    def __init__(self, filename: str = HISTORY):
        self.filename = filename
        self.epochs: list[dict] = []
        self._epoch_start = 0.0
        self.first_batch_at: float | None = None  # time.perf_counter() at this process's first batch
        self.epochs_this_run = 0  # not restored on resume: the epochs this process trained

    def epoch_seconds(self) -> float:
        """Mean wall time of this process's epochs, validation included (under DDP, each rank's own; rank
        0's is the one reported, and its epochs end together with the others' at the epoch-end syncs)."""
        times = [r["epoch_s"] for r in self.epochs[len(self.epochs) - self.epochs_this_run :]]
        return sum(times) / len(times) if times else float("nan")

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.first_batch_at is None:  # the first training batch of this process
            self.first_batch_at = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        # wall time of the epoch, its validation included
        row = {
            "epoch": trainer.current_epoch,
            "step": trainer.global_step,
            "epoch_s": time.perf_counter() - self._epoch_start,
        }
        for key, value in trainer.callback_metrics.items():
            if key.startswith(("train/", "val/")):
                row[key] = float(value)
        if trainer.optimizers:
            row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.epochs = [r for r in self.epochs if r["epoch"] != row["epoch"]] + [row]
        self.epochs_this_run += 1
        if not trainer.is_global_zero:
            return
        log.info(
            "epoch %d: %s",
            row["epoch"],
            "  ".join(
                f"{k} {row[k]:.4f}"
                for k in ("train/loss", "train/acc", "val/loss", "val/acc", "lr")
                if k in row
            ),
        )
        if trainer.default_root_dir:
            path = Path(trainer.default_root_dir) / self.filename
            path.write_text(json.dumps(self.epochs, indent=1))

    def state_dict(self) -> dict:
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict: dict) -> None:
        self.epochs = list(state_dict.get("epochs", []))


class StopOnNonFiniteLoss(L.Callback):
    """Stops the run with a clear message at a NaN or infinite training loss, before the bad weights reach
    a checkpoint (the last good checkpoint stays as it was).

    Checked without a host sync per step: each step only updates, on the loss's device, a record of the
    first non-finite loss (its epoch, step, batch and value). The host reads that record every
    `check_every_n_steps` steps and before every validation and end of epoch (so before any checkpoint is
    written), which keeps a GPU from waiting on the host after each step. Under DDP the ranks' records
    are gathered at each check (every rank checks at the same steps), so that all ranks stop together,
    with the same message, when any one of them saw a non-finite loss: a rank that stopped alone would
    leave the others waiting in their next collective.
    """

    def __init__(self, check_every_n_steps: int = 50):
        if check_every_n_steps < 1:
            raise ConfigError(f"check_every_n_steps={check_every_n_steps!r}: must be >= 1")
        self.check_every_n_steps = check_every_n_steps
        self._record: torch.Tensor | None = None  # [found, epoch, step, batch, loss]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None:
            self._update(trainer, loss.detach().float().reshape(()), batch_idx)
        if (batch_idx + 1) % self.check_every_n_steps == 0:
            self.check(trainer, pl_module)

    def _update(self, trainer, loss: torch.Tensor, batch_idx: int) -> None:
        if self._record is None:
            self._record = torch.zeros(5, device=loss.device)
        where = (1.0, trainer.current_epoch, trainer.global_step, batch_idx)
        # fills on the device (a host-to-device copy of a list would wait for the GPU's queue)
        now = torch.stack([torch.full((), float(v), device=loss.device) for v in where] + [loss])
        first_bad = (self._record[0] == 0) & ~torch.isfinite(loss)
        self._record = torch.where(first_bad, now, self._record)

    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.check(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.check(trainer, pl_module)

    def check(self, trainer, pl_module=None) -> None:
        """Raise FloatingPointError if a non-finite loss was recorded on any rank (one host sync and,
        under DDP, one gather of 5 numbers a rank)."""
        world = getattr(trainer, "world_size", 1)
        if world == 1 and self._record is None:
            return
        record = self._record
        if record is None:  # this rank has no loss yet; the others may have
            record = torch.zeros(5, device=pl_module.device if pl_module is not None else "cpu")
        records = trainer.strategy.all_gather(record).reshape(-1, 5) if world > 1 else record.reshape(1, 5)
        records = records.tolist()
        bad = [rank for rank, r in enumerate(records) if r[0]]
        if not bad:
            return
        self._record = None
        found, epoch, step, batch, value = records[bad[0]]
        where = f" on rank {bad[0]} of {world}" if world > 1 else ""
        raise FloatingPointError(
            f"Training loss is {value} at epoch {int(epoch)}, step {int(step)} (batch {int(batch)}){where}. "
            "Try a lower model.optimizer.lr or trainer.gradient_clip_val=1.0; the last good checkpoint "
            "is kept."
        )


class RNGState(L.Callback):
    """Puts the python, numpy and torch RNG states into every checkpoint and restores them on resume, so a
    resumed run draws the same dropout masks as one that was never stopped. Stored as plain tensors and
    ints, so checkpoints still load with `weights_only=True`."""

    def state_dict(self) -> dict:
        version, mt, gauss = random.getstate()
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        state = {
            "python": {"version": version, "mt": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
            "numpy": {
                "keys": torch.from_numpy(keys.astype(np.int64)),
                "pos": int(pos),
                "has_gauss": int(has_gauss),
                "cached": float(cached),
            },
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        if not state:
            return
        py = state["python"]
        random.setstate((py["version"], tuple(int(x) for x in py["mt"]), py["gauss"]))
        nps = state["numpy"]
        np.random.set_state(
            ("MT19937", nps["keys"].numpy().astype(np.uint32), nps["pos"], nps["has_gauss"], nps["cached"])
        )
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointOnInterrupt(L.Callback):
    """On Ctrl-C (SIGINT) or SIGTERM: save `interrupted.ckpt` (the weights at the moment of the stop) and
    say how to resume. Resuming uses `last.ckpt`, written at the end of each epoch: the unfinished epoch is
    run again from its start, which Lightning does reliably (a mid-epoch restart does not)."""

    def __init__(self, dirpath: str):
        self.dirpath = Path(dirpath)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)):
            return
        what = "Ctrl-C" if isinstance(exception, KeyboardInterrupt) else "SIGTERM"
        path = self.dirpath / "interrupted.ckpt"
        trainer.save_checkpoint(path)
        last = self.dirpath / LAST
        log.warning(
            "Stopped by %s at epoch %d, step %d; saved %s. Resume with: python -m lstm_imdb.train <same overrides> "
            "ckpt_path=%s",
            what,
            trainer.current_epoch,
            trainer.global_step,
            path,
            last if last.exists() else path,
        )


class ResumableModelCheckpoint(ModelCheckpoint):
    """Lightning's `ModelCheckpoint` that keeps the best checkpoint of the whole run across a resume.

    Resuming (`ckpt_path=last`) starts a new run folder, so the checkpoint folder changes, and Lightning's
    own callback then forgets the best score so far: the first epoch after the resume becomes "best" even
    when an epoch before the stop was better, and that worse checkpoint is tested. This one copies the
    earlier folder's best checkpoint into the new folder and keeps its score, so the new run folder holds
    the best checkpoint of the whole run (the earlier folder is left as it was).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._best_gone = False  # set on resume when the earlier best checkpoint no longer exists

    @property
    def state_key(self) -> str:
        # the same key as ModelCheckpoint's, so checkpoints written with either resume with either
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def load_state_dict(self, state_dict: dict) -> None:
        old_dir = state_dict.get("dirpath")
        best = state_dict.get("best_model_path") or ""
        if self.monitor is not None and best and not Path(best).is_file():
            return self._forget_the_best(state_dict)
        if self.monitor is None or not old_dir or not self.dirpath or _same_path(old_dir, self.dirpath):
            return super().load_state_dict(state_dict)
        new_best = str(Path(self.dirpath) / Path(best).name)
        _copy_atomic(best, new_best)
        log.info(
            "Resumed run: best checkpoint so far (%s = %s) copied to %s",
            self.monitor,
            state_dict.get("best_model_score"),
            new_best,
        )
        super().load_state_dict(
            {
                **state_dict,
                "dirpath": self.dirpath,
                "best_model_path": new_best,
                "kth_best_model_path": new_best,
                "kth_value": state_dict.get("best_model_score"),
                "best_k_models": {new_best: state_dict.get("best_model_score")},
                "last_model_path": "",
            }
        )

    def _forget_the_best(self, state_dict: dict) -> None:
        """The earlier best checkpoint was deleted or moved: what would be tested, and `val/acc_best`,
        could no longer be the same thing. Both start again from the epochs trained from now on."""
        log.warning(
            "The best checkpoint so far (%s, %s = %s) is gone (deleted or moved): the best checkpoint, the "
            "one tested, and %s_best are chosen again among the epochs trained from now on. To keep the "
            "earlier best, put it back and resume again.",
            state_dict.get("best_model_path"),
            self.monitor,
            state_dict.get("best_model_score"),
            self.monitor,
        )
        same_dir = _same_path(state_dict.get("dirpath") or "", self.dirpath or "")
        super().load_state_dict(
            {
                **state_dict,
                "dirpath": self.dirpath,
                "best_model_path": "",
                "best_model_score": None,
                "kth_best_model_path": "",
                "kth_value": self.kth_value,  # as a new callback has it
                "best_k_models": {},
                "last_model_path": state_dict.get("last_model_path", "") if same_dir else "",
            }
        )
        self._best_gone = True

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after the checkpoint was restored: the model's record of the best score goes with the checkpoint
        if self._best_gone and hasattr(pl_module, "val_acc_best"):
            pl_module.val_acc_best.reset()
        self._best_gone = False


def _same_path(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _copy_atomic(src: str | Path, dst: str | Path) -> None:
    """Copy to a temporary name beside `dst`, then rename: a kill never leaves half a checkpoint."""
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{dst}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
