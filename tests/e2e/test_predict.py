"""`python -m lstm_imdb.predict` as users type it: reviews full of punctuation on the command line, from
standard input, from .txt / .jsonl / .csv files, in chunks, and with ensembles. The runs; the in-process checks
are in tests/unit/test_predict.py."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from helpers import run_module

from lstm_imdb.inference.checkpoint import load_checkpoint
from lstm_imdb.inference.predictor import Predictor

HARD = [
    "A wonderful, moving film.",
    "I didn't like it, not one bit: 'boring', \"dull\" & awful!",
    "Rating = 9/10 [superb] {really} (brilliant) -- loved it; great = great",
    "Line one,\nline two: excellent\ttabbed",
    "Ça, c'était génial — 映画 wonderful ✨",
    "text=great, key=value, a=b,c",
]


@pytest.fixture(scope="module")
def ckpt(trained):
    _, run_dir, _ = trained
    return run_dir / "checkpoints" / "best.ckpt"


@pytest.fixture(scope="module")
def expected(ckpt):
    """Scores of the HARD reviews computed in-process, to compare every route with."""
    probs = Predictor(load_checkpoint(ckpt)).predict_proba(HARD)
    return [round(float(p), 6) for p in probs]


def test_any_punctuation_on_the_command_line(ckpt, expected, tmp_path):
    proc = run_module("lstm_imdb.predict", f"ckpt_path={ckpt}", *(f"text={t}" for t in HARD), root=tmp_path)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["text"] for r in rows] == HARD
    assert [r["prob_positive"] for r in rows] == pytest.approx(expected, abs=1e-5)
    assert all(r["label"] in ("positive", "negative") for r in rows)


def test_reviews_piped_in_as_lines_or_json_lines(ckpt, expected, tmp_path):
    one_line = [t.replace("\n", " ") for t in HARD]
    proc = run_module(
        "lstm_imdb.predict", f"ckpt_path={ckpt}", root=tmp_path, stdin="\n".join(one_line) + "\n"
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["text"] for r in rows] == one_line and [r["line"] for r in rows] == list(range(1, 7))

    records = [{"id": f"r{i}", "text": t} for i, t in enumerate(HARD)] + [{"id": "bad"}]
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) + "{not json\n"
    proc = run_module("lstm_imdb.predict", f"ckpt_path={ckpt}", "input_path=-", root=tmp_path, stdin=stdin)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r.get("id") for r in rows] == [f"r{i}" for i in range(6)] + ["bad", None]
    assert [r["prob_positive"] for r in rows[:6]] == pytest.approx(expected, abs=1e-5)
    assert 'no "text"' in rows[6]["error"] and "not JSON" in rows[7]["error"]
    assert (
        "Scored 8 reviews from standard input" in proc.stderr
    )  # logs to standard error, rows to standard output


def test_rows_go_to_standard_output_unless_a_file_is_named(ckpt, expected, tmp_path):
    src = tmp_path / "reviews.txt"
    src.write_text("\n".join(t.replace("\n", " ") for t in HARD) + "\n", encoding="utf-8")
    before = set(tmp_path.iterdir())
    for out in ([], ["output_path=-"]):  # the Unix convention: no path, or -, is standard output
        proc = run_module("lstm_imdb.predict", f"ckpt_path={ckpt}", f"input_path={src}", *out, root=tmp_path)
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [r["prob_positive"] for r in rows] == pytest.approx(expected, abs=1e-5)
        assert f"Scored 6 reviews from {src}: predictions on standard output" in proc.stderr
    assert set(tmp_path.iterdir()) == before  # no <input>.predictions.jsonl, no file named -
    out = tmp_path / "sub" / "p.jsonl"
    proc = run_module(
        "lstm_imdb.predict", f"ckpt_path={ckpt}", "text=superb", f"output_path={out}", root=tmp_path
    )
    assert proc.stdout == "" and json.loads(out.read_text())["text"] == "superb"


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        ([], "", "standard input held no reviews"),
        (["input_path=EMPTY"], None, "held no reviews"),
        (["input_path=-", "output_path=p.txt"], "great\n", "must end in .jsonl or .csv"),
        (["input_path=EMPTY", "output_path=EMPTY"], None, "is the input file"),
    ],
)
def test_an_input_with_nothing_to_predict_or_a_bad_output_says_so(ckpt, tmp_path, args, stdin, message):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    args = [a.replace("EMPTY", str(empty)) for a in args]
    proc = run_module(
        "lstm_imdb.predict", f"ckpt_path={ckpt}", *args, root=tmp_path, stdin=stdin, check=False
    )
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt"]  # nothing written


def test_a_csv_file_in_chunks_keeps_order_ids_and_errors(ckpt, expected, tmp_path):
    src = tmp_path / "reviews.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "text"])
        w.writeheader()
        for i in range(40):
            w.writerow({"id": f"a{i}", "text": HARD[i % len(HARD)] if i != 17 else "<br /> ..."})
    out = tmp_path / "out.csv"
    run_module(
        "lstm_imdb.predict",
        f"ckpt_path={ckpt}",
        f"input_path={src}",
        f"output_path={out}",
        "chunk_size=7",  # 40 rows in 6 chunks
        root=tmp_path,
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == [f"a{i}" for i in range(40)]
    assert "empty review" in rows[17]["error"] and rows[17]["prob_positive"] == ""
    got = [float(r["prob_positive"]) for i, r in enumerate(rows) if i != 17]
    want = [expected[i % len(HARD)] for i in range(40) if i != 17]
    assert got == pytest.approx(want, abs=1e-5)


def test_an_ensemble_of_checkpoints_or_a_run_folder(trained, ckpt, tmp_path):
    _, run_dir, _ = trained
    last = run_dir / "checkpoints" / "last.ckpt"
    proc = run_module(
        "lstm_imdb.predict", f"ckpt_path=[{ckpt},{last}]", "text=superb, great film", root=tmp_path
    )
    got = json.loads(proc.stdout.splitlines()[-1])["prob_positive"]
    members = [Predictor(load_checkpoint(p)).predict_proba(["superb, great film"])[0] for p in (ckpt, last)]
    assert got == pytest.approx(sum(members) / 2, abs=1e-5)
    proc = run_module("lstm_imdb.predict", f"ckpt_path={run_dir}", "text=superb, great film", root=tmp_path)
    assert json.loads(proc.stdout.splitlines()[-1])["prob_positive"] == pytest.approx(members[0], abs=1e-5)


def test_evaluate_refuses_members_validated_on_different_folds(ckpt, tmp_path):
    """Same vocabulary and settings (one view), but trained with another data.val_fold: each member trained
    on reviews the other holds out, so the ensemble has no validation score. A checkpoint from before
    folds (no val_fold) counts as fold 0."""
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    hp = state["datamodule_hyper_parameters"]
    hp["val_fraction"], hp["val_fold"] = 0.5, 1
    torch.save(state, tmp_path / "fold1.ckpt")
    hp["val_fold"] = 0
    torch.save(state, tmp_path / "fold0.ckpt")
    del hp["val_fold"]
    torch.save(state, tmp_path / "before_folds.ckpt")
    members = f"ckpt_path=[{tmp_path / 'fold0.ckpt'},{tmp_path / 'fold1.ckpt'}]"
    proc = run_module("lstm_imdb.evaluate", members, root=tmp_path, check=False)
    assert proc.returncode == 2 and "val_fold: 0 vs 1" in proc.stdout + proc.stderr
    from lstm_imdb.data.views import check_same_split

    check_same_split(
        [load_checkpoint(tmp_path / n).data_hparams for n in ("fold0.ckpt", "before_folds.ckpt")]
    )


def test_an_ensemble_with_another_vocabulary_reads_each_review_its_members_ways(ckpt, tmp_path):
    from lstm_imdb.data.tokenizer import fit_tokenizer

    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    other = tmp_path / "other_vocab.ckpt"
    state["IMDBDataModule"]["tokenizer"] = fit_tokenizer(
        ["other words entirely", "great superb"], 60
    ).to_str()
    state["datamodule_hyper_parameters"]["sequence_length"] = 5
    torch.save(state, other)
    review = "superb, great film; the other words didn't matter"
    proc = run_module("lstm_imdb.predict", f"ckpt_path=[{ckpt},{other}]", f"text={review}", root=tmp_path)
    got = json.loads(proc.stdout.splitlines()[-1])["prob_positive"]
    members = [Predictor(load_checkpoint(p)).predict_proba([review])[0] for p in (ckpt, other)]
    assert abs(members[0] - members[1]) > 1e-4  # the two ways of reading give different scores
    assert got == pytest.approx(sum(members) / 2, abs=1e-5)
    # evaluate needs the members to share their validation reviews; export, one way of reading
    state["datamodule_hyper_parameters"]["val_seed"] = 7
    torch.save(state, other)
    proc = run_module("lstm_imdb.evaluate", f"ckpt_path=[{ckpt},{other}]", root=tmp_path, check=False)
    assert proc.returncode == 2 and "val_seed: 42 vs 7" in proc.stdout + proc.stderr
    out = tmp_path / "export"
    proc = run_module(
        "lstm_imdb.export", f"ckpt_path=[{ckpt},{other}]", f"output_dir={out}", root=tmp_path, check=False
    )
    assert proc.returncode == 2 and "2 different ways" in proc.stdout + proc.stderr and not out.exists()


def test_rows_are_read_scored_and_written_a_chunk_at_a_time(ckpt):
    """Bounded memory: no more than one chunk is read ahead of what has been written."""
    from lstm_imdb.inference.predictor import stream_predictions

    predictor = Predictor(load_checkpoint(ckpt))
    state = {"read": 0, "max_ahead": 0}
    written = []

    def rows():
        for i in range(1000):
            state["read"] += 1
            state["max_ahead"] = max(state["max_ahead"], state["read"] - len(written))
            yield {"line": i + 1, "text": HARD[i % len(HARD)]}

    class Collect:
        def write(self, row):
            written.append(row["line"])

    assert stream_predictions(predictor, rows(), Collect(), chunk_size=64, progress=False) == (1000, 0)
    assert written == list(range(1, 1001)) and state["max_ahead"] <= 64
