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
import json
import os
import tempfile
from pathlib import Path

import torch

from lstm_imdb.cli import startup
from lstm_imdb.data import IMDBDataModule
from lstm_imdb.runs.provenance import environment
from lstm_imdb.tools.bench import measure, processes
from lstm_imdb.tools.bench.curves import add_curves
from lstm_imdb.tools.bench.loops import chosen_device
from lstm_imdb.tools.bench.tables import print_tables
from lstm_imdb.utils.paths import default_data_dir


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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
    p.add_argument("--eval-batch-size", type=int, default=512, help="evaluate's and predict's default")
    p.add_argument(
        "--eval-batch-sizes", type=int, nargs="+", default=[128, 512, 2048], help="tutorial, bucketed"
    )
    p.add_argument("--accelerator", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument(
        "--precision",
        default="32-true",
        choices=["32-true", "bf16-mixed"],
        help="of the bare loops (the trainer's default: 32-true); evaluation is timed in both",
    )
    p.add_argument("--seed", type=int, default=42, help="of the timed runs (both sides)")
    p.add_argument("--real-epochs", type=int, default=5, help="epochs of the timed `lstm_imdb.train` run")
    p.add_argument("--ddp-epochs", type=int, default=2, help="epochs of the two-process run (0: skip it)")
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
        args.ddp_epochs, args.eval_batch_sizes = min(args.ddp_epochs, 1), [16, 64]
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
    return args


def main(argv: list[str] | None = None) -> dict:
    startup()
    args = parse_args(argv)
    if args.allocator_probe:
        print(json.dumps(processes.allocator_probe(args)))
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
            report["keras"] = processes.bench_keras(args, Path(tmp) / "keras")
        if not args.skip_real:
            report["real_path"] = processes.bench_real_path(args, Path(tmp) / "run")
        if args.ddp_epochs and not args.skip_real and chosen_device(args).type == "cpu":
            report["two_processes"] = processes.bench_two_processes(args, Path(tmp) / "ddp")
    if "real_path" in report:
        add_curves(report["real_path"], report.get("keras"))
    report["data"] = {} if args.skip_data else measure.bench_data(args)
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
    report["floor"] = measure.bench_floor(args, dm)
    report["flops"] = measure.bench_flops(args, dm, report.get("real_path"), report["floor"])
    report["train"] = measure.bench_training(args, dm)
    report["allocator"] = processes.bench_allocator(args) if chosen_device(args).type == "cpu" else []
    report["padding_free"] = measure.bench_padding_free(args, dm)
    report["eval"] = measure.bench_eval(args, dm)
    print_tables(report)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
