"""Where the project keeps its configs, data and logs, whatever the working directory."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
CONFIG_DIR = PACKAGE_DIR.parent / "conf"


def project_root() -> Path:
    """`$LSTM_IMDB_ROOT`, else the checkout that holds this package (editable install)."""
    return Path(os.environ.get("LSTM_IMDB_ROOT", PACKAGE_DIR.parent)).resolve()


def default_data_dir() -> Path:
    return project_root() / "data"
