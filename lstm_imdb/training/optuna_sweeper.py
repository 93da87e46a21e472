"""An Optuna sweeper for Hydra over current Optuna, by ask-and-tell: `hparams_search=optuna`.

Why not hydra-optuna-sweeper: its newest release (1.3.0) requires optuna<3, which pins SQLAlchemy 1.4 (end
of life) and alembic 1.13, and keeps users off current Optuna: its samplers, `JournalFileBackend` studies on
a cluster's shared disk, and optuna-dashboard (which needs optuna>=3.6, and cannot open an Optuna 2 study
without upgrading its schema). docs/usage.md has the measurements behind the choice.

This sweeper takes the plugin's configuration as it is (`hydra.sweeper.{sampler, direction, storage,
study_name, n_trials, n_jobs, max_failure_rate, params, custom_search_space}`) and its search-space grammar
(`choice(...)`, `range(...)`, `interval(...)`, `tag(log, interval(...))`), on the command line or in
`params`. Storage: an RDB URL (sqlite:///logs/optuna.db, postgresql://..., mysql://...), or
`journal:PATH` for Optuna's journal file (safe for workers on a shared file system without a database
server), or null (in memory). Hydra finds it as the plugin `hydra_plugins.lstm_imdb_sweepers.OptunaSweeper`
(lstm_imdb/plugins/hydra_plugins/, put on the path by `cli.startup`).
"""

from __future__ import annotations

import functools
import logging
import math
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.plugins import Plugins
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from lstm_imdb.utils.errors import refuse

log = logging.getLogger(__name__)
JOURNAL = "journal:"
RESULTS = "optimization_results.yaml"


def distribution(override: Override) -> BaseDistribution | None:
    """The Optuna distribution of a sweep override (None: a fixed value). choice -> categorical;
    range -> ints or floats on its grid (shuffle: categorical); interval -> uniform, `tag(log, ...)` log."""
    if not override.is_sweep_override():
        return None
    sweep = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and sweep.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator()))
    if override.is_range_sweep():
        values = list(override.sweep_iterator())
        if all(isinstance(v, int) for v in (sweep.start, sweep.stop, sweep.step)):
            return IntDistribution(values[0], values[-1], step=sweep.step)
        return FloatDistribution(values[0], values[-1], step=sweep.step)
    # Hydra parses an interval's ends as floats: real-valued, on a log scale when tagged so
    return FloatDistribution(float(sweep.start), float(sweep.end), log="log" in sweep.tags)


