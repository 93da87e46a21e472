"""Scoring with an export's files alone, as its model card shows (tests/e2e/test_export.py, test_wide_runs.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from lstm_imdb.inference import export

REVIEWS = [
    "A wonderful, moving film. I didn't expect it!",
    "Dull, 'boring' & far too long.",
    "Rating = 9/10 [superb] (brilliant) -- loved it; great = great",
    "Ça, c'était génial — 映画 wonderful ✨",
    " ".join(["the plot was awful and the acting terrible"] * 30),  # longer than the model reads
]


def card_snippet(folder) -> str:
    """The model card's Python block, its example texts replaced by REVIEWS and its print by JSON."""
    code = re.search(r"```python\n(.*?)```", (folder / export.CARD).read_text(), re.S).group(1)
    last = code.rstrip().splitlines()[-1]
    assert last.startswith("print(prob_positive(")
    return code.replace(last, f"print(json.dumps(prob_positive({REVIEWS!r}).tolist()))")


def score_without_the_package(folder, tmp_path) -> list[float]:
    """The card's snippet in a fresh interpreter, in the export folder, where `import lstm_imdb` fails."""
    script = tmp_path / "score.py"
    script.write_text(
        "import sys\nsys.modules['lstm_imdb'] = None  # not importable\n" + card_snippet(folder)
    )
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
