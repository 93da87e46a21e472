"""`python -m lstm_imdb.tools.bench --quick` on tiny data: every figure of the record is produced, and the
figures agree with each other (ratios, extrapolations and the arithmetic are what they say they are)."""

from __future__ import annotations

import json
import statistics

import pytest
from helpers import run_module

from lstm_imdb.tools.bench.flops import epoch_flops
from lstm_imdb.tools.bench.tables import bench_tables


def test_bench_quick_records_consistent_figures_and_prints_its_tables(acl_dir, tmp_path):
    out = tmp_path / "bench.json"
    proc = run_module(
        "lstm_imdb.tools.bench",
        *("--quick", "--source", "acl", "--acl-dir", str(acl_dir), "--data-dir", str(tmp_path / "data")),
        *("--num-words", "60", "--out", str(out)),
        root=tmp_path,
    )
    report = json.loads(out.read_text())
    assert report["data"]["tokenize/reviews"] == 400 and report["train_reviews"] == 180  # 90 % of 200
    train = {(r["mode"], r["path"]): r for r in report["train"]}
    assert set(train) == {
        ("padded to 300", "plain"),
        ("padded to 300", "lightning"),
        ("bucketed", "plain"),
        ("bucketed", "lightning"),
        ("packed (right-padded, bucketed)", "plain"),
    }
    # every review padded to 300 in that mode; the tiny reviews' buckets are far shorter
    assert train[("padded to 300", "plain")]["mean_tokens"] == 300
    assert train[("bucketed", "plain")]["mean_tokens"] < 60
    for r in report["train"]:  # an epoch is the training reviews at the measured rate
        assert r["epoch_s"] == pytest.approx(report["train_reviews"] / r["samples_per_s"])
    for mode in ("padded to 300", "bucketed"):  # Lightning's time over the plain loop's, same batches
        ratio = train[(mode, "plain")]["samples_per_s"] / train[(mode, "lightning")]["samples_per_s"]
        assert train[(mode, "lightning")]["lightning_over_plain"] == pytest.approx(ratio)
    for r in report["padding_free"]:
        assert r["cost"] == pytest.approx(r["padding_free_step_s"] / r["over_padding_step_s"])
    assert [r["model"] for r in report["padding_free"]] == ["tutorial", "best_single"]
    assert {(r["model"], r["mode"][:6], r["batch"]) for r in report["eval"]} == {
        ("tutorial", "bucket", 16),  # --quick's evaluation batch sizes
        ("tutorial", "bucket", 64),
        ("tutorial", "padded", 512),
        ("best_single", "bucket", 512),
    }

    # the run users make: one train process, profiled, with its test phase
    real = report["real_path"]
    assert real["command"].startswith("python -m lstm_imdb.train experiment=keras_tutorial")
    assert real["epochs"] == 1 and len(real["epoch_s"]) == len(real["val_acc"]) == 1
    assert real["process_s"] > real["fit_s"] >= real["epoch_s"][0]
    assert real["process_to_first_batch_s"] > real["to_first_batch_s"]
    assert {"ModelCheckpoint", "RichProgressBar", "MetricHistory", "StopOnNonFiniteLoss"} <= set(
        real["callbacks_s_per_epoch"]
    )
    assert any("training_step" in action for action in real["profile"])
    # the learning curve: the epoch's weights scored apart give the run's own test figure
    assert real["seed"] == 42 and "seed=42" in real["command"]
    assert real["test_acc_by_epoch"] == [pytest.approx(real["test_acc"], abs=1e-6)]
    assert real["stopped"] == [
        {"epochs": 1, "process_s": real["process_s"], "test_acc": real["test_acc_by_epoch"][0]}
    ]
    # both cores as two single-threaded DDP processes, half a batch each
    two = report["two_processes"]
    assert "trainer.devices=2" in two["command"] and "data.batch_size=64" in two["command"]
    assert len(two["epoch_s"]) == len(two["val_acc"]) == 1 and two["process_s"] > two["epoch_s"][0]

    # the arithmetic: the tutorial LSTM's forward FLOPs per review-step, 2 * 4 * 128 * (10 + 128)
    flops = report["flops"]
    assert flops["flops_per_review_step"] == 2 * 4 * 128 * (10 + 128)
    epoch = epoch_flops(
        flops["flops_per_review_step"], flops["train_review_steps"], flops["val_review_steps"]
    )
    assert flops["epoch_gflop"] == pytest.approx(epoch / 1e9)
    assert flops["run_gflops_per_s"] == pytest.approx(flops["epoch_gflop"] / statistics.mean(real["epoch_s"]))
    assert report["floor"]["batches"] == min(report["args"]["steps"], -(-report["train_reviews"] // 128))

    # the allocator: both settings, each in its own process, the same number of steps
    assert [(r["malloc"], r["steps"]) for r in report["allocator"]] == [("tuned", 4), ("system", 4)]

    # the terminal shows the tables the docs are made from
    for table in bench_tables(report):
        assert table.header[0] in proc.stdout
    assert "What each callback costs" in proc.stdout and "GFLOP/s" in proc.stdout
