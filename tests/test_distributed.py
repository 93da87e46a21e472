"""DDP correct, not just running: two CPU processes (gloo) on tiny data. Every test review is scored
exactly once, the report covers all of them, only rank 0 writes, and the result equals a single-process
evaluation of the same checkpoint."""

from __future__ import annotations

import json
import re

from helpers import run_module, tiny_train_overrides


def _report_counts(path) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"== (\S+) \((\d+) reviews\)", path.read_text())}


def test_two_processes_score_every_test_review_once_and_match_one_process(acl_dir, tmp_path):
    run = tmp_path / "ddp"
    proc = run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(acl_dir, run, "trainer.max_epochs=2"),
        "trainer=ddp",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "trainer.precision=32",
        "data.eval_batch_size=48",  # 200 test reviews: 100 a rank, batches of 48, 48, 4
        root=tmp_path,
        timeout=600,
    )
    assert "GLOBAL_RANK: 1" in proc.stdout + proc.stderr  # two processes really ran
    logged = json.loads((run / "test_metrics.json").read_text())
    assert _report_counts(run / "report" / "classification_report.txt") == {"test": 200}
    report_acc = float(
        re.search(r"accuracy\s+([\d.]+)\s+200", (run / "report" / "classification_report.txt").read_text())[1]
    )
    assert abs(report_acc - logged["test/acc"]) < 1e-4  # the report and the logged metric agree
    # fit = start-up (data, sanity check, the second process joining) + epochs + the end
    spent = logged["time/to_first_batch_s"] + logged["epochs"] * logged["time/epoch_s"]
    assert logged["time/epoch_s"] > 0 and logged["time/to_first_batch_s"] > 0
    assert 0.5 * logged["time/fit_s"] <= spent <= logged["time/fit_s"]
    assert not list(run.glob("**/test_metrics.json"))[1:]  # written once, by rank 0

    single = tmp_path / "single"
    run_module(
        "lstm_imdb.evaluate",
        f"ckpt_path={logged['best_checkpoint']}",
        "trainer.accelerator=cpu",
        f"hydra.run.dir={single}",
        root=tmp_path,
    )
    alone = json.loads((single / "test_metrics.json").read_text())
    for key in ("test/acc", "test/f1", "test/auroc"):
        assert abs(alone[key] - logged[key]) < 1e-5, key
    assert abs(alone["test/loss"] - logged["test/loss"]) < 1e-3  # per-rank means, averaged
    assert _report_counts(single / "report" / "classification_report.txt") == {"test": 200}
