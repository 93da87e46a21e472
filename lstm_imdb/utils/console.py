"""What a command prints: the lines a user reads, not the libraries' chatter. Lightning's start-up notices
(the accelerators it did not find, an advertisement, the seed it was given), two library warnings that do
not concern this project's code, and the `datasets` cache's "Saving the dataset" bars are left out; every
other message, warning and error still shows."""

from __future__ import annotations

import logging
import os
import warnings

# Lightning's INFO lines at the start of every run that say nothing about this run's result.
_LIGHTNING_CHATTER = (
    "💡 Tip:",
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "Trainer already configured with model summary callbacks",
    "Seed set to",
)


class _DropChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_LIGHTNING_CHATTER)


def quiet_libraries() -> None:
    """Once per process, from `lstm_imdb.cli.startup`."""
    import lightning.pytorch  # noqa: F401 - its console handlers exist from its import on

    chatter = _DropChatter()
    for name in ("lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        logger.addFilter(chatter)
        for handler in logger.handlers:
            handler.addFilter(chatter)
    # Lightning's own use of a deprecated torch API; torchmetrics on a sanity-check batch of one class
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r"No positive samples in targets.*")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
