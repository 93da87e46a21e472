"""The docs' commands are found: fenced ```bash blocks (with comments stripped as a shell does) hold
the commands that tests/e2e/test_docs_commands.py runs as typed."""

from __future__ import annotations

from helpers.docs import documented, strip_comment


def test_the_docs_show_commands_to_run():
    commands = [c for _, c in documented()]
    assert any(c.startswith("python -m lstm_imdb.train") for c in commands)
    assert any("lstm_imdb.predict" in c and "text=" in c for c in commands)
    assert strip_comment('python -m x text="a # b" # c') == 'python -m x text="a # b"'
