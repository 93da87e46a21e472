"""The bench's pieces that need no run: its tables are built once and rendered to the terminal and to
markdown alike, and its measured-only variant of the encoder computes what the encoder computes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from rich.console import Console

from lstm_imdb.models import SentimentClassifier
from lstm_imdb.tools.bench import tables
from lstm_imdb.tools.bench.loops import BEST_SINGLE, TUTORIAL, OverPadding

RECORDS = Path(__file__).resolve().parents[2] / "docs" / "records.json"


@pytest.mark.parametrize("options", [TUTORIAL, BEST_SINGLE], ids=["tutorial", "best_single"])
def test_over_padding_equals_the_encoder_on_unpadded_reviews(options):
    torch.manual_seed(0)
    enc = SentimentClassifier(**{**options, "vocab_size": 300}, scheduler=None).net.eval()
    ids = torch.randint(2, 300, (4, 17))  # no padding: the two recurrences see the same steps
    with torch.no_grad():
        torch.testing.assert_close(OverPadding(enc)(ids), enc(ids), rtol=1e-5, atol=1e-5)


def test_the_terminal_and_the_docs_show_the_same_tables(monkeypatch):
    report = json.loads(RECORDS.read_text())["bench"]
    built = tables.bench_tables(report)
    assert len(built) >= 6
    markdown = tables.to_markdown(built)
    out = io.StringIO()
    monkeypatch.setattr(
        "rich.console.Console",
        lambda **kw: Console(file=out, width=400, **{k: v for k, v in kw.items() if k != "width"}),
    )
    tables.print_tables(report)
    shown = out.getvalue()
    for table in built:
        assert f"### {table.title}" in markdown
        for row in table.rows:
            assert "| " + " | ".join(row) + " |" in markdown
            assert all(cell in shown for cell in row)


def test_a_stopped_run_reports_its_best_checkpoint_so_far_and_costs_the_epochs_it_ran():
    from lstm_imdb.tools.bench.curves import add_curves, tested_epochs

    # val acc ties at epoch 3: ModelCheckpoint keeps the first of equals
    assert tested_epochs([0.70, 0.80, 0.80, 0.79, 0.85]) == [0, 1, 1, 1, 4]
    real = {
        "seed": 42,
        "process_s": 100.0,
        "epoch_s": [10.0, 10.0, 10.0],
        "val_acc": [0.80, 0.86, 0.85],
        "test_acc_by_epoch": [0.79, 0.85, 0.86],
    }
    keras = {
        "seed": 42,
        "process_s": 340.0,  # less the per-epoch test scoring (processes.bench_keras)
        "epoch_s": [80.0, 80.0, 80.0],
        "val_acc": [0.78, 0.83, 0.84],
        "test_acc_by_epoch": [0.77, 0.84, 0.845],
    }
    add_curves(real, keras)
    # epoch 3's weights score 0.86 on test, but its val acc is lower than epoch 2's: a 3-epoch run tests epoch 2
    assert [r["test_acc"] for r in real["stopped"]] == [0.79, 0.85, 0.85]
    assert [r["process_s"] for r in real["stopped"]] == [80.0, 90.0, 100.0]
    assert [r["process_s"] for r in keras["stopped"]] == [180.0, 260.0, 340.0]
    assert real["reach_keras_best"] == {"target": 0.845, "run": real["stopped"][1]}
    assert keras["reach_keras_best"]["run"] == keras["stopped"][2]
    table = tables.curves_table(real, keras)
    assert table.rows[1] == ["2", "0.8600", "0.8500", "90.0", "0.8300", "0.8400", "260.0", "2.89"]
    assert tables.reach_row(real, keras)[1:] == ["90.0 (2 epochs)", "340.0 (3 epochs)", "3.78"]
