"""What every reported number rests on: batches that reshuffle, the best checkpoint of a resumed run,
scores that do not depend on the batch, the n-gram bag's scale, one decision threshold. The runs; the in-process checks
are in tests/unit/test_correctness.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import run_module, tiny_train_overrides

from lstm_imdb.data.batching import PadCollate


def test_a_resumed_run_tests_the_best_checkpoint_of_the_whole_run(acl_dir, tmp_path):
    """Run A trains 2 epochs and is stopped; run B resumes it from last.ckpt for 2 more epochs whose
    weights are spoiled before every validation (helpers.SpoilBeforeValidation), so the best epoch is one
    before the stop. B must test A's best checkpoint, and remember A's best val/acc. If A's best
    checkpoint is gone, the resumed run says so and reports what it tests."""
    run_a, run_b = tmp_path / "logs" / "a", tmp_path / "logs" / "b"
    run_module(
        "lstm_imdb.train", *tiny_train_overrides(acl_dir, run_a, "trainer.max_epochs=2"), root=tmp_path
    )
    run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(
            acl_dir,
            run_b,
            "trainer.max_epochs=4",
            f"ckpt_path={run_a / 'checkpoints' / 'last.ckpt'}",
            "+callbacks.spoil._target_=helpers.SpoilBeforeValidation",
        ),
        root=tmp_path,
    )
    history = json.loads((run_b / "history.json").read_text())
    assert [r["epoch"] for r in history] == [0, 1, 2, 3]
    before, after = [r["val/acc"] for r in history[:2]], [r["val/acc"] for r in history[2:]]
    assert max(after) < max(before)  # the spoiled epochs are worse

    a, b = (json.loads((run / "test_metrics.json").read_text()) for run in (run_a, run_b))
    assert b["best_checkpoint"] == str(run_b / "checkpoints" / "best.ckpt")  # the new folder is complete
    tested = torch.load(b["best_checkpoint"], map_location="cpu", weights_only=True)
    assert tested["epoch"] == int(np.argmax(before))  # saved during that epoch (0-based)
    assert b["test/acc"] == a["test/acc"] and b["test/loss"] == a["test/loss"]  # the same weights
    assert b["val/acc_best"] == pytest.approx(max(before))
    assert (run_a / "checkpoints" / "best.ckpt").is_file()  # the earlier folder is left as it was

    # Run C resumes A as B did, but A's best.ckpt was deleted first: C warns, and both its tested
    # checkpoint and its val/acc_best come from the epochs C trained (not from a checkpoint that is gone).
    run_c = tmp_path / "logs" / "c"
    (run_a / "checkpoints" / "best.ckpt").unlink()
    proc = run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(
            acl_dir,
            run_c,
            "trainer.max_epochs=4",
            f"ckpt_path={run_a / 'checkpoints' / 'last.ckpt'}",
            "+callbacks.spoil._target_=helpers.SpoilBeforeValidation",
        ),
        root=tmp_path,
    )
    assert "is gone (deleted or moved)" in proc.stdout + proc.stderr
    after_c = [r["val/acc"] for r in json.loads((run_c / "history.json").read_text())[2:]]
    c = json.loads((run_c / "test_metrics.json").read_text())
    assert c["best_checkpoint"] == str(run_c / "checkpoints" / "best.ckpt")
    tested = torch.load(c["best_checkpoint"], map_location="cpu", weights_only=True)
    assert tested["epoch"] == 2 + int(np.argmax(after_c))
    assert c["val/acc_best"] == pytest.approx(max(after_c))  # describes what was tested
    assert max(after_c) < max(before)


def test_predict_scores_a_review_the_same_in_any_file_and_as_evaluated_unbucketed(trained):
    from lstm_imdb.inference.checkpoint import load_checkpoint
    from lstm_imdb.inference.predictor import Predictor

    _, run_dir, _ = trained
    loaded = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    predictor = Predictor(loaded, batch_size=128)
    short = "A superb film."
    longs = [" ".join(["the plot was dull and the acting awful"] * 8)] * 80
    alone = predictor.predict_proba([short])[0]
    among_long = predictor.predict_proba([*longs, short])[-1]
    # as an unbucketed checkpoint trains and evaluates: every review padded to sequence_length
    hp = loaded.data_hparams
    fixed = PadCollate(hp["sequence_length"], hp["padding_side"], hp["truncation_side"], pad_to_longest=False)
    ids = np.asarray(loaded.tokenizer.encode(short).ids, dtype=np.int64)
    with torch.inference_mode():
        padded = torch.sigmoid(loaded.model(fixed([(ids, 0)])["input_ids"])).item()
    assert alone == pytest.approx(among_long, abs=1e-5)
    assert alone == pytest.approx(padded, abs=1e-5)
