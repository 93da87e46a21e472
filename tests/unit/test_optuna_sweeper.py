"""The project's Optuna sweeper in-process: the plugin grammar becomes Optuna distributions, values go back
to Hydra as it reads them, bad settings are refused by name, and a search over a made-up objective asks,
tells, fails trials that diverge and writes its results. The runs (train, two workers, the dashboard) are in
tests/e2e/test_sweeps_and_review.py."""

from __future__ import annotations

import functools

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from lstm_imdb.training.optuna_sweeper import (
    OptunaSearch,
    distribution,
    grid_values,
    open_storage,
    override_value,
)


def parsed(text: str):
    return OverridesParser.create().parse_overrides([text])[0]


def test_the_plugin_grammar_becomes_optuna_distributions():
    assert distribution(parsed("a=choice(16, 32)")) == CategoricalDistribution([16, 32])
    assert distribution(parsed("a=choice(last, max)")) == CategoricalDistribution(["last", "max"])
    assert distribution(parsed("a=range(1, 10, 3)")) == IntDistribution(
        1, 7, step=3
    )  # Hydra's range: 1, 4, 7
    assert distribution(parsed("a=range(0.1, 0.4, 0.1)")).step == pytest.approx(0.1)
    assert distribution(parsed("a=interval(0.0, 0.5)")) == FloatDistribution(0.0, 0.5)
    assert distribution(parsed("a=tag(log, interval(0.0003, 0.01))")) == FloatDistribution(
        0.0003, 0.01, log=True
    )
    assert distribution(parsed("a=interval(2, 8)")) == FloatDistribution(
        2.0, 8.0
    )  # Hydra's intervals are real
    assert distribution(parsed("a=5")) is None
    assert grid_values(IntDistribution(1, 7, step=3)) == [1, 4, 7]


def test_values_go_back_as_hydra_reads_them():
    for value, text in [(True, "true"), (None, "null"), ("max", "max"), ("a b,c", "'a b,c'"), (0.5, "0.5")]:
        assert override_value(value) == text
        assert parsed(f"k={override_value(value)}").value() == value


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ValueError) as err:
        OptunaSearch(n_trials=0, n_jobs=-1, max_failure_rate=2, direction="up")
    for key in ("n_trials=0", "n_jobs=-1", "max_failure_rate=2", "direction='up'"):
        assert f"hydra.sweeper.{key}" in str(err.value)


class FakeLauncher:
    """Runs the made-up objective in-process, as Hydra's launcher runs jobs: one JobReturn per override list."""

    def __init__(self, objective):
        self.objective, self.launched = objective, []

    def launch(self, job_overrides, initial_job_idx):
        returns = []
        for overrides in job_overrides:
            self.launched.append(list(overrides))
            values = {k: parsed(f"{k}={v}").value() for k, v in (o.split("=", 1) for o in overrides)}
            ret = JobReturn(status=JobStatus.COMPLETED)
            try:
                ret.return_value = self.objective(**values)
            except Exception as err:  # noqa: BLE001 - as Hydra records a failed job
                ret.status, ret._return_value = JobStatus.FAILED, err
            returns.append(ret)
        return returns


def search(tmp_path, objective, **settings) -> tuple[OptunaSearch, FakeLauncher]:
    s = OptunaSearch(**{"direction": "maximize", "n_trials": 8, "n_jobs": 2, **settings})
    s.config = OmegaConf.create({})
    s.launcher = FakeLauncher(objective)
    s.sweep_dir = tmp_path
    return s, s.launcher


def test_a_search_asks_tells_and_keeps_the_best(tmp_path):
    storage = f"journal:{tmp_path / 'nested' / 'study.journal'}"
    s, launcher = search(
        tmp_path,
        lambda x, c, seed: -((x - 2) ** 2) + (c == "b"),
        sampler=optuna.samplers.TPESampler(seed=1),
        storage=storage,
        study_name="made_up",
        params={"x": "interval(0, 4)", "c": "choice(a, b)"},
    )
    s.sweep(["seed=3"])
    assert len(launcher.launched) == 8 and all("seed=3" in o for o in launcher.launched)
    study = optuna.load_study(study_name="made_up", storage=open_storage(storage))
    assert len(study.trials) == 8 and study.best_params.keys() == {"x", "c"}
    results = OmegaConf.load(tmp_path / "optimization_results.yaml")
    assert results.best_value == pytest.approx(study.best_value)


def test_diverging_trials_fail_and_the_search_goes_on_but_errors_stop_it(tmp_path):
    s, _ = search(
        tmp_path,
        lambda x: float("nan") if x < 2 else x,
        params={"x": "interval(0, 4)"},
        storage=f"sqlite:///{tmp_path / 'nan.db'}",
        study_name="nan",
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    s.sweep([])
    study = optuna.load_study(study_name="nan", storage=s.storage)
    states = {t.state for t in study.trials if t.params["x"] < 2}
    assert len(study.trials) == 8 and states <= {optuna.trial.TrialState.FAIL}
    assert OmegaConf.load(tmp_path / "optimization_results.yaml").best_value >= 2

    def boom(x):
        raise RuntimeError("the job broke")

    s, _ = search(tmp_path, boom, params={"x": "interval(0, 4)"})
    with pytest.raises(RuntimeError, match="the job broke"):
        s.sweep([])
    s, launcher = search(tmp_path, boom, params={"x": "interval(0, 4)"}, max_failure_rate=1.0)
    s.sweep([])
    assert len(launcher.launched) == 8


def test_grid_sampler_walks_the_whole_grid_once(tmp_path):
    s, launcher = search(
        tmp_path,
        lambda x, n: x * n,
        sampler=functools.partial(optuna.samplers.GridSampler, seed=0),
        n_trials=100,
        params={"x": "choice(1, 2)", "n": "range(1, 4)"},
    )
    s.sweep([])
    assert sorted(map(tuple, launcher.launched)) == sorted(
        (f"x={x}", f"n={n}") for x in (1, 2) for n in (1, 2, 3)
    )


def test_a_partial_sampler_other_than_grid_is_refused_with_the_way_out(tmp_path):
    s, _ = search(tmp_path, lambda x: x, sampler=functools.partial(optuna.samplers.TPESampler, seed=1))
    with pytest.raises(ValueError, match=r"`_partial_: true` is for GridSampler only.*hydra/sweeper=optuna"):
        s.make_sampler({"x": FloatDistribution(0, 1)})
