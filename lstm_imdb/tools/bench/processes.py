"""The bench's measurements in other processes: the run users make (`python -m lstm_imdb.train` on a
terminal), the seed's Keras code, and the allocator probe (each malloc setting in its own process)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from lstm_imdb.data import IMDBDataModule, load_imdb
from lstm_imdb.models import SentimentClassifier
from lstm_imdb.runs.folder import HISTORY, TEST_METRICS
from lstm_imdb.tools.bench.curves import epoch_checkpoint_overrides, epoch_test_accuracy
from lstm_imdb.tools.bench.loops import TUTORIAL, cycle_batches, plain_loop
from lstm_imdb.training.profiling import callback_seconds
from lstm_imdb.utils.paths import project_root

KERAS_SCRIPT = project_root() / "benchmarks" / "keras_tutorial.py"


def data_overrides(args) -> list[str]:
    out = [
        f"paths.data_dir={args.data_dir}",
        f"data.source={args.source}",
        f"data.num_words={args.num_words}",
    ]
    return out + ([f"data.acl_dir={args.acl_dir}"] if args.acl_dir else [])


def run_in_terminal(cmd: list[str], env: dict | None = None) -> tuple[int, str]:
    """Run `cmd` with its output on a pseudo-terminal, as in a user's shell, so that the progress bar
    draws (and costs) what it does there. Returns the exit status and the output."""
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(), b"".join(chunks).decode(errors="replace")


def train_process(args, out_dir: Path, epochs: int, extra: list[str]) -> tuple[float, list[str], dict, list]:
    """One `python -m lstm_imdb.train experiment=keras_tutorial` process on a terminal, timed from here:
    (whole-process seconds, the command as a user types it, test_metrics.json, history.json)."""
    typed = [
        "experiment=keras_tutorial",
        f"trainer.max_epochs={epochs}",
        f"seed={args.seed}",
        *data_overrides(args),
        *args.train_overrides,
    ]
    cmd = [sys.executable, "-m", "lstm_imdb.train", *typed, f"hydra.run.dir={out_dir}", *extra]
    start = time.perf_counter()
    status, output = run_in_terminal(cmd)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({status}):\n{output[-4000:]}")
    metrics = json.loads((out_dir / TEST_METRICS).read_text())
    return wall, typed, metrics, json.loads((out_dir / HISTORY).read_text())


def bench_real_path(args, out_dir: Path) -> dict:
    """The run users make (composed config, callbacks, logger, progress bar on a terminal, validation,
    checkpoints, test and report), under lstm_imdb.training.profiling.HookProfiler, keeping every epoch's
    weights for the learning curve (curves.py)."""
    profiler = [
        "+trainer.profiler._target_=lstm_imdb.training.profiling.HookProfiler",
        f"+trainer.profiler.dirpath={out_dir}",
        "+trainer.profiler.filename=profile",
    ]
    extra = profiler + epoch_checkpoint_overrides(out_dir)
    wall, typed, metrics, history = train_process(args, out_dir, args.real_epochs, extra)
    test = load_imdb(args.source, args.data_dir, args.acl_dir)["test"]
    profile = json.loads((out_dir / "fit-profile.json").read_text())
    epochs = len(history)
    return {
        "command": "python -m lstm_imdb.train " + " ".join(typed),
        "seed": args.seed,
        "process_s": wall,
        "epochs": epochs,
        "epoch_s": [r["epoch_s"] for r in history],
        "val_acc": [r["val/acc"] for r in history],
        "test_acc": metrics["test/acc"],
        "test_acc_by_epoch": epoch_test_accuracy(out_dir, epochs, test["text"], test["label"]),
        "fit_s": metrics["time/fit_s"],
        "to_first_batch_s": metrics["time/to_first_batch_s"],
        "process_to_first_batch_s": metrics.get("time/process_to_first_batch_s"),
        "test_s": metrics.get("time/test_s"),
        "callbacks_s_per_epoch": {k: v / epochs for k, v in callback_seconds(profile).items()},
        "profile": profile,
        "precision": args.precision,
    }


def bench_two_processes(args, out_dir: Path) -> dict:
    """Both cores as two single-threaded processes (DDP over gloo; Lightning gives each rank
    cores / ranks threads), each with half of every batch of 128 (the tutorial's batch, averaged over
    ranks), beside the default: one process whose matrix products use both cores."""
    typed_extra = ["trainer.accelerator=cpu", "trainer.devices=2", "data.batch_size=64"]
    args_ddp = argparse.Namespace(**{**vars(args), "train_overrides": [*args.train_overrides, *typed_extra]})
    wall, typed, metrics, history = train_process(args_ddp, out_dir, args.ddp_epochs, [])
    return {
        "command": "python -m lstm_imdb.train " + " ".join(typed),
        "process_s": wall,
        "epoch_s": [r["epoch_s"] for r in history],
        "val_acc": [r["val/acc"] for r in history],
        "test_acc": metrics["test/acc"],
        "test_s": metrics.get("time/test_s"),
    }


def allocator_probe(args) -> dict:
    """In a child process: `--steps` training steps of the tutorial model padded to 300 (where glibc's
    default thresholds hurt most); returns wall, user and system seconds of the loop."""
    dm = IMDBDataModule(
        data_dir=args.data_dir,
        source=args.source,
        acl_dir=args.acl_dir,
        num_words=args.num_words,
        bucket=False,
        batch_size=128,
    )
    dm.prepare_data()
    dm.setup()
    torch.manual_seed(0)
    batches = cycle_batches(dm.train_dataloader(), args.warmup + args.steps)
    model = SentimentClassifier(**TUTORIAL, scheduler=None).net
    plain_loop(model, batches[: args.warmup], torch.device("cpu"), precision=args.precision)
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = plain_loop(model, batches[args.warmup :], torch.device("cpu"), precision=args.precision)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_s": wall,
        "user_s": after.ru_utime - before.ru_utime,
        "sys_s": after.ru_stime - before.ru_stime,
    }


def bench_allocator(args) -> list[dict]:
    """The allocator setting of lstm_imdb/utils/allocator.py against glibc's defaults, each in its own process."""
    rows = []
    for setting in ("tuned", "system"):
        env = {**os.environ, "LSTM_IMDB_MALLOC": "tuned" if setting == "tuned" else "system"}
        cmd = [sys.executable, "-m", "lstm_imdb.tools.bench", "--allocator-probe", *args.passthrough]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"allocator probe failed:\n{proc.stderr[-3000:]}")
        rows.append(
            {"malloc": setting, "steps": args.steps, **json.loads(proc.stdout.strip().splitlines()[-1])}
        )
    return rows


