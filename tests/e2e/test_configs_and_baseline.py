"""Every model and experiment config trains a step; the classic baseline writes its report."""

from __future__ import annotations

import json
import math

import pytest
from helpers import run_module
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from lstm_imdb.train import train
from lstm_imdb.utils.paths import CONFIG_DIR


@pytest.mark.parametrize(
    "overrides",
    [
        ["model=lstm"],
        ["model=bilstm"],
        ["model=gru"],
        ["model=gru", "model/scheduler=none"],
        ["experiment=keras_tutorial"],
        ["experiment=best_single"],
        [
            "experiment=best_single",
            "model.ngram_order=3",
            "model.ngram_buckets=1024",
            "model.ngram_dropout=0.2",
        ],
        ["model=lstm", "model.ngram_order=1", "model.word_dropout=0.2"],
        ["model/optimizer=adamw", "model/scheduler=cosine"],
    ],
    ids=" ".join,
)
def test_each_config_trains_one_step(overrides, acl_dir, tmp_path):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            config_name="train",
            return_hydra_config=True,
            overrides=[
                *overrides,
                "data.source=acl",
                f"data.acl_dir={acl_dir}",
                f"paths.data_dir={tmp_path / 'data'}",
                "+trainer.fast_dev_run=true",
                "trainer.accelerator=cpu",
                "logger=csv",
            ],
        )
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "run")
    metrics = train(cfg)
    assert math.isfinite(metrics["train/loss"]) and metrics["train/loss"] > 0
    written = json.loads((tmp_path / "run" / "test_metrics.json").read_text())
    assert written["test/acc"] == pytest.approx(metrics["test/acc"])


@pytest.mark.parametrize(
    ("choice", "extra", "C", "beta"),
    [
        ("tfidf", ["baseline.C=[0.5,4]", "baseline.negation=true"], (0.5, 4.0), (1.0,)),
        ("nbsvm", ["baseline.C=[0.5,4]", "baseline.beta=[0.25,1]"], (0.5, 4.0), (0.25, 1.0)),
        (
            "nbsvm_wide",
            ["baseline.C=[0.5,4]", "baseline.cv_folds=2", "baseline.buckets=65536"],
            (0.5, 4.0),
            (1.0,),
        ),
    ],
)
def test_baseline_writes_the_same_report(acl_dir, tmp_path, choice, extra, C, beta):
    out = tmp_path / "baseline"
    run_module(
        "lstm_imdb.baseline",
        f"baseline={choice}",
        "data.source=acl",
        f"data.acl_dir={acl_dir}",
        *extra,
        f"hydra.run.dir={out}",
        root=tmp_path,
    )
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert metrics["baseline"] == choice
    assert metrics["test/acc"] > 0.9  # cue words make the tiny reviews linearly separable
    assert metrics["C"] in C and metrics["beta"] in beta
    assert len(metrics["val_acc_by_C_beta"]) == len(C) * len(beta)
    assert set(metrics["val_acc_by_C"]) == {"0.5", "4"}  # at the chosen beta
    cv = metrics["cv_acc_by_C_beta"]
    folds = "baseline.cv_folds=2" in extra
    assert metrics["chosen_by"] == ("cv" if folds else "val") and len(cv) == (2 if folds else 0)
    if cv:  # chosen by the folds' mean accuracy, each fold's kept
        assert cv[f"C={metrics['C']:g} beta=1"] == max(cv.values())
        for key, accs in metrics["cv_acc_by_fold"].items():
            assert len(accs) == 2 and sum(accs) / 2 == pytest.approx(cv[key])
    for name in ("classification_report.txt", "confusion_matrix.png", "roc_curve.png"):
        assert (out / "report" / name).is_file()
