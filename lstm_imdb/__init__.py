"""LSTM-family sentiment classifiers on IMDB with PyTorch Lightning and Hydra.

Importing the package does nothing else but check that its dependencies are there (so that a Python
without them, outside the project's `.venv`, says how to fix it); the entry points (and notebooks) call
`lstm_imdb.cli.startup()`.
"""

__version__ = "0.1.0"


def _require_dependencies() -> None:
    """Fail with the way out when this Python lacks the project's packages (found without importing them)."""
    import importlib.util
    import sys

    missing = [m for m in ("torch", "lightning", "hydra", "omegaconf") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    message = (
        f"This Python ({sys.executable}) does not have lstm_imdb's dependencies (no {', '.join(missing)}). "
        "Set the project up with `make install`, then activate its environment in this shell with "
        "`source .venv/bin/activate` (or run `.venv/bin/python` instead of `python`)."
    )
    if sys.argv[:1] == ["-m"]:  # `python -m lstm_imdb.<command>`: a message and exit code 2, no traceback
        print(message, file=sys.stderr)
        raise SystemExit(2)
    raise ModuleNotFoundError(message, name=missing[0])


_require_dependencies()
