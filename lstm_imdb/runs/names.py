"""Run folders named by what they are: `${run_name:}` in conf/hydra/default.yaml gives the experiment (or
`default`) and the command-line overrides that change the model, data or training, so that folders,
TensorBoard's run list and HPARAMS tell runs apart (in a sweep: the keys it varies); the time goes first
in the folder name, so they sort."""

from __future__ import annotations

import re
from pathlib import Path

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
        # the last key of `model.hidden_size` or of a group choice `model/scheduler` (a `/` would nest folders)
        key = re.sub(r"[^\w+-]+", "-", re.split(r"[./]", key)[-1])
        parts.append(f"{key}-{value}")
    name, shown = parts[0], 1
    for part in parts[1:]:
        if len(name) + 1 + len(part) > MAX_CHARS:
            break
        name, shown = f"{name}_{part}", shown + 1
    return name if shown == len(parts) else f"{name}_+{len(parts) - shown}"


def swept_keys(multirun_yaml: Path) -> set[str]:
    """The keys a sweep varies, from the `multirun.yaml` its launcher writes before the jobs start: the
    command line's `key=a,b` (or `key=range(...)`, `choice(...)`) and the sweeper's own `params`."""
    import yaml

    try:
        saved = yaml.safe_load(Path(multirun_yaml).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return set()
    hydra = saved.get("hydra") or {}
    keys = {
        o.lstrip("+~").partition("=")[0]
        for o in (hydra.get("overrides") or {}).get("task") or []
        if "," in o.partition("=")[2] or re.search(r"=\s*(range|choice|interval|glob)\(", o)
    }
    return keys | set(((hydra.get("sweeper") or {}).get("params") or {}).keys())


def run_name() -> str:
    """The `${run_name:}` resolver: this job's experiment and overrides (Hydra's, read when it names the
    run folder); in a sweep, the overrides of the keys the sweep varies (the others are the same for all)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra = HydraConfig.get()
    overrides = list(hydra.overrides.task)
    if hydra.mode == RunMode.MULTIRUN:
        swept = swept_keys(Path(hydra.sweep.dir) / "multirun.yaml")
        overrides = [o for o in overrides if o.lstrip("+~").partition("=")[0] in swept] or overrides
    return describe(hydra.runtime.choices.get("experiment"), overrides)
