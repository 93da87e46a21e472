"""`python -m lstm_imdb.export` in-process: where an export goes and what it refuses before loading anything
(the runs, the ONNX graph and the model card's snippet are in tests/e2e/test_export.py)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from lstm_imdb.data.sources import FINGERPRINTS
from lstm_imdb.export import output_folder
from lstm_imdb.inference.checkpoint import LoadedCheckpoint
from lstm_imdb.inference.export import write_export
from lstm_imdb.inference.model_card import metrics_table, splits_sentence


def test_an_export_goes_next_to_the_run_or_sweep_it_comes_from(tmp_path):
    run = tmp_path / "logs/train/runs/r1"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints/best.ckpt").write_bytes(b"")
    assert output_folder(run, None, False) == run / "export"
    assert output_folder(run / "checkpoints/best.ckpt", None, False) == run / "export"
    sweep = tmp_path / "logs/train/multiruns/s"
    sweep.mkdir(parents=True)
    assert output_folder(sweep, None, False) == sweep / "export"
    assert output_folder(run, tmp_path / "mine", False) == tmp_path / "mine"


def test_it_refuses_what_would_lose_work_or_guess(tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="already holds files.*overwrite=true"):
        output_folder(tmp_path, taken, False)
    assert output_folder(tmp_path, taken, True) == taken  # replaced only when asked
    with pytest.raises(ValueError, match="say where the export goes with output_dir="):
        output_folder(OmegaConf.create(["a.ckpt", "b.ckpt"]), None, False)
    with pytest.raises(ValueError, match="is a file"):
        output_folder(tmp_path, taken / "notes.txt", False)
    assert (taken / "notes.txt").read_text() == "mine"


def test_the_card_says_which_data_and_lists_each_seed_with_the_mean():
    official = {"source": "pypi", "train": FINGERPRINTS["train"], "test": FINGERPRINTS["test"]}
    assert "match the official 25,000 + 25,000 reviews" in splits_sentence([{"data": official}])
    assert "NOT the official" in splits_sentence([{"data": {**official, "test": "0" * 64}}])
    rows = [
        {"run": "a", "seed": 1, "metrics": {"test/acc": 0.90, "val/acc_best": 0.91}},
        {"run": "b", "seed": 2, "metrics": {"test/acc": 0.92, "val/acc_best": 0.93}},
    ]
    table = metrics_table(rows, {"test/acc": 0.925})
    assert "| a | 1 | 0.9100 | 0.9000 |" in table and "| b | 2 | 0.9300 | 0.9200 |" in table
    assert "| each member, mean ± std | 1, 2 | 0.9200 ± 0.0141 | 0.9100 ± 0.0141 |" in table
    assert "| **this ensemble** (mean probability) | all |  | 0.9250 |" in table


def test_a_wide_part_that_marks_negation_is_refused_before_anything_is_written(tmp_path):
    """The card's scoring code hashes unmarked tokens: such an export would score other features."""
    loaded = LoadedCheckpoint(tmp_path / "best.ckpt", None, {"wide": {"order": 3, "negation": True}}, None)
    with pytest.raises(ValueError, match=r"data.wide.negation=true.*python -m lstm_imdb.predict"):
        write_export(loaded, [loaded.path], tmp_path / "export")
    assert not (tmp_path / "export").exists()
