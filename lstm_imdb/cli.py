"""What every command shares: the process's start-up, and one wrapper that turns a task into a Hydra
entry point with the project's exit codes.

    0    done
    1    training stopped on a non-finite loss (in a sweep the trial reports NaN and the sweep goes on)
    2    bad input, found before any work: a checkpoint that is missing or not ours, an unreadable input,
         a precision the machine cannot train in
    143  stopped by SIGTERM; the run saved a checkpoint to resume from (the log says how)
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable

from lstm_imdb.utils.paths import CONFIG_DIR

log = logging.getLogger(__name__)

_started = False


def startup() -> None:
    """Once per process, before any work: keep large freed blocks in the heap (utils/allocator.py) and
    register the config resolvers `${lstm_imdb_root:}` (the project root, from any working directory) and
    `${fast_precision:}` (training/precision.py). The entry points call it; so do notebooks that compose
    configs."""
    global _started
    if _started:
        return
    from omegaconf import OmegaConf

    from lstm_imdb.training.precision import fast_precision
    from lstm_imdb.utils import allocator, paths

    allocator.keep_large_blocks()
    if not OmegaConf.has_resolver("lstm_imdb_root"):
        OmegaConf.register_new_resolver("lstm_imdb_root", lambda: str(paths.project_root()))
    if not OmegaConf.has_resolver("fast_precision"):
        OmegaConf.register_new_resolver("fast_precision", fast_precision)
    _started = True


def files_only_plots() -> None:
    """Commands write figures to files: no display needed (notebooks keep their inline backend)."""
    import matplotlib

    matplotlib.use("Agg")


def entry(config_name: str, usage_errors: tuple[type[BaseException], ...] = ()) -> Callable:
    """`@entry("train")` over `task(cfg)` gives `main()`: start-up, Hydra with `conf/<config_name>.yaml`,
    and the exit codes above. `usage_errors`: more exception types that mean bad input (exit 2)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from lstm_imdb.training.precision import PrecisionError
    from lstm_imdb.utils.checkpoint_file import CheckpointError

    def wrap(task: Callable) -> Callable:
        @functools.wraps(task)
        def job(cfg):
            startup()  # again in a launcher's worker process (joblib, submitit)
            try:
                return task(cfg)
            except FloatingPointError as err:  # a non-finite loss: say so; in a sweep, report it and go on
                log.error("%s", err)
                if HydraConfig.get().mode == RunMode.MULTIRUN:
                    return float("nan")
                sys.exit(1)
            except (CheckpointError, PrecisionError, *usage_errors) as err:
                log.error("%s", err)
                sys.exit(2)
            except SIGTERMException:
                log.error("Stopped by SIGTERM (see the message above for how to resume)")
                sys.exit(143)

        import hydra

        hydra_main = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=config_name)(job)

        def main() -> None:
            startup()
            files_only_plots()
            hydra_main()

        return main

    return wrap
