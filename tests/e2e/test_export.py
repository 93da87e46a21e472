"""`python -m lstm_imdb.export` as users type it: the files it writes are usable without this package (the
model card's own snippet, run with lstm_imdb made unimportable, scores as predict does), the weights rebuild
the model, an ensemble exports, and bad requests fail before any file is written (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import run_module
from helpers.export import REVIEWS, score_without_the_package
from safetensors.torch import load_file

from lstm_imdb.inference import export
from lstm_imdb.inference.checkpoint import load_checkpoint, load_ensemble
from lstm_imdb.inference.predictor import Predictor


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    _, run_dir, _ = trained
    proc = run_module("lstm_imdb.export", f"ckpt_path={run_dir}", root=tmp_path_factory.mktemp("cwd"))
    return run_dir, run_dir / "export", proc


def test_a_run_exports_next_to_it_and_says_what_it_wrote(exported):
    run_dir, folder, proc = exported
    assert sorted(p.name for p in folder.iterdir()) == sorted(export.FILES)
    assert not (run_dir / "export.partial").exists()
    assert f"to {folder}" in proc.stderr and "scores as predict does" in proc.stderr
    assert "[torch.onnx]" not in proc.stdout + proc.stderr  # the exporter's own progress lines stay out


def test_the_card_snippet_scores_as_predict_without_the_package(exported, tmp_path):
    run_dir, folder, _ = exported
    want = Predictor(load_checkpoint(run_dir / "checkpoints" / "best.ckpt")).predict_proba(REVIEWS)
    got = score_without_the_package(folder, tmp_path)
    assert np.abs(np.array(got) - want).max() <= 1e-4
    assert len({round(p, 3) for p in got}) > 1  # real scores, not a constant


def test_the_weights_and_config_rebuild_the_model(exported):
    run_dir, folder, _ = exported
    config = json.loads((folder / export.CONFIG).read_text())
    net = export.rebuild(config)
    net.load_state_dict(load_file(folder / export.WEIGHTS))
    loaded = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    loaded.model.net = net.eval()
    want = Predictor(load_checkpoint(run_dir / "checkpoints" / "best.ckpt")).predict_proba(REVIEWS)
    assert np.allclose(Predictor(loaded).predict_proba(REVIEWS), want, atol=1e-6)
    assert config["data"]["sequence_length"] == 40 and config["data"]["wide"] is None


def test_the_card_holds_the_runs_metrics_with_their_seeds(exported):
    run_dir, folder, _ = exported
    card = (folder / export.CARD).read_text()
    metrics = json.loads((run_dir / "test_metrics.json").read_text())
    assert card.startswith("---\n") and "pipeline_tag: text-classification" in card
    assert f"| {run_dir.name} | 42 | {metrics['val/acc_best']:.4f} | {metrics['test/acc']:.4f} |" in card
    for section in ("## Data and splits", "## Intended use", "## Limits", "## Provenance"):
        assert section in card


def test_an_ensemble_exports_and_scores_as_predict(trained, tmp_path):
    _, run_dir, _ = trained
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    last = run_dir / "checkpoints" / "last.ckpt"
    out = tmp_path / "ensemble"
    run_module("lstm_imdb.export", f"ckpt_path=[{ckpt},{last}]", f"output_dir={out}", root=tmp_path)
    config = json.loads((out / export.CONFIG).read_text())
    assert len(config["model"]["members"]) == 2
    want = Predictor(load_ensemble([ckpt, last])).predict_proba(REVIEWS)
    assert np.abs(np.array(score_without_the_package(out, tmp_path)) - want).max() <= 1e-4
    assert "each member, mean ± std" in (out / export.CARD).read_text()


def test_a_bad_request_fails_with_exit_2_before_writing_anything(trained, tmp_path):
    """The refusals themselves are in tests/unit/test_export.py; here, as a user meets one."""
    _, run_dir, _ = trained
    proc = run_module(
        "lstm_imdb.export",
        f"ckpt_path={tmp_path / 'missing.ckpt'}",
        f"output_dir={tmp_path / 'out'}",
        root=tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and "no such file" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_the_graph_takes_any_padding(exported):
    """Padding on either side and to any length leaves the ONNX graph's scores unchanged."""
    import onnxruntime as ort

    _, folder, _ = exported
    session = ort.InferenceSession(str(folder / export.GRAPH))
    ids = torch.randint(2, 60, (3, 9)).numpy()
    base = session.run(None, {"input_ids": ids})[0]
    right = np.concatenate([ids, np.zeros((3, 5), dtype=np.int64)], axis=1)
    left = np.concatenate([np.zeros((3, 7), dtype=np.int64), ids], axis=1)
    for padded in (right, left):
        assert np.abs(session.run(None, {"input_ids": padded})[0] - base).max() <= 1e-5
