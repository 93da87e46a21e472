"""Where the project keeps data and logs, whatever the working directory."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_DIR = PACKAGE_DIR.parent / "conf"


def project_root() -> Path:
    """`$LSTM_IMDB_ROOT`, else the checkout that holds this package (editable install)."""
    return Path(os.environ.get("LSTM_IMDB_ROOT", PACKAGE_DIR.parent)).resolve()


def default_data_dir() -> Path:
    return project_root() / "data"


def _register_resolvers() -> None:
    """`${lstm_imdb_root:}` in configs: the project root, from any working directory;
    `${fast_precision:}`: bf16-mixed where the hardware computes bf16 natively, else 32-true."""
    from omegaconf import OmegaConf

    from lstm_imdb.precision import fast_precision

    if not OmegaConf.has_resolver("lstm_imdb_root"):
        OmegaConf.register_new_resolver("lstm_imdb_root", lambda: str(project_root()))
    if not OmegaConf.has_resolver("fast_precision"):
        OmegaConf.register_new_resolver("fast_precision", fast_precision)


_register_resolvers()
