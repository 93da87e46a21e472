"""`python -m lstm_imdb.tools.results`: docs generated from run records (tiny records in the layout runs write)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import yaml

from lstm_imdb.tools.results import build as results

SPEC = {
    "rows": {
        "replica": {
            "title": "tutorial replica",
            "command": "python -m lstm_imdb.train -m experiment=keras_tutorial seed=1,2,3",
            "runs": "logs/results/replica/[0-9]*",
        },
        "ens": {
            "title": "ensemble",
            "command": "python -m lstm_imdb.train experiment=best",
            "runs": "logs/results/replica/ensemble",
            "ensemble": True,
        },
        "baseline": {
            "title": "TF-IDF",
            "command": "python -m lstm_imdb.baseline",
            "runs": "logs/results/tfidf",
        },
        "never_run": {
            "title": "not run yet",
            "command": "python -m lstm_imdb.train x=1",
            "runs": "logs/none/*",
        },
    },
    "bench": {"title": "Keras", "command": "make bench-keras", "file": "logs/results/bench.json"},
    "headline": ["keras", "replica", "ens", "baseline"],
}

README = "# project\n\n<!-- results:start -->\nold\n<!-- results:end -->\n\n<!-- performance:start -->\nold\n<!-- performance:end -->\n"


def write_run(folder: Path, seed: int | None, metrics: dict, commit: str = "abc1234def") -> None:
    folder.mkdir(parents=True)
    (folder / "test_metrics.json").write_text(json.dumps(metrics))
    env = {"git_commit": commit, "date": "2026-11-25T10:00:00+00:00", "cpu": "AMD EPYC", "torch_threads": 2}
    (folder / "environment.json").write_text(json.dumps({**env, "precision": "bf16-mixed"}))
    if seed is not None:
        (folder / ".hydra").mkdir()
        (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"seed": seed}))


@pytest.fixture
def project(tmp_path):
    accs = {1: 0.85, 2: 0.87, 3: 0.86}
    for i, (seed, acc) in enumerate(accs.items()):
        metrics = {
            "test/acc": acc,
            "val/acc_best": acc + 0.01,
            "rotten_tomatoes/acc": 0.7,
            "time/epoch_s": 10.0 + i,
        }
        write_run(tmp_path / f"logs/results/replica/{i}", seed, metrics)
    (tmp_path / "logs/results/replica/3").mkdir()  # a run that failed: no test_metrics.json, left out
    members = [str(tmp_path / f"logs/results/replica/{i}/checkpoints/best.ckpt") for i in range(3)]
    ens = tmp_path / "logs/results/replica/ensemble"
    ens.mkdir()
    (ens / "test_metrics.json").write_text(
        json.dumps({"test/acc": 0.9, "val/acc": 0.91, "checkpoints": members})
    )
    write_run(
        tmp_path / "logs/results/tfidf", None, {"test/acc": 0.88, "val_acc_by_C": {"1.0": 0.89, "4.0": 0.895}}
    )
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/performance.md").write_text(
        "# Performance\n\n<!-- bench:start -->\n<!-- bench:end -->\nprose\n"
    )
    return tmp_path, accs


def test_results_are_means_and_spreads_of_the_records_with_their_provenance(project):
    root, accs = project
    texts = results.generate(root, SPEC)
    md = texts["docs/results.md"]
    mean, std = statistics.mean(accs.values()), statistics.stdev(accs.values())
    assert f"| tutorial replica | 1, 2, 3 | {mean + 0.01:.4f} ± {std:.4f} | {mean:.4f} ± {std:.4f} |" in md
    assert "| ensemble | 3 members | 0.9100 | 0.9000 |" in md  # ensemble: validation of its own
    assert "| TF-IDF | - | 0.8950 | 0.8800 |" in md  # baseline: the C chosen on validation
    assert (
        "abc1234" in md
        and "2026-11-25" in md
        and "| bf16-mixed | abc1234 | 2026-11-25 | AMD EPYC, 2 threads |" in md
    )
    assert "## Not yet run" in md and "python -m lstm_imdb.train x=1" in md
    assert "10.0" in md and "12.0" in md  # each run's s/epoch in the per-run table
    readme = texts["README.md"]
    block = readme.split("<!-- results:start -->")[1].split("<!-- results:end -->")[0]
    assert "old" not in block and readme.startswith("# project")
    assert "<!-- performance:start -->\nold\n" in readme  # no bench record yet: left as it was
    assert readme.index("tutorial replica") < readme.index("ensemble") < readme.index("TF-IDF")
    assert "not run yet" not in readme  # the README shows the headline rows that have records


def bench_record() -> dict:
    return {
        "environment": {
            "git_commit": "feedbeef00",
            "date": "2026-11-25",
            "cpu": "AMD EPYC",
            "torch_threads": 2,
        },
        "precision": "bf16-mixed",
        "train_reviews": 22500,
        "args": {"steps": 40, "repeats": 3},
        "real_path": {
            "command": "python -m lstm_imdb.train experiment=keras_tutorial trainer.max_epochs=5",
            "process_s": 80.0,
            "epoch_s": [12.0, 12.0],
            "val_acc": [0.8, 0.85],
            "test_acc": 0.86,
            "process_to_first_batch_s": 7.0,
            "test_s": 4.0,
            "callbacks_s_per_epoch": {"RichProgressBar": 0.12},
        },
        "keras": {
            "process_s": 320.0,
            "epoch_s": [60.0, 60.0],
            "val_acc": [0.76, 0.82],
            "test_acc": 0.844,
            "versions": "TensorFlow 2.21.0, Keras 3",
            "time": {"import_s": 2.0, "prepare_s": 6.0, "fit_s": 300.0, "test_s": 20.0},
        },
        "floor": {"epoch_s": 9.0},
        "flops": {
            "flops_per_review_step": 141312,
            "epoch_gflop": 1500.0,
            "floor_gflops_per_s": 150.0,
            "run_gflops_per_s": 125.0,
            "matmul_fp32_gflops_per_s": 200.0,
            "matmul_bf16_gflops_per_s": 400.0,
        },
        "train": [
            {
                "mode": "bucketed",
                "path": "plain",
                "samples_per_s": 2000.0,
                "epoch_s": 11.0,
                "mean_tokens": 164,
            }
        ],
        "allocator": [
            {"malloc": "tuned", "steps": 40, "wall_s": 10.0, "user_s": 19.0, "sys_s": 1.0},
            {"malloc": "system", "steps": 40, "wall_s": 14.0, "user_s": 19.0, "sys_s": 8.0},
        ],
        "padding_free": [
            {"model": "tutorial", "padding_free_step_s": 0.05, "over_padding_step_s": 0.05, "cost": 1.0}
        ],
        "eval": [
            {
                "model": "tutorial",
                "mode": "bucketed (sorted by length)",
                "precision": "bf16-mixed",
                "device": "cpu",
                "batch": 512,
                "reviews_per_s": 8000.0,
            },
        ],
    }


def test_performance_docs_and_the_keras_row_come_from_the_bench_record(project):
    root, _ = project
    (root / "logs/results/bench.json").write_text(json.dumps(bench_record()))
    texts = results.generate(root, SPEC)
    readme, perf = texts["README.md"], texts["docs/performance.md"]
    assert "4.0x faster as a whole process** (80 s against 320 s)" in readme
    assert "5.0x per epoch** (12.0 s against 60.0 s)" in readme
    assert "tutorial 8,000 reviews/s" in readme
    assert "| RichProgressBar | 0.120 | 1.0% |" in perf and perf.endswith("prose\n")
    assert "feedbeef" not in perf and "feedbee" in perf  # the short commit
    # the Keras row of the results: its one run, from the bench record
    assert "| Keras | 42 | 0.8200 | 0.8440 |" in texts["docs/results.md"]
    assert readme.index("| Keras |") < readme.index("| tutorial replica |")


def test_check_mode_says_when_docs_are_stale(project, monkeypatch, capsys):
    root, _ = project
    monkeypatch.setattr(results, "load_spec", lambda path=None: SPEC)
    assert results.main(["--root", str(root), "--check"]) == 1
    assert "out of date: docs/results.md" in capsys.readouterr().out
    assert results.main(["--root", str(root)]) == 0
    assert results.main(["--root", str(root), "--check"]) == 0
    assert "tutorial replica" in (root / "docs/results.md").read_text()


def test_missing_markers_and_unknown_rows_are_clear_errors(project, monkeypatch):
    root, _ = project
    monkeypatch.setattr(results, "load_spec", lambda path=None: SPEC)
    with pytest.raises(SystemExit, match="--run nope: not in conf/results.yaml"):
        results.main(["--root", str(root), "--run", "nope"])
    (root / "README.md").write_text("# no markers\n")
    with pytest.raises(SystemExit, match="<!-- results:start -->"):
        results.main(["--root", str(root)])


def test_the_projects_results_spec_names_real_commands():
    spec = results.load_spec()
    assert set(spec["headline"]) <= set(spec["rows"]) | {"keras"}
    for item in spec["rows"].values():
        assert all(c.startswith("python -m lstm_imdb.") for c in results.commands(item))
    assert set(r.get("table") for r in spec["rows"].values()) - {None} <= set(spec.get("tables", {}))


def test_a_fresh_clone_regenerates_the_same_docs_from_the_kept_records(project):
    """docs/records.json keeps what the docs were made from: without the run folders (a fresh clone),
    the same docs come out; a row rerun here replaces its kept runs."""
    import shutil

    root, _ = project
    (root / "logs/results/bench.json").write_text(json.dumps(bench_record()))
    first = results.generate(root, SPEC)
    for path, text in first.items():
        (root / path).write_text(text)
    shutil.rmtree(root / "logs")
    assert results.generate(root, SPEC) == first
    write_run(
        root / "logs/results/tfidf",
        None,
        {"test/acc": 0.5, "val_acc_by_C": {"1.0": 0.5}},
        commit="0123456789",
    )
    again = results.generate(root, SPEC)["docs/results.md"]
    assert "| TF-IDF | - | 0.5000 | 0.5000 |" in again and "| tutorial replica | 1, 2, 3 |" in again


def test_corrupt_kept_records_are_refused_with_the_way_out(project, monkeypatch):
    root, _ = project
    monkeypatch.setattr(results, "load_spec", lambda path=None: SPEC)
    (root / "docs/records.json").write_text('{"rows": ')
    with pytest.raises(SystemExit, match="records.json is not valid JSON.*git checkout -- docs/records.json"):
        results.main(["--root", str(root)])


def test_rows_of_a_named_table_get_a_table_of_their_own_and_chained_commands_run_in_order(
    project, monkeypatch
):
    root, _ = project
    spec = json.loads(json.dumps(SPEC))
    spec["rows"]["abl"] = {
        "title": "ablation cell",
        "command": ["python -m lstm_imdb.pretrain a=1", "python -m lstm_imdb.train b=2"],
        "runs": "logs/results/abl/*",
        "table": "ablation",
    }
    spec["tables"] = {"ablation": "One thing changed per row."}
    write_run(root / "logs/results/abl/0", 42, {"test/acc": 0.8, "val/acc_best": 0.81}, commit="fedcba9876")
    env = json.loads((root / "logs/results/abl/0/environment.json").read_text())
    (root / "logs/results/abl/0/environment.json").write_text(json.dumps({**env, "git_dirty": True}))
    text = results.generate(root, spec)["docs/results.md"]
    main_table, ablation = text.split("## Ablation", 1)
    assert "ablation cell" not in main_table.split("## Commands")[0]
    assert "One thing changed per row." in ablation
    assert "| ablation cell | 42 | 0.8100 | 0.8000 |" in ablation
    assert "fedcba9+" in ablation  # run from uncommitted code: marked
    assert "`python -m lstm_imdb.pretrain a=1 && python -m lstm_imdb.train b=2`" in text
    ran = []
    monkeypatch.setattr(results.subprocess, "run", lambda argv, **kw: ran.append(argv[1:]))
    spec["rows"]["abl2"] = {
        **spec["rows"]["abl"],
        "command": [spec["rows"]["abl"]["command"][0], "python -m x c=3"],
    }
    results.run_commands(spec, ["abl", "abl2"], root)
    # the shared pretraining runs once, then each row's own command
    assert ran == [["-m", "lstm_imdb.pretrain", "a=1"], ["-m", "lstm_imdb.train", "b=2"], ["-m", "x", "c=3"]]


def test_a_cross_validation_row_reads_its_untested_folds_validation_histories(project):
    """Runs trained with test=false (data.val_fold=0,1,2) count once every epoch is in their history: the
    row shows the mean ± std of their best val acc over the folds and no test figure; a fold still
    training is left out."""
    root, _ = project
    spec = json.loads(json.dumps(SPEC))
    spec["rows"]["cv"] = {
        "title": "whole model, 3-fold CV",
        "command": "python -m lstm_imdb.train -m data.val_fraction=0.3333 data.val_fold=0,1,2 test=false",
        "runs": "logs/results/cv/*",
        "table": "cross-validation",
    }
    spec["tables"] = {"cross-validation": "Each setting on every fold."}
    for fold, accs in enumerate([[0.90, 0.92], [0.91, 0.93], [0.90, 0.94], [0.95]]):
        folder = root / f"logs/results/cv/{fold}"
        (folder / ".hydra").mkdir(parents=True)
        config = {"seed": 42, "test": False, "trainer": {"max_epochs": 2}, "data": {"val_fold": fold}}
        (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
        history = [{"epoch": e, "val/acc": a, "epoch_s": 10.0} for e, a in enumerate(accs)]
        (folder / "history.json").write_text(json.dumps(history))
        (folder / "environment.json").write_text(json.dumps({"git_commit": "abc1234def", "torch_threads": 2}))
    text = results.generate(root, spec)["docs/results.md"]
    cv = text.split("## Cross-validation", 1)[1]
    assert "| whole model, 3-fold CV | 42 (validation folds 0, 1, 2) | 0.9300 ± 0.0100 |  |" in cv
