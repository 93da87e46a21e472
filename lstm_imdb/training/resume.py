"""Which checkpoint a run resumes from, and whether it fits. `ckpt_path=last` takes the newest run under
`logs/<task>/` whose data and model config equal this one's, and says which; a checkpoint whose weights do
not fit the model this config builds is refused before any data work, naming both shapes and the way out."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from lstm_imdb.runs.folder import LAST, RunFolder, checkpoints_under
from lstm_imdb.utils.checkpoint_file import CheckpointError, read_checkpoint

log = logging.getLogger(__name__)

_UNSET = "(not set)"


def _flat(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        return {k: v for key, sub in node.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): node}


def config_differences(saved: dict, cfg: DictConfig, keys: tuple[str, ...]) -> list[str]:
    """`key: value there -> value here` for each setting under `keys` that differs (unresolved values, as
    Hydra saves them in `.hydra/config.yaml`)."""
    now = {k: OmegaConf.to_container(cfg[k], resolve=False) if k in cfg else None for k in keys}
    there, here = _flat({k: saved.get(k) for k in keys}), _flat(now)
    return [
        f"{k}: {there.get(k, _UNSET)!r} -> {here.get(k, _UNSET)!r}"
        for k in sorted(set(there) | set(here))
        if there.get(k, _UNSET) != here.get(k, _UNSET)
    ]


def run_of(ckpt: Path) -> RunFolder:
    return RunFolder(Path(ckpt).parent.parent)


def newest_matching_last(cfg: DictConfig, keys: tuple[str, ...]) -> Path:
    """The newest `last.ckpt` of a run whose `keys` config equals `cfg`'s; an error naming the newest run
    and what differs when none does."""
    folder = Path(cfg.paths.log_dir, cfg.task_name)
    candidates = sorted(checkpoints_under(folder, LAST), key=lambda p: p.stat().st_mtime, reverse=True)
    if not candidates:
        raise CheckpointError(f"ckpt_path=last: no last.ckpt under {folder}")
    for ckpt in candidates:
        run = run_of(ckpt)
        if run.is_run() and not config_differences(run.config(), cfg, keys):
            log.info(
                "ckpt_path=last: resuming %s (overrides: %s)", run.path, " ".join(run.overrides()) or "none"
            )
            return ckpt
    newest = run_of(candidates[0])
    diffs = config_differences(newest.config(), cfg, keys)
    raise CheckpointError(
        f"ckpt_path=last: none of the {len(candidates)} runs with a last.ckpt under {folder} has this "
        f"{' and '.join(keys)} config. The newest, {newest.path} (overrides: "
        f"{' '.join(newest.overrides()) or 'none'}), differs in {'; '.join(diffs[:6])}"
        f"{' ...' if len(diffs) > 6 else ''}. Resume it with its overrides and ckpt_path=last, or name "
        "a checkpoint: ckpt_path=<run>/checkpoints/last.ckpt"
    )


def resume_checkpoint(cfg: DictConfig, keys: tuple[str, ...] = ("data", "model")) -> tuple[Path, dict] | None:
    """The checkpoint `cfg.ckpt_path` resumes from (`last`: see `newest_matching_last`) and its contents."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path in (None, ""):
        return None
    path = newest_matching_last(cfg, keys) if ckpt_path == "last" else Path(ckpt_path)
    state = read_checkpoint(path)  # missing or corrupt: fails here, before any data work
    log.info("Resuming from %s", path)
    return path, state


def check_fits(model: torch.nn.Module, ckpt: Path, state: dict) -> None:
    """Refuse a checkpoint whose weights have other shapes than the model this config builds (or none of
    its names), before training: a message naming both shapes and the way out, not a load_state_dict error."""
    theirs = state.get("state_dict") or {}
    ours = model.state_dict()
    wrong = [
        f"{k}: {tuple(v.shape)} in the checkpoint, {tuple(ours[k].shape)} here"
        for k, v in theirs.items()
        if k in ours and hasattr(v, "shape") and tuple(v.shape) != tuple(ours[k].shape)
    ]
    if not wrong and (set(theirs) & set(ours) or not theirs):
        return
    what = (
        "; ".join(wrong[:4]) + (" ..." if len(wrong) > 4 else "") if wrong else "no weight of the same name"
    )
    overrides = " ".join(run_of(ckpt).overrides()) if run_of(ckpt).is_run() else ""
    raise CheckpointError(
        f"ckpt_path={str(ckpt)!r} does not fit the model this config builds ({what}). Resume it with the "
        f"config it was trained with{f' (its overrides: {overrides})' if overrides else ''}, or start a new "
        "run without ckpt_path."
    )