def open_storage(storage: str | None):
    """What `create_study` takes for `hydra.sweeper.storage`; the folder of a SQLite or journal file is made."""
    if storage is None:
        return None
    storage = str(storage)
    if storage.startswith(JOURNAL):
        path = Path(storage[len(JOURNAL) :])
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(str(path))
        return optuna.storages.JournalStorage(backend)
    if storage.startswith("sqlite:///"):
        Path(storage[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return storage


def override_value(value: Any) -> str:
    """A suggested value as Hydra reads it back (booleans lower-case, None as null, strings quoted when needed)."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, str) and any(c in value for c in " ,()[]{}'\"=:\\"):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


class OptunaSearch:
    """The sweeper's work; `hydra_plugins.lstm_imdb_sweepers.OptunaSweeper` is the Hydra plugin around it
    (it imports this module, and Optuna, only when a search starts: every command's start-up scans plugins)."""

    def __init__(
        self,
        sampler: Any = None,
        direction: Any = "minimize",
        storage: str | None = None,
        study_name: str | None = None,
        n_trials: int = 20,
        n_jobs: int = 2,
        max_failure_rate: float = 0.0,
        params: Any = None,
        custom_search_space: str | None = None,
    ):
        problems = []
        if not isinstance(n_trials, int) or n_trials < 1:
            problems.append(f"hydra.sweeper.n_trials={n_trials!r}: must be an integer >= 1")
        if not isinstance(n_jobs, int) or n_jobs < 1:
            problems.append(f"hydra.sweeper.n_jobs={n_jobs!r}: must be an integer >= 1")
        if not isinstance(max_failure_rate, (int, float)) or not 0 <= max_failure_rate <= 1:
            problems.append(f"hydra.sweeper.max_failure_rate={max_failure_rate!r}: must be in [0, 1]")
        self.directions = [str(d) for d in direction] if OmegaConf.is_list(direction) else [str(direction)]
        if any(d not in ("minimize", "maximize") for d in self.directions):
            problems.append(
                f"hydra.sweeper.direction={direction!r}: minimize or maximize (or a list of them)"
            )
        refuse("Optuna sweeper", problems)
        self.sampler = sampler
        self.storage, self.study_name = storage, study_name
        self.n_trials, self.n_jobs, self.max_failure_rate = n_trials, n_jobs, max_failure_rate
        self.params = params or {}
        self.extend = (
            instantiate({"_target_": custom_search_space, "_partial_": True}) if custom_search_space else None
        )
        self.job_idx = 0

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        self.sweep_dir = Path(config.hydra.sweep.dir)

    def search_space(self, arguments: list[str]) -> tuple[dict[str, BaseDistribution], dict[str, str]]:
        """(distributions, fixed overrides) of `params` and the command line (the command line wins)."""
        given = [f"{k}={v if isinstance(v, str) else override_value(v)}" for k, v in self.params.items()]
        given += list(arguments)
        space, fixed = {}, {}
        for override in OverridesParser.create().parse_overrides(given):
            key = override.get_key_element()
            space.pop(key, None)
            fixed.pop(key, None)
            if (dist := distribution(override)) is not None:
                space[key] = dist
            else:
                fixed[key] = override.get_value_element_as_str()
        return space, fixed

    def make_sampler(self, space: dict[str, BaseDistribution]):
        """The sampler Hydra built from `hydra.sweeper.sampler` (None: Optuna's default, TPE); GridSampler
        (`hydra/sweeper/sampler=grid`, a partial) gets the grid of the search space, and the trials are
        capped at its size."""
        sampler = self.sampler
        if isinstance(sampler, functools.partial) and sampler.func is optuna.samplers.GridSampler:
            grid = {k: grid_values(d) for k, d in space.items()}
            self.n_trials = min(self.n_trials, math.prod(len(v) for v in grid.values()))
            return sampler(grid)
        if sampler is None or isinstance(sampler, optuna.samplers.BaseSampler):
            return sampler
        raise ValueError(
            f"hydra.sweeper.sampler is not an Optuna sampler ({sampler!r}): `_partial_: true` is for GridSampler "
            "only (hydra/sweeper/sampler=grid). hparams_search=optuna sets TPE's own keys (seed, "
            "n_startup_trials) and a search space of intervals, which no grid covers: for another sampler use "
            "hydra/sweeper=optuna hydra/sweeper/sampler=<name> with your own choice(...)/range(...) overrides"
        )

    def sweep(self, arguments: list[str]) -> None:
        space, fixed = self.search_space(arguments)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=open_storage(self.storage),
            sampler=self.make_sampler(space),
            directions=self.directions,
            load_if_exists=True,
        )
        log.info(
            "Optuna %s: study %s in %s, %s, %d trials, %d at a time",
            optuna.__version__,
            study.study_name,
            self.storage or "memory",
            type(study.sampler).__name__,
            self.n_trials,
            self.n_jobs,
        )
        left = self.n_trials
        while left > 0:
            trials = [study.ask(space) for _ in range(min(left, self.n_jobs))]
            returns = self.launcher.launch([self.trial_overrides(t, fixed) for t in trials], self.job_idx)
            self.job_idx += len(returns)
            self.tell(study, trials, returns)
            left -= len(trials)
        self.write_results(study)

    def trial_overrides(self, trial: optuna.Trial, fixed: dict[str, str]) -> list[str]:
        if self.extend is not None:
            self.extend(self.config, trial)
        clash = trial.params.keys() & fixed.keys()
        if clash:
            raise ValueError(f"both searched and fixed: {', '.join(sorted(clash))}")
        return [f"{k}={v}" for k, v in fixed.items()] + [
            f"{k}={override_value(v)}" for k, v in trial.params.items()
        ]

    def tell(self, study: optuna.Study, trials: list, returns: list) -> None:
        """Each job's value(s) to its trial: a non-finite value is a failed trial (a diverging run: the
        search goes on); a job that raised is a failed trial too, and more of them than
        `max_failure_rate` of the batch stops the search with the first error."""
        errors = []
        for trial, ret in zip(trials, returns, strict=True):
            try:
                value = ret.return_value  # raises the job's own exception
                values = [float(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
                if len(values) != len(self.directions):
                    raise ValueError(
                        f"the task returned {len(values)} values for {len(self.directions)} directions"
                    )
            except Exception as err:  # noqa: BLE001 - the trial fails; the rate decides whether the search does
                errors.append(err)
                _tell(study, trial, state=optuna.trial.TrialState.FAIL)
                log.warning("Trial %d failed: %s", trial.number, err)
                continue
            if all(math.isfinite(v) for v in values):
                _tell(study, trial, values=values)
            else:
                _tell(study, trial, state=optuna.trial.TrialState.FAIL)
                log.warning("Trial %d failed: its value is %s", trial.number, values)
        if errors and len(errors) / len(trials) > self.max_failure_rate:
            raise errors[0]

    def write_results(self, study: optuna.Study) -> None:
        """The best trial(s) in <sweep dir>/optimization_results.yaml, as hydra-optuna-sweeper wrote it."""
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not done:
            log.warning("No trial of study %s completed", study.study_name)
            return
        if len(self.directions) == 1:
            results = {"name": "optuna", "best_params": study.best_params, "best_value": study.best_value}
            log.info("Best parameters: %s; best value: %s", study.best_params, study.best_value)
        else:
            front = [{"params": t.params, "values": t.values} for t in study.best_trials]
            results = {"name": "optuna", "solutions": front}
            log.info("Pareto front: %d trials", len(front))
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / RESULTS)


def _tell(study: optuna.Study, trial: optuna.Trial, **outcome) -> None:
    """`study.tell`; GridSampler stops the study once its grid is done, which outside `optimize` raises."""
    try:
        study.tell(trial, **outcome)
    except RuntimeError as err:
        if "Study.stop" not in str(err):
            raise


def grid_values(dist: BaseDistribution) -> list:
    """Every value of a discrete distribution (GridSampler's search space)."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, (IntDistribution, FloatDistribution)) and dist.step is not None and not dist.log:
        n = int(round((dist.high - dist.low) / dist.step)) + 1
        return [dist.low + i * dist.step for i in range(n)]
    raise ValueError(f"GridSampler needs discrete values (choice or range), not {dist}")
