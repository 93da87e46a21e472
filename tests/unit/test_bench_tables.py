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
