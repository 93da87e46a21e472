"""Reliability: kill and resume, clean stops on signals, reproducible runs, non-finite losses, unsafe or
corrupt checkpoints. The runs; the in-process checks
are in tests/unit/test_reliability.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from helpers import run_module, tiny_train_overrides

from lstm_imdb.data import IMDBDataModule
from lstm_imdb.inference.checkpoint import load_checkpoint
from lstm_imdb.models import SentimentClassifier
from lstm_imdb.training.callbacks import StopOnNonFiniteLoss
from lstm_imdb.utils.checkpoint_file import read_checkpoint

STEADY = [
    "trainer.max_epochs=6",
    "trainer.deterministic=true",
    "callbacks.early_stopping.patience=100",
    "data.batch_size=4",
    "model.recurrent_dropout=0.3",
    "model.output_dropout=0.2",
]


def start_run(root: Path, acl_dir: Path, run_dir: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "LSTM_IMDB_ROOT": str(root), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "lstm_imdb.train", *tiny_train_overrides(acl_dir, run_dir), *STEADY, *extra]
    return subprocess.Popen(
        args,
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell's background job (`make test &`, some CI runners) ignores SIGINT, and children inherit
        # that: give the run Python's own Ctrl-C handling, as in a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_epochs(proc: subprocess.Popen, run_dir: Path, n: int, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if len(json.loads((run_dir / "history.json").read_text())) >= n:
                return
        except (OSError, ValueError):
            pass
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise TimeoutError(f"no {n} epochs within {timeout} s")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, acl_dir):
    """An uninterrupted deterministic run."""
    root = tmp_path_factory.mktemp("reference")
    run_dir = root / "logs" / "train" / "runs" / "ref"
    run_module("lstm_imdb.train", *tiny_train_overrides(acl_dir, run_dir), *STEADY, root=root)
    return run_dir


def test_same_config_and_seed_give_identical_results(reference, acl_dir, tmp_path):
    run_dir = tmp_path / "logs" / "train" / "runs" / "again"
    run_module("lstm_imdb.train", *tiny_train_overrides(acl_dir, run_dir), *STEADY, root=tmp_path)
    a = json.loads((reference / "test_metrics.json").read_text())
    b = json.loads((run_dir / "test_metrics.json").read_text())
    assert a["test/loss"] == b["test/loss"] and a["test/acc"] == b["test/acc"]
    ha = json.loads((reference / "history.json").read_text())
    hb = json.loads((run_dir / "history.json").read_text())
    assert [r["train/loss"] for r in ha] == [r["train/loss"] for r in hb]
    env = json.loads((run_dir / "environment.json").read_text())
    assert env["torch"].startswith("2.13.0") and env["lightning"] and "git_commit" in env
    assert env["data"]["source"] == "acl" and len(env["data"]["train"]) == 64


def _kill_and_resume(acl_dir, tmp_path, reference: Path, *extra: str, epochs: int = 6) -> None:
    """Kill a run after 2 of its `epochs` epochs, resume it from last.ckpt: the same losses and test
    figures as the uninterrupted `reference` run."""
    killed_dir = tmp_path / "logs" / "train" / "runs" / "killed"
    proc = start_run(tmp_path, acl_dir, killed_dir, *extra)
    wait_for_epochs(proc, killed_dir, 2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    done = len(json.loads((killed_dir / "history.json").read_text()))
    assert done < epochs, "the run finished before it could be killed"

    resumed_dir = tmp_path / "logs" / "train" / "runs" / "resumed"
    run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(acl_dir, resumed_dir),
        *STEADY,
        *extra,
        "ckpt_path=last",
        root=tmp_path,
    )
    history = json.loads((resumed_dir / "history.json").read_text())
    assert [r["epoch"] for r in history] == list(range(epochs))  # the planned epochs, earlier ones kept
    ref_history = json.loads((reference / "history.json").read_text())
    assert [r["train/loss"] for r in history] == pytest.approx(
        [r["train/loss"] for r in ref_history], abs=1e-6
    )
    got = json.loads((resumed_dir / "test_metrics.json").read_text())
    want = json.loads((reference / "test_metrics.json").read_text())
    assert got["test/loss"] == pytest.approx(want["test/loss"], abs=1e-6)
    assert got["test/acc"] == want["test/acc"]


def test_killed_run_resumes_to_the_same_result(reference, acl_dir, tmp_path):
    _kill_and_resume(acl_dir, tmp_path, reference)


def test_killed_bidirectional_run_resumes_to_the_same_result(acl_dir, tmp_path):
    """A bidirectional model runs each direction through a kernel of its own, built at its first forward:
    building it must not draw from the RNG that the dropout masks come from (without a sanity check,
    that first forward is the first training step of each process)."""
    extra = ("model=bilstm", "trainer.num_sanity_val_steps=0", "trainer.max_epochs=4")
    (tmp_path / "ref").mkdir()
    reference = tmp_path / "ref" / "logs" / "train" / "runs" / "reference"
    run_module(
        "lstm_imdb.train", *tiny_train_overrides(acl_dir, reference), *STEADY, *extra, root=tmp_path / "ref"
    )
    _kill_and_resume(acl_dir, tmp_path, reference, *extra, epochs=4)


def test_resuming_a_finished_run_says_so_and_tests_its_best_checkpoint(reference, acl_dir, tmp_path):
    """`ckpt_path=` a run that already reached max_epochs: nothing to train, no crash; its best is tested."""
    again = tmp_path / "logs" / "train" / "runs" / "again"
    proc = run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(acl_dir, again),
        *STEADY,
        f"ckpt_path={reference / 'checkpoints' / 'last.ckpt'}",
        root=tmp_path,
    )
    assert "nothing left to train; raise trainer.max_epochs" in proc.stdout + proc.stderr
    got = json.loads((again / "test_metrics.json").read_text())
    want = json.loads((reference / "test_metrics.json").read_text())
    assert got["test/acc"] == want["test/acc"] and got["val/acc_best"] == want["val/acc_best"]


@pytest.mark.parametrize(("sig", "what"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C")])
def test_signals_stop_cleanly_after_saving(acl_dir, tmp_path, sig, what):
    run_dir = tmp_path / "logs" / "train" / "runs" / "stopped"
    proc = start_run(tmp_path, acl_dir, run_dir, "trainer.max_epochs=50")
    wait_for_epochs(proc, run_dir, 1)
    while not (run_dir / "checkpoints" / "last.ckpt").exists():  # history.json is written just before it
        time.sleep(0.01)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0, f"the run did not stop on {what}:\n{(out + err)[-3000:]}"
    assert f"Stopped by {what}" in out + err and "ckpt_path=" in out + err
    assert (run_dir / "checkpoints" / "interrupted.ckpt").is_file()
    last = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")  # whole, not cut short by the signal
    assert last["global_step"] > 0 and "state_dict" in last
    load_checkpoint(run_dir / "checkpoints" / "last.ckpt")  # and it evaluates and predicts alone


def test_resume_last_finds_the_run_it_continues_and_refuses_what_does_not_fit(acl_dir, tmp_path):
    """`ckpt_path=last` takes the newest run of this data and model config (not the newest run), says which,
    and counts the epochs it trained apart from the run's; a config that fits no run, or a checkpoint that
    does not fit the config, is refused naming what differs (exit 2, no traceback, no run folder left)."""
    runs = tmp_path / "logs" / "train" / "runs"
    train = lambda name, *extra, check=True: run_module(  # noqa: E731
        "lstm_imdb.train", *tiny_train_overrides(acl_dir, runs / name, *extra), root=tmp_path, check=check
    )
    train("h16", "trainer.max_epochs=1")
    train("h8", "trainer.max_epochs=1", "model.hidden_size=8")  # newer, another model
    proc = train("more", "trainer.max_epochs=2", "ckpt_path=last")  # h16's config, one epoch more
    out = proc.stdout + proc.stderr
    assert f"ckpt_path=last: resuming {runs / 'h16'}" in out
    assert "then 1 epoch trained by this process (2 in the run: resumed after epoch 1)" in out
    assert [r["epoch"] for r in json.loads((runs / "more" / "history.json").read_text())] == [0, 1]
    h16_last = runs / "h16" / "checkpoints" / "last.ckpt"
    for extra, messages in [
        ("ckpt_path=last", [f"The newest, {runs / 'more'} (overrides: ", "model.hidden_size: 16 -> 32"]),
        (f"ckpt_path={h16_last}", ["does not fit the model this config builds", "in the checkpoint, ("]),
    ]:
        proc = train("refused", "model.hidden_size=32", extra, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2 and "Traceback" not in out, out[-3000:]
        assert all(m in out for m in messages), out[-3000:]
        assert not (runs / "refused").exists()  # nothing was run: no folder for TensorBoard or notebooks


def test_a_config_value_refused_at_set_up_leaves_no_run_folder(acl_dir, tmp_path):
    runs = tmp_path / "logs" / "train" / "runs"
    overrides = [o for o in tiny_train_overrides(acl_dir, tmp_path / "u") if not o.startswith("hydra.")]
    proc = run_module("lstm_imdb.train", *overrides, "model.optimizer.lr=-1", root=tmp_path, check=False)
    assert (
        proc.returncode == 2
        and "model.optimizer.lr=-1: must be a finite number > 0" in proc.stdout + proc.stderr
    )
    assert not list(runs.iterdir())  # neither the run's folder nor a _FAILED one: nothing ran


def test_resume_from_a_corrupt_checkpoint_fails_clearly(acl_dir, tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    proc = run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(acl_dir, tmp_path / "run"),
        f"ckpt_path={bad}",
        root=tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and "not a readable checkpoint" in proc.stdout + proc.stderr
    assert not (tmp_path / "data").exists()


class NaNAfter(torch.nn.Module):
    """A loss that turns NaN after `after` calls."""

    def __init__(self, loss: torch.nn.Module, after: int):
        super().__init__()
        self.loss, self.after, self.calls = loss, after, 0

    def forward(self, logits, labels):
        self.calls += 1
        value = self.loss(logits, labels)
        return value * float("nan") if self.calls > self.after else value


def test_non_finite_loss_stops_with_step_and_keeps_last_good_checkpoint(acl_dir, tmp_path):
    dm = IMDBDataModule(
        data_dir=str(tmp_path / "data"),
        source="acl",
        acl_dir=str(acl_dir),
        num_words=50,
        sequence_length=20,
        batch_size=16,
    )
    model = SentimentClassifier(vocab_size=50, embedding_dim=4, hidden_size=4)
    model.loss_fn = NaNAfter(model.loss_fn, after=14)  # 12 steps an epoch: NaN in epoch 2
    ckpt = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="last", monitor=None)
    trainer = L.Trainer(
        max_epochs=5,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1,
        callbacks=[ckpt, StopOnNonFiniteLoss()],
    )
    with pytest.raises(FloatingPointError, match=r"Training loss is nan at epoch 1, step \d+"):
        trainer.fit(model, datamodule=dm)
    loaded = load_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert all(torch.isfinite(p).all() for p in loaded.model.parameters())
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["epoch"] == 0


def test_killed_run_with_weight_averaging_resumes_to_the_same_result(acl_dir, tmp_path):
    """Killed after the average has started: the resumed run restores the average and the weights being
    trained, and ends where the uninterrupted run does."""
    extra = (
        "callbacks=[default,weight_averaging]",
        "callbacks.weight_averaging.start=0.2",
        "trainer.max_epochs=4",
    )
    (tmp_path / "ref").mkdir()
    reference = tmp_path / "ref" / "logs" / "train" / "runs" / "reference"
    run_module(
        "lstm_imdb.train", *tiny_train_overrides(acl_dir, reference), *STEADY, *extra, root=tmp_path / "ref"
    )
    assert "current_model_state" in read_checkpoint(reference / "checkpoints" / "last.ckpt")
    _kill_and_resume(acl_dir, tmp_path, reference, *extra, epochs=4)
