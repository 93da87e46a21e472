"""DDP correct, not just running: two CPU processes (gloo) on tiny data, with the default trainer config
(`trainer.devices=2`: Lightning picks DDP itself) and with `trainer=ddp`, bucketed and padded batches, the
latter with a wide part.
Every validation and test review is scored exactly once, the report covers all of them, only rank 0
writes, and the result equals a single-process evaluation of the same checkpoint. A non-finite loss on
one rank stops every rank, with no hang."""

from __future__ import annotations

import json
import re

import pytest
from helpers import run_module, tiny_train_overrides


def _report_counts(path) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"== (\S+) \((\d+) reviews\)", path.read_text())}


@pytest.mark.parametrize(
    "config",
    [
        ["data.bucket=true"],  # the default trainer config: Lightning chooses DDP for 2 devices
        # every review padded to the same length; a wide part, whose NBSVM one rank fits and the other reads
        [
            "trainer=ddp",
            "data.bucket=false",
            "data.wide={order: 2, buckets: 4096}",
            "model.wide_fit={folds: 3}",
        ],
    ],
    ids=["default-trainer-bucketed", "trainer=ddp-padded-wide"],
)
def test_two_processes_score_every_review_once_and_match_one_process(acl_dir, tmp_path, config):
    run = tmp_path / "ddp"
    probe = tmp_path / "probe"
    proc = run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(acl_dir, run, "trainer.max_epochs=2"),
        *config,
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "trainer.precision=32",
        "data.eval_batch_size=48",  # 200 test reviews: 100 a rank, batches of 48, 48, 4
        "data.val_fraction=0.105",  # 21 validation reviews: 11 and 10, none repeated to even the ranks out
        "+callbacks.probe._target_=helpers.RecordValidationRows",
        f"+callbacks.probe.dirpath={probe}",
        root=tmp_path,
        timeout=600,
    )
    assert "GLOBAL_RANK: 1" in proc.stdout + proc.stderr  # two processes really ran
    rows = [json.loads((probe / f"val_rows_rank{r}.json").read_text()) for r in (0, 1)]
    assert sorted(rows[0] + rows[1]) == list(range(21)) and {len(r) for r in rows} == {10, 11}
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
    if "trainer=ddp" in config:
        out = proc.stdout + proc.stderr  # the ranks fit the wide part once, in the data folder's cache
        assert out.count("out-of-fold logits fitted in") == 1 and out.count("NBSVM fit read in") == 1
        return  # the same evaluation of a checkpoint as below: once is enough

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


def test_a_non_finite_loss_on_one_rank_stops_every_rank(acl_dir, tmp_path):
    """Rank 1 alone sees a NaN loss (helpers.NonFiniteLossOnRank): both ranks stop at the next check with
    the same message naming that rank; none waits for the other in a collective."""
    run = tmp_path / "nan"
    proc = run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(acl_dir, run, "trainer.max_epochs=2"),
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "callbacks.stop_on_non_finite_loss._target_=helpers.NonFiniteLossOnRank",
        root=tmp_path,
        timeout=240,  # a hang fails here instead of waiting for gloo's 30-minute timeout
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert "GLOBAL_RANK: 1" in out
    message = "Training loss is nan at epoch 0, step 3 (batch 2) on rank 1 of 2"
    assert out.count(message) >= 2, out[-3000:]  # said by both ranks
    assert not run.exists() and (run.parent / f"{run.name}_FAILED" / ".hydra").is_dir()  # marked, once
