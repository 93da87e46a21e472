"""Sweeps (grid, Optuna, joblib), sweep summaries, TensorBoard hparams, launcher configs and notebooks. The in-process checks; the runs
are in tests/e2e/test_sweeps_and_review.py."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from lstm_imdb.runs.folder import newest_finished_run
from lstm_imdb.runs.summary import configurations, run_table, summarize
from lstm_imdb.utils.paths import CONFIG_DIR


def _fake_run(folder: Path, overrides: list[str], val_acc: float) -> None:
    """A finished run as the train task leaves it, as far as `summarize` reads it."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (folder / "history.json").write_text(json.dumps([{"epoch": 0, "val/acc": val_acc, "epoch_s": 2.0}]))
    (folder / "test_metrics.json").write_text(json.dumps({"test/acc": val_acc - 0.01}))


def test_summary_of_sweeps_that_swept_different_keys(tmp_path):
    # one sweep over a scale, another over seeds: each run leaves the other's key unset
    _fake_run(tmp_path / "a" / "0", ["model.ngram_scale=10"], 0.90)
    _fake_run(tmp_path / "a" / "1", ["model.ngram_scale=30"], 0.91)
    _fake_run(tmp_path / "b" / "0", ["model.ngram_scale=10", "seed=1"], 0.92)
    _fake_run(tmp_path / "b" / "1", ["model.pooling=max", "seed=2"], 0.89)
    df = summarize([tmp_path / "a", tmp_path / "b"], out=tmp_path / "both")
    assert list(df["val/acc_best"]) == [0.92, 0.91, 0.90, 0.89]
    assert df["seed"].isna().sum() == 2 and df["model.pooling"].isna().sum() == 3
    assert (tmp_path / "both" / "summary.png").stat().st_size > 1000
    assert "model.ngram_scale" in (tmp_path / "both" / "summary.md").read_text()


def test_runs_are_grouped_by_configuration_with_the_spread_over_seeds(tmp_path):
    """A sweep's question is which configuration: seeds pooled, constant overrides left out of the keys."""
    accs = {("64", 1): 0.80, ("64", 2): 0.82, ("128", 1): 0.90, ("128", 2): 0.86, ("128", 3): 0.88}
    for i, ((size, seed), acc) in enumerate(accs.items()):
        _fake_run(tmp_path / "s" / str(i), ["experiment=x", f"model.hidden_size={size}", f"seed={seed}"], acc)
    before = sorted(tmp_path.rglob("*"))
    df = run_table([tmp_path / "s"])
    assert sorted(tmp_path.rglob("*")) == before  # reading a sweep writes nothing (the notebook uses it)
    configs = configurations(df)
    assert list(configs["model.hidden_size"]) == ["128", "64"] and "experiment" not in configs
    assert list(configs["runs"]) == [3, 2] and list(configs["seeds"]) == ["1,2,3", "1,2"]
    assert configs["val/acc_best"].tolist() == pytest.approx([0.88, 0.81])
    assert configs["val/acc_best std"].tolist() == pytest.approx([0.02, 0.0141421], abs=1e-6)
    summarize([tmp_path / "s"])
    md = (tmp_path / "s" / "summary.md").read_text()
    assert "# 2 configurations, 5 runs" in md and "0.8800 ± 0.0200" in md
    assert len((tmp_path / "s" / "configurations.csv").read_text().splitlines()) == 3


def test_validation_folds_are_pooled_like_seeds(tmp_path):
    """A cross-validation sweep (data.val_fold=0,1,2 per setting): one row per setting, the mean over folds."""
    accs = {("800", 0): 0.90, ("800", 1): 0.92, ("800", 2): 0.91, ("3000", 0): 0.91, ("3000", 1): 0.93}
    for i, ((length, fold), acc) in enumerate(accs.items()):
        _fake_run(tmp_path / "cv" / str(i), [f"data.sequence_length={length}", f"data.val_fold={fold}"], acc)
    configs = configurations(run_table([tmp_path / "cv"]))
    assert list(configs["data.sequence_length"]) == ["3000", "800"] and "data.val_fold" not in configs
    assert list(configs["folds"]) == ["0,1", "0,1,2"] and list(configs["runs"]) == [2, 3]
    assert configs["val/acc_best"].tolist() == pytest.approx([0.92, 0.91])


