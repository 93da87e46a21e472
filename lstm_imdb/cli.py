"""What every command shares: the process's start-up, and one wrapper that turns a task into a Hydra
entry point with the project's exit codes.

    0    done
    1    training stopped on a non-finite loss (in a sweep the trial reports NaN and the sweep goes on)
    2    bad input, found before any work: a config value the command refuses (utils/errors.py), a
         checkpoint that is missing or not ours, an unreadable input, a precision the machine cannot train in
    143  stopped by SIGTERM; the run saved a checkpoint to resume from (the log says how)
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from lstm_imdb.utils.paths import CONFIG_DIR

log = logging.getLogger(__name__)

_started = False


def startup() -> None:
    """Once per process, before any work: keep large freed blocks in the heap (utils/allocator.py), leave
    the libraries' chatter out of the console (utils/console.py) and put the project's Hydra plugins on the path, register the config resolvers `${lstm_imdb_root:}` (the project root, from any working directory),
    `${fast_precision:}` (training/precision.py) and `${run_name:}` (runs/names.py). The entry points call it; so do notebooks that compose
    configs."""
    global _started
    if _started:
        return
    from omegaconf import OmegaConf

    from lstm_imdb.runs.names import run_name
    from lstm_imdb.training.precision import fast_precision
    from lstm_imdb.utils import allocator, paths
    from lstm_imdb.utils.console import quiet_libraries

    allocator.keep_large_blocks()
    quiet_libraries()
    # lstm_imdb/plugins/hydra_plugins/ joins Hydra's plugin namespace (the Optuna sweeper)
    plugins = str(Path(__file__).resolve().parent / "plugins")
    if plugins not in sys.path:
        sys.path.append(plugins)
    if not OmegaConf.has_resolver("lstm_imdb_root"):
        OmegaConf.register_new_resolver("lstm_imdb_root", lambda: str(paths.project_root()))
    if not OmegaConf.has_resolver("fast_precision"):
        OmegaConf.register_new_resolver("fast_precision", fast_precision)
    if not OmegaConf.has_resolver("run_name"):
        OmegaConf.register_new_resolver("run_name", run_name)
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
    from lstm_imdb.utils.errors import ConfigError, config_error_in

    def wrap(task: Callable) -> Callable:
        @functools.wraps(task)
        def job(cfg):
            startup()  # again in a launcher's worker process (joblib, submitit)
            try:
                return task(cfg)
            except FloatingPointError as err:  # a non-finite loss: say so; in a sweep, report it and go on
                log.error("%s", err)
                _mark_failed()
                if HydraConfig.get().mode == RunMode.MULTIRUN:
                    return float("nan")
                sys.exit(1)
            except (CheckpointError, PrecisionError, ConfigError, *usage_errors) as err:
                _refuse(err)
            except SIGTERMException:
                log.error("Stopped by SIGTERM (see the message above for how to resume)")
                sys.exit(143)
            except Exception as err:
                # a config value refused inside Hydra's instantiate arrives wrapped in its exception
                if (refused := config_error_in(err)) is not None:
                    _refuse(refused)
                _mark_failed()
                raise

        # a launcher's worker (joblib, submitit) unpickles the task before Hydra names the job's folder
        # with `${run_name:}`: unpickling this attribute starts the worker up first
        job.starts_up_when_unpickled = _StartUp()

        import hydra

        hydra_main = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=config_name)(job)

        def main() -> None:
            startup()
            files_only_plots()
            hydra_main()

        return main

    return wrap


def _refuse(err: BaseException) -> None:
    """Bad input: the message without a traceback, the run folder removed if nothing was run in it, exit
    code 2. A folder with work in it stays as it is: it may be the run a bad resume pointed at."""
    from hydra.core.hydra_config import HydraConfig

    from lstm_imdb.runs.folder import remove_unstarted_run

    log.error("%s", err)
    out = Path(HydraConfig.get().runtime.output_dir)
    # a run folder made for this command (never the working directory, as predict's)
    if out.resolve() != Path.cwd().resolve() and remove_unstarted_run(out):
        log.error("Nothing was run: removed its run folder %s", out)
    sys.exit(2)


def _mark_failed() -> None:
    """A run that failed: its folder renamed `<name>_FAILED` (runs/folder.py), and the log says so; one that
    failed before any work (a config value refused at set-up) leaves no folder."""
    from hydra.core.hydra_config import HydraConfig

    from lstm_imdb.runs.folder import mark_failed, remove_unstarted_run

    out = Path(HydraConfig.get().runtime.output_dir)
    if out.resolve() == Path.cwd().resolve():
        return
    if remove_unstarted_run(out):
        log.error("Nothing was run: removed its run folder %s", out)
    elif (renamed := mark_failed(out)) is not None:
        log.error("The run failed: its folder is now %s", renamed)


class _StartUp:
    """Pickled as a call to `startup()` (see `entry`)."""

    def __reduce__(self):
        return (_started_up, ())


def _started_up() -> _StartUp:
    startup()
    return _StartUp()
