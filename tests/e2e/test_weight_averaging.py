"""Averaged weights (`'callbacks=[default,weight_averaging]'`, #24) on a wide-and-deep run as users type it:
the best checkpoint holds the average with the model's own blend, and the test scored that average."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import run_module, tiny_train_overrides

from lstm_imdb.data import load_imdb
from lstm_imdb.inference.checkpoint import load_checkpoint
from lstm_imdb.inference.predictor import Predictor

AVERAGING = ["callbacks=[default,weight_averaging]", "callbacks.weight_averaging.start=0.0"]
WIDE = ["data.wide={order: 2, buckets: 4096}", "model.wide_fit={folds: 3, C: 0.001}"]  # a weak wide part


def test_the_best_checkpoint_holds_the_average_and_the_test_scored_it(acl_dir, tmp_path):
    run_dir = tmp_path / "logs" / "train" / "runs" / "swa"
    overrides = tiny_train_overrides(acl_dir, run_dir, *WIDE, *AVERAGING, "data.sequence_length=6")
    run_module("lstm_imdb.train", *overrides, root=tmp_path)

    ckpt = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)
    averaged, trained = ckpt["state_dict"], ckpt["current_model_state"]
    assert int(ckpt["averaging_state"]["n_averaged"]) > 1
    assert not torch.equal(
        averaged["net.head.weight"], trained["net.head.weight"]
    )  # an average, not the last step
    # the model's own fixed parts: the wide part's NBSVM weights and the blend fitted on validation
    assert averaged.keys() == trained.keys()
    assert torch.equal(averaged["net.blend"], trained["net.blend"])
    wide = "net.wide.weight.weight"  # stored sparse in both (most buckets have no weight)
    assert averaged[wide].is_sparse and trained[wide].is_sparse
    assert torch.equal(averaged[wide].to_dense(), trained[wide].to_dense())

    # the run's test figures are those of the averaged weights the checkpoint holds
    test = load_imdb("acl", tmp_path / "data", acl_dir)["test"]
    probs = Predictor(load_checkpoint(run_dir / "checkpoints" / "best.ckpt")).predict_proba(
        list(test["text"])
    )
    tested = json.loads((run_dir / "test_metrics.json").read_text())
    labels = torch.tensor(np.asarray(test["label"]), dtype=torch.float)
    loss = torch.nn.functional.binary_cross_entropy(torch.tensor(probs), labels)
    assert float(loss) == pytest.approx(tested["test/loss"], rel=1e-3, abs=1e-6)
    last_step = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    last_step.model.load_state_dict(trained)  # the weights being trained would have scored otherwise
    probs = Predictor(last_step).predict_proba(list(test["text"]))
    other = torch.nn.functional.binary_cross_entropy(torch.tensor(probs), labels)
    assert float(other) != pytest.approx(tested["test/loss"], rel=0.05)


def test_bad_averaging_settings_fail_before_data_work(acl_dir, tmp_path):
    proc = run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(acl_dir, tmp_path / "run"),
        "callbacks=[default,weight_averaging]",
        "callbacks.weight_averaging.start=1.5",
        root=tmp_path,
        check=False,
    )
    assert proc.returncode != 0 and "callbacks.weight_averaging.start=1.5" in proc.stderr + proc.stdout
    assert not (tmp_path / "data").exists()
