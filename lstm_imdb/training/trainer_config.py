"""`trainer.*` values checked before any work. Lightning's Trainer accepts some bad values when it is built
(`max_epochs=six`, `check_val_every_n_epoch=0`, `accumulate_grad_batches=0`) and fails only inside the fit
loop, after the data is loaded and a wide model's NBSVM is fitted; these fail at set-up instead, every bad
key named with what it takes. `min_epochs` above `max_epochs` is refused too: the fit loop would stop at
`max_epochs` without a word, short of the minimum asked for. The values Lightning itself refuses when it is
built (precision, devices, accelerator, limit_*_batches) are left to its own messages.

The metrics that callbacks (checkpointing, early stopping) and a plateau scheduler monitor are checked too:
Lightning looks for them only at the end of the first validation epoch, after a whole epoch of training."""

from __future__ import annotations

import math
from collections.abc import Mapping

from lstm_imdb.utils.errors import refuse


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _at_least(low: int, nullable: bool = True):
    return lambda v: (nullable and v is None) or (_integer(v) and v >= low)


# key -> (accepts, what it takes)
TRAINER_RULES = {
    "max_epochs": (
        lambda v: v is None or (_integer(v) and (v >= 0 or v == -1)),
        "an integer >= 0, -1 (no limit) or null",
    ),
    "min_epochs": (_at_least(0), "an integer >= 0 or null"),
    "max_steps": (lambda v: _integer(v) and (v >= 0 or v == -1), "an integer >= 0 or -1 (no limit)"),
    "min_steps": (_at_least(0), "an integer >= 0 or null"),
    "check_val_every_n_epoch": (_at_least(1), "an integer >= 1 or null (validate by steps)"),
    "num_sanity_val_steps": (_at_least(-1), "an integer >= 0, -1 (all) or null"),
    "log_every_n_steps": (_at_least(1), "an integer >= 1 or null"),
    "accumulate_grad_batches": (_at_least(1, nullable=False), "an integer >= 1"),
    "gradient_clip_val": (
        lambda v: (
            v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < math.inf)
        ),
        "a number >= 0 or null (no clipping)",
    ),
    "deterministic": (lambda v: v in (None, "warn") or isinstance(v, bool), "true, false, warn or null"),
}


def check_trainer_config(trainer: Mapping | None) -> None:
    """Raise one ValueError naming every `trainer.<key>=<value>` that the fit loop would fail on later."""
    trainer = trainer or {}
    problems = [
        f"trainer.{key}={trainer[key]!r}: must be {what}"
        for key, (accepts, what) in TRAINER_RULES.items()
        if key in trainer and not accepts(trainer[key])
    ]
    low, high = trainer.get("min_epochs"), trainer.get("max_epochs")
    if not problems and _integer(low) and _integer(high) and high >= 0 and low > high:
        problems.append(
            f"trainer.min_epochs={low} > trainer.max_epochs={high}: lower min_epochs or raise max_epochs"
        )
    refuse("trainer", problems)


def check_monitors(callbacks: Mapping | None, model) -> None:
    """Every `callbacks.<name>.monitor`, and `model.scheduler_monitor` with ReduceLROnPlateau, that names a
    validation metric (`val/...`) must be one the model logs (its `validation_metrics`); other names
    (`train/loss`) are left to Lightning. A model that does not list its metrics is not checked."""
    logged = getattr(model, "validation_metrics", None)
    if logged is None:
        return
    watched = {
        f"callbacks.{name}.monitor": cb.get("monitor")
        for name, cb in (callbacks or {}).items()
        if isinstance(cb, Mapping)
    }
    scheduler = model.hparams.get("scheduler") or {}
    if str(scheduler.get("_target_", "")).endswith("ReduceLROnPlateau"):  # the one scheduler that watches
        watched["model.scheduler_monitor"] = model.hparams.get("scheduler_monitor")
    refuse(
        "monitor",
        [
            f"{key}={name!r}: the model logs no such metric (it logs {', '.join(sorted(logged))})"
            for key, name in watched.items()
            if isinstance(name, str) and name.startswith("val/") and name not in logged
        ],
    )
