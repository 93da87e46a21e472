"""Sweeps (grid, Optuna, joblib), sweep summaries, TensorBoard hparams, launcher configs and notebooks. The runs; the in-process checks
are in tests/unit/test_sweeps_and_review.py."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from helpers import TESTS_DIR, run_module, tiny_train_overrides
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lstm_imdb.runs.summary import summarize
from lstm_imdb.utils.paths import CONFIG_DIR

FAST = ["trainer.max_epochs=2"]


def job_dirs(sweep_dir):
    return sorted(p.parent.parent for p in sweep_dir.glob("*/.hydra/config.yaml"))


def test_grid_sweep_runs_every_combination_and_summarizes(acl_dir, tmp_path):
    sweep = tmp_path / "logs" / "train" / "multiruns" / "grid"
    run_module(
        "lstm_imdb.train",
        "-m",
        *tiny_train_overrides(acl_dir, tmp_path / "unused"),
        *FAST,
        "model.hidden_size=8,16",
        "model.pooling=last,max",
        f"hydra.sweep.dir={sweep}",
        root=tmp_path,
    )
    jobs = job_dirs(sweep)
    assert len(jobs) == 4
    for job in jobs:
        assert (job / "test_metrics.json").is_file() and (job / "report" / "roc_curve.png").is_file()
    df = summarize([sweep])
    assert len(df) == 4 and set(df["status"]) == {"tested"}
    assert {"model.hidden_size", "model.pooling", "val/acc_best", "test/acc", "epochs"} <= set(df.columns)
    assert list(df["val/acc_best"]) == sorted(df["val/acc_best"], reverse=True)
    for name in ("summary.csv", "summary.md", "summary.png"):
        assert (sweep / name).stat().st_size > 200
    assert "model.hidden_size" in (sweep / "summary.md").read_text()
    assert "# 4 configurations, 4 runs" in (sweep / "summary.md").read_text()
    # the command line works on a list of single runs too
    out = tmp_path / "two"
    run_module(
        "lstm_imdb.summarize",
        str(jobs[0]),
        str(jobs[1]),
        "--out",
        str(out),
        "--metric",
        "test/acc",
        root=tmp_path,
    )
    assert len((out / "summary.csv").read_text().strip().splitlines()) == 3


def test_optuna_search_runs_two_trials(acl_dir, tmp_path):
    sweep = tmp_path / "optuna"
    run_module(
        "lstm_imdb.train",
        "-m",
        "hparams_search=optuna",
        *tiny_train_overrides(acl_dir, tmp_path / "u"),
        *FAST,
        "hydra.sweeper.n_trials=2",
        f"hydra.sweep.dir={sweep}",
        root=tmp_path,
    )
    assert len(job_dirs(sweep)) == 2
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_params"]
    # the search maximizes the figure that chose each tested checkpoint, the one summarize ranks by
    df = summarize([sweep])
    tested = [json.loads((job / "test_metrics.json").read_text())["val/acc_best"] for job in job_dirs(sweep)]
    assert best["best_value"] == pytest.approx(max(tested)) == pytest.approx(df["val/acc_best"].iloc[0])


def test_a_diverging_trial_is_reported_and_the_sweep_goes_on(acl_dir, tmp_path):
    sweep = tmp_path / "nan"
    proc = run_module(
        "lstm_imdb.train",
        "-m",
        *tiny_train_overrides(acl_dir, tmp_path / "u"),
        *FAST,
        "model.optimizer._target_=helpers.ExplodingSGD,torch.optim.Adam",
        f"hydra.sweep.dir={sweep}",
        root=tmp_path,
    )
    assert "Training loss is nan at epoch 0, step 3 (batch 2)" in proc.stdout + proc.stderr
    jobs = job_dirs(sweep)
    assert len(jobs) == 2 and (jobs[1] / "test_metrics.json").is_file()
    assert jobs[0].name.endswith("_FAILED") and not jobs[1].name.endswith("_FAILED")
    df = summarize([sweep])
    assert sorted(df["status"]) == ["failed", "tested"]


def test_best_trains_each_seed_then_tests_them_together(acl_dir, tmp_path):
    sweep = tmp_path / "ensemble, 2"  # a comma: the callback must quote the paths it passes on
    run_module(
        "lstm_imdb.train",  # no -m: the experiment itself asks for a sweep
        "experiment=best",
        *tiny_train_overrides(acl_dir, tmp_path / "u"),
        *FAST,
        "data.sequence_length=40",
        "model.ngram_buckets=1024",
        "data.wide.buckets=4096",
        "seed=1,2",  # replaces the experiment's seeds
        "hydra.callbacks.ensemble.ensemble_weights=validation",
        f"hydra.sweep.dir='{sweep}'",
        root=tmp_path,
    )
    members = [json.loads((j / "test_metrics.json").read_text()) for j in job_dirs(sweep)]
    assert len(members) == 2
    report = json.loads((sweep / "ensemble" / "test_metrics.json").read_text())
    assert report["checkpoints"] == [str(j / "checkpoints" / "best.ckpt") for j in job_dirs(sweep)]
    assert 0.5 <= report["test/acc"] <= 1.0 and report["test/auroc"] > 0.5
    # chosen on validation: the members held out the same reviews, and the ensemble is scored on them
    configs = [yaml.safe_load((j / ".hydra" / "config.yaml").read_text()) for j in job_dirs(sweep)]
    assert [c["seed"] for c in configs] == [1, 2] and len({c["data"]["val_seed"] for c in configs}) == 1
    assert 0.5 <= report["val/acc"] <= 1.0 and "test_dedup/acc" in report
    assert (sweep / "ensemble" / "report" / "roc_curve.png").is_file()
    assert len(json.loads((sweep / "ensemble" / "ensemble_weights.json").read_text())["weights"]) == 2
    assert len(summarize([sweep])) == 2  # the ensemble's folder is not listed as a run


def test_joblib_launcher_runs_two_jobs(acl_dir, tmp_path):
    sweep = tmp_path / "joblib"
    run_module(
        "lstm_imdb.train",
        "-m",
        "hydra/launcher=parallel",
        *tiny_train_overrides(acl_dir, tmp_path / "u"),
        *FAST,
        "model.hidden_size=8,12",
        f"hydra.sweep.dir={sweep}",
        root=tmp_path,
    )
    assert [(j / "test_metrics.json").is_file() for j in job_dirs(sweep)] == [True, True]


def test_slurm_launcher_settings_run_two_jobs_through_submitit_locally(acl_dir, tmp_path):
    sweep = tmp_path / "submitit"
    run_module(
        "lstm_imdb.train",
        "-m",
        "hydra/launcher=slurm_local",
        *tiny_train_overrides(acl_dir, tmp_path / "u"),
        *FAST,
        "model.hidden_size=8,12",
        f"hydra.sweep.dir={sweep}",
        root=tmp_path,
        timeout=600,
    )
    assert [(j / "test_metrics.json").is_file() for j in job_dirs(sweep)] == [True, True]
    assert len(list((sweep / ".submitit").glob("*/*_result.pkl"))) == 2  # two submitit jobs, collected


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dashboard_trials(port: int, study: str, expected: int, timeout: float = 60) -> list[dict]:
    """The trials optuna-dashboard serves for `study` (its API, what its pages draw), polled until it
    shows `expected` of them (it refreshes finished trials every few seconds)."""
    deadline, trials = time.monotonic() + timeout, []
    api = f"http://127.0.0.1:{port}/api/studies"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(api, timeout=5) as r:
                (study_id,) = [
                    s["study_id"] for s in json.load(r)["study_summaries"] if s["study_name"] == study
                ]
            with urllib.request.urlopen(f"{api}/{study_id}?after=0", timeout=5) as r:
                trials = json.load(r)["trials"]
        except OSError:
            pass  # not listening yet
        if len(trials) >= expected:
            break
        time.sleep(1)
    return trials


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_optuna_workers_share_one_study_and_the_dashboard_shows_it_live(acl_dir, tmp_path, kind):
    """Two workers at once on one study (as on a cluster: each worker a job), each with its own sampler
    seed; the study is created once first, as docs/usage.md says. optuna-dashboard, started before the
    workers, serves every trial they wrote."""
    import optuna

    from lstm_imdb.training.optuna_sweeper import open_storage

    storage = (
        f"sqlite:///{tmp_path / 'optuna.db'}"
        if kind == "sqlite"
        else f"journal:{tmp_path / 'optuna.journal'}"
    )
    optuna.create_study(study_name="shared", storage=open_storage(storage), direction="maximize")
    port = free_port()
    dashboard = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "optuna-dashboard"),
            storage.removeprefix("journal:"),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "lstm_imdb.train",
                    "-m",
                    "hparams_search=optuna",
                    *tiny_train_overrides(acl_dir, tmp_path / "u"),
                    *FAST,
                    "hydra.sweeper.n_trials=2",
                    f"hydra.sweeper.storage={storage}",
                    "hydra.sweeper.study_name=shared",
                    f"hydra.sweeper.sampler.seed={seed}",
                    f"hydra.sweep.dir={tmp_path / f'worker{seed}'}",
                ],
                env={**os.environ, "LSTM_IMDB_ROOT": str(tmp_path), "PYTHONPATH": str(TESTS_DIR)},
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for seed in (1, 2)
        ]
        outputs = [w.communicate(timeout=600)[0] for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
        assert "Optuna 5." in outputs[0]
        trials = optuna.load_study(study_name="shared", storage=open_storage(storage)).trials
        assert sorted(t.number for t in trials) == [0, 1, 2, 3]
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
        assert len({tuple(sorted(t.params.items())) for t in trials}) == 4  # no configuration twice
        assert len(job_dirs(tmp_path / "worker1")) == len(job_dirs(tmp_path / "worker2")) == 2
        shown = dashboard_trials(port, "shared", expected=4)
        assert sorted(t["number"] for t in shown) == [0, 1, 2, 3]
        assert all(t["state"] == "Complete" and t["params"] for t in shown)
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=30)


def test_tensorboard_events_hold_hparams_and_scalars(trained):
    """Curves against the epoch (0, 1, ...), no `epoch` chart, the learning rate per epoch, and the final
    figures only as HPARAMS' ~final/* (no one-point test/* charts)."""
    _, run_dir, _ = trained
    tags, hparams, steps = set(), False, {}
    for events in (run_dir / "tensorboard").glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
        steps.update({t: [e.step for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]})
        try:
            hparams |= bool(acc.PluginTagToContent("hparams"))
        except KeyError:  # this events file holds no hparams
            pass
    assert {"train/loss", "val/loss", "val/acc", "val/auroc", "~final/test/acc", "train/lr"} <= tags
    assert "epoch" not in tags and not [t for t in tags if t.startswith(("test/", "test_dedup/"))]
    # the groups TensorBoard opens first (the first two by name): the curves
    assert sorted({t.split("/")[0] for t in tags})[:2] == ["train", "val"]
    epochs = [r["epoch"] for r in json.loads((run_dir / "history.json").read_text())]
    assert steps["val/acc"] == steps["train/loss"] == steps["train/lr"] == epochs == [0, 1, 2, 3]
    assert hparams
    images = set()
    for events in (run_dir / "tensorboard").glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        images |= set(acc.Tags()["images"])
    assert {"~report/roc_curve", "~report/training_curves", "~report/confusion_matrix"} <= images
    assert sorted({t.split("/")[0] for t in images | tags})[:2] == ["train", "val"]  # what opens first


