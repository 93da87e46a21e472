"""The commands the README and docs/ show: fenced ```bash blocks and commands quoted inline."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (a # outside quotes, after white space)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"':
                continue
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def block_commands(text: str) -> list[str]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        commands += [c for c in (strip_comment(line).strip() for line in joined.splitlines()) if c]
    return commands


def inline_commands(text: str) -> list[str]:
    """Every `python -m lstm_imdb.{train,evaluate,baseline,pretrain} ...` quoted inline (a quote may chain
    several with `&&`)."""
    quoted = re.findall(r"`(python -m lstm_imdb\.(?:train|evaluate|baseline|pretrain)[^`]*)`", text)
    return [part.strip() for q in quoted for part in q.split("&&")]


def documented() -> list[tuple[str, str]]:
    return [(doc.name, cmd) for doc in DOCS for cmd in block_commands(doc.read_text())]
