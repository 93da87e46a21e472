"""Benchmark of the tutorial model (embedding 10, LSTM 128, batch 128, 5,000 words, 300 tokens).

    python -m lstm_imdb.bench                 # full data, a table of figures (a few minutes on 2 cores)
    python -m lstm_imdb.bench --quick --source acl --acl-dir tests/aclImdb   # smoke test on tiny data
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
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.data import DataLoader

from lstm_imdb.data import IMDBDataModule, load_imdb
from lstm_imdb.data.batching import PadCollate
from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID, encode, fit_tokenizer
from lstm_imdb.models import SentimentClassifier
from lstm_imdb.models.encoder import locked_dropout
from lstm_imdb.models.recurrence import recurrent_params
from lstm_imdb.models.regularization import word_dropout
from lstm_imdb.paths import default_data_dir

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
KERAS_SAMPLES_PER_S = 400.0  # the tutorial model on Keras/TensorFlow 2.21 CPU, 2 cores (48-66 s an epoch)


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
        return logits if enc.ngrams is None else logits + enc.ngrams(input_ids)


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
                plain_loop(model, batches[: args.warmup], torch.device("cpu"))
                runs.append(plain_loop(model, batches[args.warmup :], torch.device("cpu")))
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


def plain_loop(model: nn.Module, batches: list[dict], device: torch.device, packed: bool = False) -> float:
    """Seconds for forward + backward + Adam over `batches` (plain PyTorch)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    model.train().to(device)
    start = time.perf_counter()
    for b in batches:
        ids, labels = b["input_ids"].to(device), b["labels"].to(device).float()
        # bf16 autocast on a GPU, as Lightning's bf16-mixed does
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
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


def bench_training(args, dm: IMDBDataModule) -> list[dict]:
    device = torch.device("cuda" if args.accelerator != "cpu" and torch.cuda.is_available() else "cpu")
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    precision = "bf16-mixed" if device.type == "cuda" else "32-true"
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
                    plain_loop(model, batches[: args.warmup], device, packed)  # warm-up
                    secs.append(plain_loop(model, timed_batches, device, packed))
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
                    "x_keras": sps / KERAS_SAMPLES_PER_S,
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
    model = SentimentClassifier(**TUTORIAL, scheduler=None).net.eval()
    split = dm.splits["test"]
    n = min(len(split), args.eval_reviews)
    rows = []
    for mode, bucket in (("padded to 300", False), ("bucketed (sorted by length)", True)):
        collate = PadCollate(dm.hparams.sequence_length, "left", "left", pad_to_longest=bucket)
        order = sorted(range(n), key=lambda i: -len(split.ids(i))) if bucket else list(range(n))
        bs = args.eval_batch_size
        batches = [collate([(split.ids(i), 0) for i in order[s : s + bs]]) for s in range(0, n, bs)]
        secs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for b in batches:
                model(b["input_ids"])
            secs.append(time.perf_counter() - start)
        rows.append({"mode": mode, "batch": bs, "reviews_per_s": n / statistics.median(secs)})
    return rows


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    console.print(f"[bold]lstm_imdb benchmark[/] on {report['machine']}")
    t = Table("figure", "value", title="Data")
    for k, v in report["data"].items():
        t.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
    console.print(t)
    t = Table(
        "batching",
        "path",
        "samples/s",
        "s/epoch",
        "x Keras",
        "Lightning/plain",
        "tokens/review",
        "batching s/epoch",
        "peak RSS MB",
        title=f"Training, tutorial model, {report['train_reviews']} reviews, batch 128",
    )
    for r in report["train"]:
        ratio = r.get("lightning_over_plain")
        t.add_row(
            r["mode"],
            r["path"],
            f"{r['samples_per_s']:.0f}",
            f"{r['epoch_s']:.1f}",
            f"{r['x_keras']:.2f}",
            f"{ratio:.3f}" if ratio else "",
            f"{r['mean_tokens']:.0f}",
            f"{r['batching_epoch_s']:.2f}",
            f"{r['peak_rss_mb']:.0f}",
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
    t = Table("padding", "batch", "reviews/s", title="Evaluation (inference_mode)")
    for r in report["eval"]:
        t.add_row(r["mode"], str(r["batch"]), f"{r['reviews_per_s']:.0f}")
    console.print(t)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few steps and repeats (smoke test)")
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
    p.add_argument("--skip-data", action="store_true", help="skip the data preparation figures")
    p.add_argument("--out", default=None, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.repeats, args.eval_reviews = 4, 1, 1, 64

    report = {
        "machine": f"{torch.get_num_threads()} torch threads, "
        f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'}",
        "torch": torch.__version__,
        "args": vars(args),
    }
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
    report["train"] = bench_training(args, dm)
    report["padding_free"] = bench_padding_free(args, dm)
    report["eval"] = bench_eval(args, dm)
    print_report(report)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