DRAWS = ("plt.show()", "display(Image(")  # a code cell that holds one of these must show a figure


@pytest.mark.parametrize("notebook", ["01_data.ipynb", "02_review_runs.ipynb"])
def test_notebooks_run_show_their_figures_and_write_nothing(
    notebook, trained, acl_dir, monkeypatch, tmp_path
):
    """Run as in Jupyter (inline backend): every plotting cell shows its figure; 02 reviews the newest
    finished run (a newer failed one beside it), shows reviews without HTML breaks, and writes no file."""
    import nbformat
    from nbclient import NotebookClient

    _, run_dir, _ = trained
    runs = tmp_path / "logs" / "train" / "runs"
    shutil.copytree(run_dir, runs / "finished")
    (runs / "failed" / ".hydra").mkdir(parents=True)  # newest, never tested: not the one to review
    shutil.copy(run_dir / ".hydra" / "config.yaml", runs / "failed" / ".hydra" / "config.yaml")
    path = CONFIG_DIR.parent / "notebooks" / notebook
    nb = nbformat.read(path, as_version=4)
    assert all(
        not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code"
    )
    monkeypatch.setenv("LSTM_IMDB_ROOT", str(tmp_path))
    monkeypatch.setenv("LSTM_IMDB_SOURCE", "acl")
    monkeypatch.setenv("LSTM_IMDB_ACL_DIR", str(acl_dir))
    monkeypatch.setenv("LSTM_IMDB_DATA_DIR", str(trained[0] / "data"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as in Jupyter
    before = sorted(tmp_path.rglob("*"))
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert outputs and not [o for o in outputs if o.get("output_type") == "error"]
    drawing = [c for c in code if any(d in c.source for d in DRAWS)]
    assert drawing and all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in drawing)
    assert sorted(tmp_path.rglob("*")) == before  # no summary files, no figures written into logs/
    if notebook == "02_review_runs.ipynb":

        def shown(cell) -> str:  # what a cell printed and returned (warnings on standard error aside)
            return "".join(
                str(o.get("data", {}).get("text/plain", ""))
                + (o.get("text", "") if o.get("name") != "stderr" else "")
                for o in cell.outputs
            )

        assert str(runs / "finished") in shown(code[0])
        assert "misclassified" in shown(code[-1]) and "<br" not in shown(code[-1])
    nbformat.validate(nb)  # the executed notebook is still a valid notebook


@pytest.mark.parametrize(
    ("debug", "files"),
    [
        ("fdr", ["test_metrics.json"]),
        ("profiler", ["fit-profiler.txt", "test-profiler.txt", "checkpoints/best.ckpt"]),
        ("limit", ["test_metrics.json", "checkpoints/best.ckpt"]),
    ],
)
def test_debug_configs_run_apart_from_real_runs(acl_dir, tmp_path, debug, files):
    overrides = [o for o in tiny_train_overrides(acl_dir, tmp_path / "unused") if not o.startswith("hydra.")]
    # eval batches of 16: debug=limit tests 2 of the 13 test batches, and its report covers those
    proc = run_module(
        "lstm_imdb.train", *overrides, "data.eval_batch_size=16", f"debug={debug}", root=tmp_path
    )
    [run] = list((tmp_path / "logs" / "debug" / "runs").iterdir())  # not under logs/train
    assert all((run / f).is_file() for f in files), sorted(p.name for p in run.iterdir())
    assert json.loads((run / "environment.json").read_text())["tags"] == ["debug"]
    assert "config" in proc.stdout and "trainer" in proc.stdout  # the composed config, printed as a tree
    if debug == "limit":
        assert "== test (32 reviews)" in (run / "report" / "classification_report.txt").read_text()
        assert "test_dedup/acc" in json.loads((run / "test_metrics.json").read_text())


def test_hparams_tab_compares_what_can_change_a_result(trained):
    """Each run writes its session's hparams and no experiment summary: TensorBoard then builds HPARAMS'
    columns from every run shown, the settings that differ between them first (it imposes none otherwise)."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    _, run_dir, _ = trained
    names, experiments = [], 0
    for events in (run_dir / "tensorboard").glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        try:
            content = acc.PluginTagToContent("hparams")
        except KeyError:
            continue
        for blob in content.values():
            data = plugin_data_pb2.HParamsPluginData.FromString(blob)
            experiments += data.HasField("experiment")
            if data.HasField("session_start_info"):
                names = list(data.session_start_info.hparams)
    assert experiments == 0
    assert {
        "experiment",
        "seed",
        "tags",
        "model/hidden_size",
        "model/optimizer/lr",
        "data/num_words",
        "data/val_seed",
    } <= set(names)
    assert not [
        n for n in names if "_target_" in n or "data_dir" in n or "num_workers" in n or "acl_dir" in n
    ]
