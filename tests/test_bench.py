"""`python -m lstm_imdb.tools.bench --quick` on tiny data: every figure of the table is produced."""

from __future__ import annotations

import json

from helpers import run_module


def test_bench_quick_prints_and_writes_every_figure(acl_dir, tmp_path):
    out = tmp_path / "bench.json"
    proc = run_module(
        "lstm_imdb.tools.bench",
        "--quick",
        "--source",
        "acl",
        "--acl-dir",
        str(acl_dir),
        "--data-dir",
        str(tmp_path / "data"),
        "--num-words",
        "60",
        "--out",
        str(out),
        root=tmp_path,
    )
    report = json.loads(out.read_text())
    assert {
        "data/build_imdb_cold_s",
        "data/tokenize_cache_cold_s",
        "data/prepare_and_setup_cached_s",
        "tokenize/encode_s",
    } <= set(report["data"])
    assert report["data"]["tokenize/reviews"] == 400
    rows = {(r["mode"], r["path"]) for r in report["train"]}
    assert rows == {
        ("padded to 300", "plain"),
        ("padded to 300", "lightning"),
        ("bucketed", "plain"),
        ("bucketed", "lightning"),
        ("packed (right-padded, bucketed)", "plain"),
    }
    assert all(r["samples_per_s"] > 0 and r["epoch_s"] > 0 for r in report["train"])
    assert [r for r in report["train"] if r["path"] == "lightning"][0]["lightning_over_plain"] > 0
    assert all(r["reviews_per_s"] > 0 for r in report["eval"])
    assert {r["model"] for r in report["eval"]} == {"tutorial", "best_single"}
    # the run users make: one train process, profiled, with its test phase
    real = report["real_path"]
    assert real["command"].startswith("python -m lstm_imdb.train experiment=keras_tutorial")
    assert real["epochs"] == 1 and len(real["epoch_s"]) == 1 and 0 <= real["test_acc"] <= 1
    assert real["process_s"] > real["fit_s"] > 0 and real["test_s"] > 0
    assert real["process_to_first_batch_s"] > real["to_first_batch_s"] > 0
    callbacks = real["callbacks_s_per_epoch"]
    assert {"ModelCheckpoint", "RichProgressBar", "MetricHistory", "StopOnNonFiniteLoss"} <= set(callbacks)
    assert any("training_step" in action for action in real["profile"])
    # the arithmetic: the tutorial LSTM's forward FLOPs per review-step, 2 * 4 * 128 * (10 + 128)
    flops = report["flops"]
    assert flops["flops_per_review_step"] == 2 * 4 * 128 * (10 + 128)
    assert flops["run_gflops_per_s"] > 0 and flops["floor_gflops_per_s"] > 0
    assert flops["matmul_fp32_gflops_per_s"] > 0
    assert report["floor"]["epoch_s"] > 0
    # the allocator: both settings, each measured in its own process
    assert [r["malloc"] for r in report["allocator"]] == ["tuned", "system"]
    assert all(r["wall_s"] > 0 for r in report["allocator"])
    assert [r["model"] for r in report["padding_free"]] == ["tutorial", "best_single"]
    assert all(r["cost"] > 0 for r in report["padding_free"])
    assert "samples/s" in proc.stdout and "Lightning/plain" in proc.stdout
    assert "What each callback costs" in proc.stdout and "GFLOP/s" in proc.stdout
