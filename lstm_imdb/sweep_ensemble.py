"""A Hydra callback that, once a sweep has finished, tests the ensemble of its runs' best checkpoints
(mean probability) and writes the report to `<sweep dir>/ensemble/`.

Used by `experiment=best`: one command trains several seeds, then tests them together. The
ensemble is tested by `python -m lstm_imdb.evaluate` in a child process, so that it builds its data and
trainer from the checkpoints exactly as a user's own `evaluate` call would.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class TestSweepEnsemble(Callback):
    def __init__(self, min_members: int = 2, trainer: str = "default") -> None:
        self.min_members = min_members
        self.trainer = trainer

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        ckpts = sorted(sweep_dir.glob("*/checkpoints/best.ckpt"), key=lambda p: int(p.parent.parent.name))
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
            f"ckpt_path=[{','.join(str(p) for p in ckpts)}]",
            f"trainer={self.trainer}",
            f"hydra.run.dir={out_dir}",
            "hydra.output_subdir=null",  # no .hydra/ here: summaries of the sweep list its runs only
        ]
        log.info("Testing the ensemble of %d checkpoints: %s", len(ckpts), " ".join(command[1:]))
        result = subprocess.run(command, env=os.environ.copy())
        if result.returncode != 0:
            log.error(
                "The ensemble test failed (exit %d); run the command above to see why", result.returncode
            )
        else:
            log.info("Ensemble report: %s", out_dir)
