"""`python -m lstm_imdb.train`, `evaluate` and `predict` end to end on tiny data, as a user runs them. The runs; the in-process checks
are in tests/unit/test_train_entrypoints.py."""

from __future__ import annotations

import json

import pytest
from helpers import run_module, tiny_train_overrides


def test_train_writes_a_complete_run_folder(trained):
    root, run_dir, proc = trained
    for path in [
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "test_metrics.json",
        "history.json",
        "environment.json",
        ".hydra/config.yaml",
        "report/classification_report.txt",
        "report/confusion_matrix.png",
        "report/roc_curve.png",
        "report/training_curves.png",
    ]:
        assert (run_dir / path).is_file(), path
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    for png in (run_dir / "report").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    metrics = json.loads((run_dir / "test_metrics.json").read_text())
    assert metrics["test/acc"] > 0.75 and metrics["test/auroc"] > 0.75, (
        metrics
    )  # the tiny reviews are learnable from a few cue words
    history = json.loads((run_dir / "history.json").read_text())
    assert [r["epoch"] for r in history] == [0, 1, 2, 3]
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "lr"} <= set(history[0])
    from lstm_imdb.models import SentimentClassifier

    # the validation metrics that callbacks' and the scheduler's monitors are checked against at set-up
    assert {k for k in history[-1] if k.startswith("val/")} == SentimentClassifier().validation_metrics
    assert "test: acc" in proc.stderr + proc.stdout  # the summary at the end of the run, a line per split
    # the start: where the run goes and what the command changed, not the composed config's tree
    assert f"Run folder: {run_dir}" in proc.stdout and "overrides: data.source=acl" in proc.stdout
    assert "print_config=full" in proc.stdout and "_target_" not in proc.stdout  # no config tree
    console = proc.stdout + proc.stderr  # what a user reads: no library chatter, one results summary
    chatter = ["Tip:", "GPU available", "Seed set to", "LeafSpec", "Saving the dataset", "DataLoader 0"]
    assert not [c for c in chatter if c in console], [c for c in chatter if c in console]
    assert "test_dedup: acc" in console and "s to the first batch (data, tokenization" in console
    env = json.loads((run_dir / "environment.json").read_text())
    assert env["torch"].startswith("2.13.0") and "lightning" in env
    assert (root / "data" / "imdb").is_dir()  # data under the project root ($LSTM_IMDB_ROOT)


def test_evaluate_reproduces_the_test_metrics(trained, tmp_path):
    """Given the run folder, as `predict` is: its best checkpoint is what evaluate tests."""
    root, run_dir, _ = trained
    out = tmp_path / "eval"
    run_module(
        "lstm_imdb.evaluate",
        f"ckpt_path={run_dir}",
        f"hydra.run.dir={out}",
        "trainer.accelerator=cpu",
        root=root,
    )
    got = json.loads((out / "test_metrics.json").read_text())
    want = json.loads((run_dir / "test_metrics.json").read_text())
    assert got["checkpoints"] == [str(run_dir / "checkpoints" / "best.ckpt")]
    assert got["test/acc"] == pytest.approx(want["test/acc"], abs=1e-6)
    assert (out / "report" / "roc_curve.png").is_file() and (
        out / "report" / "confusion_matrix.png"
    ).is_file()


def test_predict_one_text_and_a_file(trained, tmp_path):
    root, run_dir, _ = trained
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    proc = run_module(
        "lstm_imdb.predict", f"ckpt_path={ckpt}", "text='a wonderful superb brilliant film'", root=root
    )
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["label"] == "positive" and answer["prob_positive"] > 0.5

    src = tmp_path / "reviews.txt"
    src.write_bytes(
        b"an awful boring terrible waste\n"
        b"\n"  # empty
        b"<br /><br />\n"  # markup only
        b"\xff\xfe not utf-8 \xc3\n"
        + ("great " * 200_000).encode()
        + b"\n"  # a 1.2 MB review
        + b"un film magnifique, superb\n"
    )
    out = tmp_path / "out.jsonl"
    run_module("lstm_imdb.predict", f"ckpt_path={ckpt}", f"input_path={src}", f"output_path={out}", root=root)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["label"] == "negative"
    assert "empty" in rows[1]["error"] and "empty" in rows[2]["error"]
    assert "not UTF-8" in rows[3]["error"]
    assert rows[4]["label"] == "positive" and rows[5]["label"] in ("positive", "negative")