def test_the_newest_finished_run_is_reviewed(tmp_path):
    import os

    _fake_run(tmp_path / "runs" / "old", [], 0.8)
    _fake_run(tmp_path / "runs" / "new", [], 0.9)
    os.utime(tmp_path / "runs" / "old" / "test_metrics.json", (1, 1))
    (tmp_path / "runs" / "failed" / ".hydra").mkdir(parents=True)  # newer, but it never finished
    (tmp_path / "runs" / "failed" / ".hydra" / "config.yaml").write_text("seed: 1\n")
    assert newest_finished_run(tmp_path / "runs") == tmp_path / "runs" / "new"
    with pytest.raises(FileNotFoundError, match="No finished run"):
        newest_finished_run(tmp_path / "runs" / "failed")


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        (
            ["hydra/launcher=slurm", "hydra.launcher.partition=gpu"],
            lambda c: "SlurmLauncher" in c.hydra.launcher._target_ and c.hydra.launcher.partition == "gpu",
        ),
        (
            ["hydra/launcher=slurm_local"],
            lambda c: "LocalLauncher" in c.hydra.launcher._target_ and c.hydra.launcher.timeout_min == 120,
        ),
        (["hydra/launcher=parallel"], lambda c: "JoblibLauncher" in c.hydra.launcher._target_),
        (
            ["hparams_search=optuna"],
            lambda c: (
                c.hydra.sweeper.sampler.seed == 1234
                and c.hydra.sweeper.n_trials > 1
                and c.optimized_metric == "val/acc_best"
            ),
        ),
        # sweeps rank runs by the figure that chose their tested checkpoints (summarize's default too)
        (
            [],
            lambda c: (
                c.optimized_metric
                == "val/acc_best"
                == inspect.signature(summarize).parameters["metric"].default
            ),
        ),
        (["model=bilstm", "trainer.devices=2"], lambda c: c.trainer.use_distributed_sampler is False),
        (
            ["trainer=ddp"],
            lambda c: (
                c.trainer.strategy == "ddp"
                and c.trainer.precision == "32-true"
                and c.trainer.use_distributed_sampler is False
            ),
        ),
        (["trainer=gpu"], lambda c: c.trainer.accelerator == "gpu" and c.trainer.precision == "32-true"),
        (
            [],
            lambda c: c.trainer.precision == "32-true",
        ),  # fp32 everywhere unless asked (docs/performance.md)
        (["trainer.precision=bf16-mixed"], lambda c: c.trainer.precision == "bf16-mixed"),
        (["logger=many"], lambda c: set(c.logger) == {"tensorboard", "csv", "mlflow", "wandb"}),
        (["experiment=keras_tutorial"], lambda c: c.data.bucket is False and c.trainer.max_epochs == 5),
        (["experiment=keras_tutorial", "data.bucket=true"], lambda c: c.data.bucket is True),
        (
            ["trainer=cpu", "trainer.precision=${fast_precision:cpu}"],
            lambda c: c.trainer.precision in ("32-true", "bf16-mixed"),
        ),
        (
            ["experiment=best"],
            lambda c: (
                c.hydra.mode.name == "MULTIRUN"
                and c.hydra.sweeper.params.seed == "1,2,3,42"
                and c.model.ngram_scale == 10
            ),
        ),
    ],
)
def test_configs_compose(overrides, check):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    assert check(cfg)


@pytest.mark.parametrize(
    ("debug", "check"),
    [
        (
            "overfit",
            lambda c: (
                c.trainer.overfit_batches == 3
                and c.callbacks.early_stopping is None
                and not c.model.scheduler
                and c.model.dropout == 0
            ),
        ),
        ("limit", lambda c: c.trainer.limit_train_batches == 20 and c.trainer.max_epochs == 3),
        ("fdr", lambda c: c.trainer.fast_dev_run and c.task_name == "debug"),
    ],
)
def test_debug_configs_compose_over_an_experiment(debug, check):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=best_single", f"debug={debug}"])
    assert check(cfg) and cfg.trainer.accelerator == "cpu"


def test_report_figures_number_epochs_as_the_logs_mark_the_tested_one_and_show_rates():
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from lstm_imdb.runs.report import confusion_matrix_figure, tested_epoch, training_curves_figure

    history = [
        {"epoch": e, "train/loss": 1 - a, "val/loss": 1 - a, "train/acc": a, "val/acc": a}
        for e, a in enumerate([0.6, 0.8, 0.8, 0.7, 0.75])
    ]
    assert tested_epoch(history) == 1  # the first best: a tie does not replace the checkpoint
    fig = training_curves_figure(history)
    for ax in fig.axes:
        fig.canvas.draw()
        ticks = [t for t in ax.get_xticks() if 0 <= t <= 4]
        assert ticks == [0, 1, 2, 3, 4]  # whole epochs, from 0 as in the logs
        assert "tested (epoch 1: best val/acc)" in [t.get_text() for t in ax.get_legend().get_texts()]
    probs = np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.3])  # positives: 2 of 3 right; negatives: 2 of 3 right
    labels = np.array([1, 1, 1, 0, 0, 0])
    cells = [t.get_text() for t in confusion_matrix_figure(probs, labels, "t").axes[0].texts]
    assert sorted(cells) == sorted(["2\n66.7%", "1\n33.3%", "1\n33.3%", "2\n66.7%"])