def bench_keras(args, out_dir: Path) -> dict:
    """The seed's Keras code (benchmarks/keras_tutorial.py) in the Python given by --keras-python, on the
    same train/test reviews, timed as a whole process from here."""
    raw = load_imdb(args.source, args.data_dir, args.acl_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        with open(out_dir / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(zip(raw[split]["text"], raw[split]["label"], strict=True))
    result = out_dir / "keras.json"
    cmd = [args.keras_python, str(KERAS_SCRIPT), "--data", str(out_dir), "--out", str(result)]
    cmd += ["--epochs", str(args.real_epochs), "--seed", str(args.seed), "--test-each-epoch"]
    start = time.perf_counter()
    status, output = run_in_terminal(cmd)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({status}):\n{output[-4000:]}")
    keras = json.loads(result.read_text())
    return {
        "process_s": wall - keras["test_probe_s"],  # a user's run does not score test after each epoch
        "process_with_test_probes_s": wall,
        "epoch_s": [e["epoch_s"] for e in keras["epochs"]],
        "val_acc": keras["val_accuracy"],
        "test_acc": keras["test_accuracy"],
        "test_acc_by_epoch": keras["test_accuracy_by_epoch"],
        "test_probe_s": keras["test_probe_s"],
        "seed": keras["seed"],
        "versions": f"TensorFlow {keras['tensorflow']}, Keras {keras['keras']}",
        "time": keras["time"],
    }
