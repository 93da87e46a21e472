"""`logger=mlflow`, `logger=wandb` and `logger=many`, with no account and no network: a tiny run's params and
metrics are in MLflow's local SQLite store and in W&B's offline run file."""

from __future__ import annotations

from helpers import run_module, tiny_train_overrides
from helpers.trackers import wandb_contents


def test_a_run_lands_in_mlflow_and_wandb_offline_beside_tensorboard(acl_dir, tmp_path):
    import mlflow

    run_dir = tmp_path / "logs" / "train" / "runs" / "tracked"
    overrides = tiny_train_overrides(acl_dir, run_dir, "trainer.max_epochs=2", "model.hidden_size=12")
    run_module("lstm_imdb.train", *overrides, "logger=many", root=tmp_path)

    client = mlflow.tracking.MlflowClient(f"sqlite:///{tmp_path / 'logs' / 'mlflow.db'}")
    [experiment] = [e for e in client.search_experiments() if e.name == "lstm_imdb_train"]
    [run] = client.search_runs([experiment.experiment_id])
    assert run.data.params["model/hidden_size"] == "12" and run.data.params["experiment"] == "default"
    assert len(client.get_metric_history(run.info.run_id, "val/acc")) == 2  # one a epoch
    assert {"final/test/acc", "final/val/acc_best", "train/loss"} <= set(run.data.metrics)

    [wandb_file] = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    keys, config = wandb_contents(wandb_file)
    assert {"val/acc", "train/loss", "final/test/acc"} <= keys
    assert config["model/hidden_size"] == "12" and config["experiment"] == '"default"'
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*")) and (run_dir / "csv").is_dir()