def test_predict_refuses_bad_checkpoints_and_inputs_cleanly(trained, tmp_path):
    root, run_dir, _ = trained
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes((run_dir / "checkpoints" / "best.ckpt").read_bytes()[:2000])
    for ckpt, message in (
        (tmp_path / "missing.ckpt", "no such file"),
        (corrupt, "not a readable checkpoint"),
    ):
        proc = run_module("lstm_imdb.predict", f"ckpt_path={ckpt}", "text=good", root=root, check=False)
        assert proc.returncode == 2 and message in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    for args, message in (
        (["text=' '"], "empty review"),
        ([f"input_path={tmp_path / 'nope.txt'}"], "no such file"),
    ):
        proc = run_module("lstm_imdb.predict", f"ckpt_path={ckpt}", *args, root=root, check=False)
        assert proc.returncode == 2 and message in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("override", "message", "code"),
    [
        ("model.hiden_size=64", "hiden_size", 1),  # Hydra's own refusal, when it composes the config
        ("model.hidden_size=-1", "model.hidden_size=-1", 2),  # the rest: the project's checks
        ("data.val_fraction=1.5", "data.val_fraction=1.5", 2),
        ("model.pooling=attention", "model.pooling", 2),  # raised inside Hydra's instantiate
        ("model.optimizer.lr=0", "model.optimizer.lr=0: must be a finite number > 0", 2),
        ("seed=abc", "seed='abc': must be an integer", 2),
        ("model.optimizer.weight_decay=-1", "torch.optim.Adam refuses its settings: Invalid weight_decay", 2),
        (
            "callbacks.early_stopping.monitor=val/accuracy",
            "early_stopping.monitor='val/accuracy': the model",
            2,
        ),
        ("trainer.max_epochs=six", "trainer.max_epochs='six': must be an integer", 2),
    ],
)
def test_bad_overrides_fail_before_data_work(acl_dir, tmp_path, override, message, code):
    proc = run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(acl_dir, tmp_path / "run"),
        override,
        root=tmp_path,
        check=False,
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert message in proc.stderr + proc.stdout
    if code == 2:  # bad input: the message, not a traceback, and no run folder left
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / "run").exists()
    assert not (tmp_path / "data").exists()  # nothing was downloaded, built or tokenized


def test_evaluate_an_ensemble_of_checkpoints(trained, tmp_path):
    root, run_dir, _ = trained
    ckpts = [run_dir / "checkpoints" / "best.ckpt", run_dir / "checkpoints" / "last.ckpt"]
    out = tmp_path / "ensemble"
    run_module(
        "lstm_imdb.evaluate",
        f"ckpt_path=[{ckpts[0]},{ckpts[1]}]",
        f"hydra.run.dir={out}",
        "trainer.accelerator=cpu",
        root=root,
    )
    got = json.loads((out / "test_metrics.json").read_text())
    assert got["checkpoints"] == [str(c) for c in ckpts] and 0.5 < got["test/acc"] <= 1.0


def test_ensemble_weights_fitted_on_validation_are_used_again_by_predict(trained, tmp_path):
    root, run_dir, _ = trained
    ckpts = f"ckpt_path=[{run_dir / 'checkpoints' / 'best.ckpt'},{run_dir / 'checkpoints' / 'last.ckpt'}]"
    out = tmp_path / "weighted"
    run_module(
        "lstm_imdb.evaluate",
        ckpts,
        "ensemble_weights=validation",
        f"hydra.run.dir={out}",
        "trainer.accelerator=cpu",
        root=root,
    )
    got = json.loads((out / "test_metrics.json").read_text())
    blend = json.loads((out / "ensemble_weights.json").read_text())
    assert got["ensemble_weights"] == str(out / "ensemble_weights.json") and len(blend["weights"]) == 2
    assert 0.5 < got["val/acc_out_of_fold"] <= 1.0 and 0.5 < got["test/acc"] <= 1.0
    text = "text='a wonderful superb brilliant film'"
    weighted = run_module(
        "lstm_imdb.predict", ckpts, f"ensemble_weights={out / 'ensemble_weights.json'}", text, root=root
    )
    mean = run_module("lstm_imdb.predict", ckpts, text, root=root)
    p_weighted, p_mean = (
        json.loads(p.stdout.strip().splitlines()[-1])["prob_positive"] for p in (weighted, mean)
    )
    assert p_weighted != p_mean  # the fitted weights, not the mean
    wrong = run_module(
        "lstm_imdb.predict",
        f"ckpt_path={run_dir}",
        f"ensemble_weights={out / 'ensemble_weights.json'}",
        text,
        root=root,
        check=False,
    )
    assert wrong.returncode != 0 and "ensemble_weights" in wrong.stderr and "Traceback" not in wrong.stderr
