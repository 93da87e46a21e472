"""Where a run comes from: versions, commit, machine and time (written to the run's environment.json)."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
import torch

import lstm_imdb
from lstm_imdb.utils import allocator
from lstm_imdb.utils.hardware import cpu_isa
from lstm_imdb.utils.paths import project_root


def seconds_since_process_start() -> float:
    """Seconds since this process started (the interpreter's start-up and imports included); NaN where
    the OS does not say."""
    try:
        return time.time() - psutil.Process().create_time()
    except psutil.Error:  # the OS refuses: the figure is informative only
        return float("nan")


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_root(), capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def git_dirty() -> bool | None:
    """True when the code or configs differ from the commit (the run's code is not exactly `git_commit`);
    generated docs do not count."""
    try:
        out = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "lstm_imdb",
                "conf",
                "pyproject.toml",
            ],
            cwd=project_root(),
            capture_output=True,
            text=True,
            timeout=5,
        )
        return bool(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    """Versions and commit that produced a run (written to the run folder)."""
    import lightning
    import tokenizers
    import torchmetrics

    return {
        "lstm_imdb": lstm_imdb.__version__,
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "torchmetrics": torchmetrics.__version__,
        "tokenizers": tokenizers.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "device": torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "cpu_isa": cpu_isa(),
        "malloc_tuned": allocator.tuned,
    }


def cpu_model() -> str | None:
    """The CPU's model name (Linux), for the run's record."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None
