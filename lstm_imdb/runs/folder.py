"""One place for the run folder's layout: its file names, a reader, and the JSON writer.

<run>/
  .hydra/config.yaml, overrides.yaml   the composed config and the command-line overrides (Hydra)
  environment.json                     versions, commit, machine, precision (provenance.py)
  history.json                         each epoch's train/val metrics (MetricHistory)
  test_metrics.json                    final metrics of the tested checkpoint (report.py)
  pretrain_metrics.json                a language model's final figures (pretrain)
  report/                              classification reports and figures (report.py)
  checkpoints/best.ckpt, last.ckpt     the checkpoint the report is for, and the one to resume from
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from lightning.pytorch.utilities import rank_zero_only

CONFIG = ".hydra/config.yaml"
OVERRIDES = ".hydra/overrides.yaml"
ENVIRONMENT = "environment.json"
HISTORY = "history.json"
TEST_METRICS = "test_metrics.json"
PRETRAIN_METRICS = "pretrain_metrics.json"
REPORT = "report"
CHECKPOINTS = "checkpoints"
BEST = "best.ckpt"
LAST = "last.ckpt"


def read_json(path: Path):
    """The file's JSON, or None when it is missing or unreadable (a run that failed or is still going)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


@rank_zero_only  # under DDP only rank 0 writes run files
def write_json(path: Path, payload: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))


@dataclass(frozen=True)
class RunFolder:
    """A run's folder, read lazily; every reader returns an empty value for what the run did not write."""

    path: Path

    def metrics(self) -> dict:
        return read_json(self.path / TEST_METRICS) or {}

    def history(self) -> list[dict]:
        return read_json(self.path / HISTORY) or []

    def environment(self) -> dict:
        return read_json(self.path / ENVIRONMENT) or {}

    def config(self) -> dict:
        path = self.path / CONFIG
        return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}

    def overrides(self) -> list[str]:
        path = self.path / OVERRIDES
        return (yaml.safe_load(path.read_text()) or []) if path.is_file() else []

    @property
    def seed(self) -> int | None:
        return self.config().get("seed")

    @property
    def best_checkpoint(self) -> Path:
        return self.path / CHECKPOINTS / BEST

    def is_run(self) -> bool:
        return (self.path / CONFIG).is_file()

    def finished(self) -> bool:
        """Trained and tested (its final metrics are written last)."""
        return (self.path / TEST_METRICS).is_file()


def newest_finished_run(folder: Path) -> Path:
    """The newest run at or below `folder` that finished (by the time its final metrics were written)."""
    done = [r.path for r in find_runs([folder]) if r.finished()]
    if not done:
        raise FileNotFoundError(f"No finished run (one with {TEST_METRICS}) under {folder}: train one first")
    return max(done, key=lambda p: (p / TEST_METRICS).stat().st_mtime)


def find_runs(folders: list[Path]) -> list[RunFolder]:
    """Every run folder (one holding `.hydra/config.yaml`) at or below the given folders."""
    runs = []
    for folder in map(Path, folders):
        if RunFolder(folder).is_run():
            runs.append(RunFolder(folder))
        else:
            found = sorted((p.parent.parent for p in folder.glob(f"**/{CONFIG}")), key=str)
            runs.extend(RunFolder(p) for p in found)
    return runs


def checkpoints_under(folder: Path, name: str = BEST) -> list[Path]:
    """Every `checkpoints/<name>` at or below `folder` (a run or a sweep), in path order."""
    return sorted(Path(folder).glob(f"**/{CHECKPOINTS}/{name}"))


def remove_unstarted_run(path: Path) -> bool:
    """Remove a run folder that a command made but that stopped before any work (a bad input found at
    set-up): nothing in it but Hydra's config, the environment record and logs. Anything else: kept."""
    path = Path(path)
    if not (path / CONFIG).is_file():
        return False
    if any(p.name not in (".hydra", ENVIRONMENT) and p.suffix != ".log" for p in path.iterdir()):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


FAILED_SUFFIX = "_FAILED"


@rank_zero_only  # under DDP one process renames (the others get None)
def mark_failed(path: Path) -> Path | None:
    """Rename the folder of a run that failed (a non-finite loss, an error) to `<name>_FAILED`, so that
    folder listings, TensorBoard and notebooks tell it from the runs that finished; its files stay.
    Returns the new path, or None when nothing was renamed."""
    path = Path(path)
    if not (path / CONFIG).is_file() or path.name.endswith(FAILED_SUFFIX):
        return None
    target = path.with_name(path.name + FAILED_SUFFIX)
    if target.exists():
        return None
    path.rename(target)
    return target
