"""`python -m lstm_imdb.predict` as users type it: reviews full of punctuation on the command line, from
standard input, from .txt / .jsonl / .csv files, in chunks, and with ensembles. The in-process checks; the runs
are in tests/e2e/test_predict.py."""

from __future__ import annotations

from lstm_imdb.inference.formats import take_text_arguments


def test_text_arguments_are_taken_before_hydra_parses_them():
    texts, rest = take_text_arguments(
        ["ckpt_path=x", "text=a, b", "text='it\\'s'", 'text="q"', "batch_size=2"]
    )
    assert texts == ["a, b", "it's", "q"] and rest == ["ckpt_path=x", "batch_size=2"]
