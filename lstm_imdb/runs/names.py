"""Run folders named by what they are: `${run_name:}` in conf/hydra/default.yaml gives the experiment (or
`default`) and the command-line overrides that change the model, data or training, so that folders,
TensorBoard's run list and HPARAMS tell runs apart; the time goes first in the folder name, so they sort."""

from __future__ import annotations

import re

# Overrides that do not say what a run is: where things go, what is printed, what it resumes from.
_NOT_WHAT = re.compile(
    r"^(hydra|paths|experiment|hparams_search|debug|ckpt_path|print_config|tags|test)\b|_(dir|path)$"
)
MAX_CHARS = 80


def describe(experiment: str | None, overrides: list[str]) -> str:
    """`best_single_hidden_size-64_seed-1`: the experiment, then each override as its last key and value,
    in the order given, at most MAX_CHARS characters (`_+N`: N more not shown). Only letters, digits and
    `_ . + -`: safe in a file name and, unquoted, in a Hydra override (`ckpt_path=[a,b]` splits at commas)."""
    parts = [experiment or "default"]
    for item in overrides:
        key, sep, value = item.lstrip("+~").partition("=")
        if not sep or _NOT_WHAT.search(key):
            continue
        value = re.sub(r"[^\w.+-]+", "-", value.strip("'\"")).strip("-")
        parts.append(f"{key.rsplit('.', 1)[-1]}-{value}")
    name, shown = parts[0], 1
    for part in parts[1:]:
        if len(name) + 1 + len(part) > MAX_CHARS:
            break
        name, shown = f"{name}_{part}", shown + 1
    return name if shown == len(parts) else f"{name}_+{len(parts) - shown}"


def run_name() -> str:
    """The `${run_name:}` resolver: this job's experiment and overrides (Hydra's, read when it names the
    run folder)."""
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    return describe(hydra.runtime.choices.get("experiment"), list(hydra.overrides.task))
