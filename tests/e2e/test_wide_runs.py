"""A wide-and-deep run (#24) as users type it: one checkpoint that evaluates, predicts any text with the wide
part's n-grams, and resumes. The in-process checks are in tests/unit/test_wide.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import run_module, tiny_train_overrides
from helpers.export import REVIEWS, score_without_the_package

from lstm_imdb.data import load_imdb
from lstm_imdb.inference.checkpoint import load_checkpoint
from lstm_imdb.inference.predictor import Predictor, score

# as best_single: test and predict read NBSVM refitted with the validation reviews, validation its held-out fit
WIDE = [
    "data.wide={order: 2, buckets: 4096}",
    "model.wide_fit={folds: 3, C: 1.0, refit_with_validation: true}",
]


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory, acl_dir):
    root = tmp_path_factory.mktemp("wide")
    run_dir = root / "logs" / "train" / "runs" / "wide"
    overrides = tiny_train_overrides(
        acl_dir, run_dir, *WIDE, "trainer.max_epochs=2", "data.sequence_length=6"
    )
    run_module("lstm_imdb.train", *overrides, root=root)
    return root, run_dir


def test_the_checkpoint_predicts_any_text_as_the_run_tested_it(wide_run, acl_dir):
    root, run_dir = wide_run
    loaded = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    assert loaded.data_hparams["wide"]["buckets"] == 4096  # the n-gram settings travel in the checkpoint
    assert loaded.model.hparams.wide_fit["C"] == 1.0
    test = load_imdb("acl", root / "data", acl_dir)["test"]
    probs = Predictor(loaded).predict_proba(list(test["text"]))
    labels = np.asarray(test["label"])
    tested = json.loads((run_dir / "test_metrics.json").read_text())
    loss = torch.nn.functional.binary_cross_entropy(
        torch.tensor(probs), torch.tensor(labels, dtype=torch.float)
    )
    assert float(loss) == pytest.approx(tested["test/loss"], rel=1e-3, abs=1e-6)
    assert ((probs > 0.5) == labels).mean() == pytest.approx(tested["test/acc"])
    # the wide part reads the whole review: a cue past the recurrence's last 6 tokens still counts
    cue_first = "Wonderful superb brilliant! " + " ".join(["the film and the plot was a story"] * 4) + "."
    cue_dropped = " ".join(["the film and the plot was a story"] * 4) + "."
    p_cue, p_none = Predictor(loaded).predict_proba([cue_first, cue_dropped])
    assert p_cue > p_none + 0.05
    # a review with no words is reported as such, also when it is the only one
    (row,) = score(Predictor(loaded), [{"line": 1, "text": "<br /> !?"}])
    assert row["error"].startswith("empty review") and "prob_positive" not in row


def _evaluate(root, out: str, ckpts: list, *extra: str) -> tuple[dict, object]:
    """`python -m lstm_imdb.evaluate` of one checkpoint or an ensemble into root/out: (its test_metrics.json,
    the process)."""
    ckpt_path = ckpts[0] if len(ckpts) == 1 else f"[{','.join(map(str, ckpts))}]"
    proc = run_module(
        "lstm_imdb.evaluate",
        f"ckpt_path={ckpt_path}",
        *extra,
        f"hydra.run.dir={root / out}",
        root=root,
        timeout=600,
    )
    return json.loads((root / out / "test_metrics.json").read_text()), proc


def test_evaluate_and_resume_read_the_wide_part(wide_run, acl_dir):
    root, run_dir = wide_run
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    tested = json.loads((run_dir / "test_metrics.json").read_text())
    evaluated, _ = _evaluate(root, "eval", [run_dir / "checkpoints" / "best.ckpt"])
    assert evaluated["test/acc"] == tested["test/acc"]
    assert evaluated["test/loss"] == pytest.approx(tested["test/loss"], rel=1e-5)
    # validation is scored as training scored it: with the wide fit that has not seen those reviews
    history = json.loads((run_dir / "history.json").read_text())
    assert evaluated["val/acc"] == pytest.approx(max(r["val/acc"] for r in history))
    # an ensemble of wide models: each member blends its own parts, the batches carry the n-grams
    assert "test/acc" in _evaluate(root, "ensemble", [run_dir / "checkpoints" / "best.ckpt", ckpt])[0]
    # a resumed fit refits the wide part, then loads the checkpoint's layer over it, and trains on
    resumed = run_dir.parent / "resumed"
    overrides = tiny_train_overrides(
        acl_dir, resumed, *WIDE, "data.sequence_length=6", "trainer.max_epochs=3"
    )
    run_module("lstm_imdb.train", *overrides, f"ckpt_path={ckpt}", root=root)
    assert [r["epoch"] for r in json.loads((resumed / "history.json").read_text())] == [0, 1, 2]
    before = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    after = torch.load(resumed / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)[
        "state_dict"
    ]
    for wide in ("net.wide.weight.weight", "net.wide.held_out.weight.weight"):
        assert torch.equal(before[wide].to_dense(), after[wide].to_dense())  # fixed
    # two fits: with and without the validation reviews
    assert not torch.equal(before["net.wide.weight.weight"].to_dense(), before[wide].to_dense())
    assert not torch.equal(before["net.head.weight"], after["net.head.weight"])  # the recurrence trained


def test_an_ensemble_of_a_wide_and_a_plain_model_evaluates_as_predict_scores_it(wide_run, trained, acl_dir):
    """Members that read reviews differently (n-grams and 6 tokens; no n-grams and 40 tokens): evaluate
    feeds each its own view of every review, and scores what predict scores."""
    root, run_dir = wide_run
    ckpts = [run_dir / "checkpoints" / "best.ckpt", trained[1] / "checkpoints" / "best.ckpt"]
    evaluated, _ = _evaluate(root, "views", ckpts)
    test = load_imdb("acl", root / "data", acl_dir)["test"]
    members = [Predictor(load_checkpoint(p)).predict_proba(list(test["text"])) for p in ckpts]
    probs, labels = np.mean(members, axis=0), np.asarray(test["label"])
    assert ((probs > 0.5) == labels).mean() == pytest.approx(evaluated["test/acc"])
    loss = torch.nn.functional.binary_cross_entropy(
        torch.tensor(probs), torch.tensor(labels, dtype=torch.float)
    )
    assert float(loss) == pytest.approx(evaluated["test/loss"], rel=1e-4)
    assert "val/acc" in evaluated
    env = json.loads((root / "views" / "environment.json").read_text())  # what produced the figures
    assert env["precision"] == "32-true" and "git_commit" in env and env["data"]["source"] == "acl"
    # two processes: each review scored once, by one rank, every view of it; the same figures
    ddp, proc = _evaluate(root, "views_ddp", ckpts, "trainer.devices=2", "trainer.accelerator=cpu")
    assert "GLOBAL_RANK: 1" in proc.stdout + proc.stderr  # two processes really ran
    assert ddp["test/acc"] == pytest.approx(evaluated["test/acc"]) and ddp["val/acc"] == evaluated["val/acc"]
    report = (root / "views_ddp" / "report" / "classification_report.txt").read_text()
    assert f"== test ({len(labels)} reviews)" in report


def test_the_checkpoint_stores_the_wide_weights_sparse_and_dense_ones_still_load(wide_run, tmp_path):
    _, run_dir = wide_run
    ckpt = torch.load(run_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    stored = ckpt["state_dict"]["net.wide.weight.weight"]
    loaded = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    weights = loaded.model.net.wide.weight.weight.detach()
    assert stored.is_sparse and stored.shape == weights.shape == (4096, 1)
    assert stored.coalesce().values().numel() == int((weights != 0).sum()) > 0  # only the weighted buckets
    assert torch.equal(stored.to_dense(), weights)
    # a checkpoint written before (dense weights) loads and scores the same
    ckpt["state_dict"]["net.wide.weight.weight"] = weights.clone()
    torch.save(ckpt, tmp_path / "dense.ckpt")
    texts = ["A fine, moving film.", "Dull; I didn't care."]
    expected = Predictor(loaded).predict_proba(texts)
    np.testing.assert_array_equal(
        Predictor(load_checkpoint(tmp_path / "dense.ckpt")).predict_proba(texts), expected
    )


def test_a_wide_model_exports_and_its_card_scores_as_predict_without_the_package(wide_run, tmp_path):
    """The ONNX graph takes the full text's hashed n-grams beside the ids; the card's snippet makes them with
    scikit-learn alone and gets predict's scores."""
    root, run_dir = wide_run
    out = tmp_path / "export"
    run_module("lstm_imdb.export", f"ckpt_path={run_dir}", f"output_dir={out}", root=root)
    config = json.loads((out / "config.json").read_text())
    assert config["inputs"] == ["input_ids", "wide_ids", "wide_offsets"]
    from safetensors.torch import load_file

    weights = load_file(out / "model.safetensors")
    assert "wide.weight.weight" in weights and not any("held_out" in k for k in weights)  # validation only
    assert config["data"]["wide"]["buckets"] == 4096
    want = Predictor(load_checkpoint(run_dir / "checkpoints" / "best.ckpt")).predict_proba(REVIEWS)
    assert np.abs(np.array(score_without_the_package(out, tmp_path)) - want).max() <= 1e-4
