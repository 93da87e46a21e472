"""A Hydra callback that, once a sweep has finished, tests the ensemble of its runs' best checkpoints
(mean probability, or `ensemble_weights: validation`: weights fitted on the validation split,
`inference/ensemble_blend.py`) and writes the report to `<sweep dir>/ensemble/`.

Used by `experiment=best`: one command trains several seeds, then tests them together. The
ensemble is tested by `python -m lstm_imdb.evaluate` in a child process, so that it builds its data and
trainer from the checkpoints exactly as a user's own `evaluate` call would.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lstm_imdb.runs.folder import BEST, CHECKPOINTS

log = logging.getLogger(__name__)


def _job_order(ckpt: Path) -> tuple:
    """Sweep jobs in launch order: numeric job folders by number (0, 1, ..., 10), others by name."""
    name = ckpt.parent.parent.name
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _quoted(path: Path) -> str:
    """A path as a quoted Hydra override value, so that spaces or commas in it survive the parser."""
    escaped = str(path).replace("'", "\\'")  # Hydra unescapes a backslash only before a quote
    return f"'{escaped}'"


class TestSweepEnsemble(Callback):
    def __init__(
        self, min_members: int = 2, trainer: str = "default", ensemble_weights: str = "mean"
    ) -> None:
        self.min_members = min_members
        self.trainer = trainer
        self.ensemble_weights = ensemble_weights

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        ckpts = sorted(sweep_dir.glob(f"*/{CHECKPOINTS}/{BEST}"), key=_job_order)
        if len(ckpts) < self.min_members:
            log.warning(
                "Ensemble not tested: %d best checkpoints under %s, %d needed",
                len(ckpts),
                sweep_dir,
                self.min_members,
            )
            return
        out_dir = sweep_dir / "ensemble"
        command = [
            sys.executable,
            "-m",
            "lstm_imdb.evaluate",
            f"ckpt_path=[{','.join(_quoted(p) for p in ckpts)}]",
            f"trainer={self.trainer}",
            f"ensemble_weights={self.ensemble_weights}",
            f"hydra.run.dir={_quoted(out_dir)}",
            "hydra.output_subdir=null",  # no .hydra/ here: summaries of the sweep list its runs only
        ]
        log.info(
            "Testing the ensemble of %d checkpoints: %s", len(ckpts), shlex.join(["python", *command[1:]])
        )
        result = subprocess.run(command)
        if result.returncode != 0:
            log.error(
                "The ensemble test failed (exit %d); run the command above to see why", result.returncode
            )
        else:
            log.info("Ensemble report: %s", out_dir)
