"""The records the docs are made from: each row of conf/results.yaml with its runs (figures and
provenance, read from run folders or from docs/records.json), and the bench record."""

from __future__ import annotations

import glob
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lstm_imdb.runs.folder import RunFolder, read_json
from lstm_imdb.runs.summary import mean_std
from lstm_imdb.utils.paths import CONFIG_DIR

METRICS = {  # column title -> key in test_metrics.json
    "val acc": "val",
    "test acc": "test/acc",
    "test acc (dedup)": "test_dedup/acc",
    "test F1": "test/f1",
    "test AUROC": "test/auroc",
    "rotten_tomatoes acc": "rotten_tomatoes/acc",
    "s/epoch": "time/epoch_s",
}
HEADLINE_METRICS = ["val acc", "test acc", "rotten_tomatoes acc", "s/epoch"]


class ResultsError(RuntimeError):
    """A row's records are missing or unreadable; the message names the row and its command."""


@dataclass
class Run:
    """One run folder's figures and provenance."""

    folder: Path
    metrics: dict
    env: dict
    seed: int | None = None

    @classmethod
    def read(cls, folder: Path) -> Run | None:
        run = RunFolder(folder)
        metrics = run.metrics() or untested(run)
        if "test/acc" not in metrics and "val/acc_best" not in metrics:
            return None  # unfinished or failed
        seed = run.seed
        fold = (run.config().get("data") or {}).get("val_fold")
        if fold is not None:  # which block of the validation draw it held out (a cross-validation's fold)
            metrics = {**metrics, "val_fold": fold}
        env = run.environment()
        if not env and metrics.get("checkpoints"):  # an ensemble scored before evaluate kept its own record
            env = RunFolder(Path(metrics["checkpoints"][0]).parents[1]).environment()
        metrics = dict(metrics)
        if "val/acc_best" in metrics:  # the figure that chose the tested checkpoint
            metrics["val"] = metrics["val/acc_best"]
        elif "val/acc" in metrics:  # an ensemble scored on the shared validation split
            metrics["val"] = metrics["val/acc"]
        elif metrics.get("val_acc_by_C"):  # the baseline: its best C on validation
            metrics["val"] = max(metrics["val_acc_by_C"].values())
        return cls(folder, metrics, env, seed)


def untested(run: RunFolder) -> dict:
    """The figures of a run trained with `test=false` (a fold of a cross-validation: its choice is made on
    validation, and test is not read) from its validation history, once it has every epoch; else {}."""
    config, history = run.config(), run.history()
    epochs = (config.get("trainer") or {}).get("max_epochs") or 0
    if config.get("test", True) or not history or len(history) < epochs:
        return {}
    return {
        "val/acc_best": max(r["val/acc"] for r in history),
        "time/epoch_s": statistics.mean(r["epoch_s"] for r in history),
        "epochs": len(history),
    }


@dataclass
class Row:
    name: str
    title: str
    command: str
    runs: list[Run] = field(default_factory=list)
    ensemble: bool = False
    table: str = ""  # rows with a table name are shown in a table of their own (e.g. the ablation)

    def values(self, key: str) -> list[float]:
        return [float(r.metrics[key]) for r in self.runs if r.metrics.get(key) is not None]

    def cell(self, key: str) -> str:
        return mean_std(self.values(key), digits=1 if key.startswith("time/") else 4)

    def seeds(self) -> str:
        if self.ensemble:
            return f"{len(self.runs[0].metrics.get('checkpoints', []))} members"
        seeds = [str(r.seed) for r in self.runs if r.seed is not None]
        folds = [str(r.metrics["val_fold"]) for r in self.runs if "val_fold" in r.metrics]
        if len(set(folds)) > 1:  # a cross-validation: the same seed on each fold
            return f"{', '.join(dict.fromkeys(seeds))} (validation folds {', '.join(folds)})"
        return ", ".join(seeds) if seeds else "-"

    def provenance(self) -> dict[str, str]:
        envs = [r.env for r in self.runs]
        # "+": the run's code had uncommitted changes on top of that commit
        commits = sorted(
            {(e.get("git_commit") or "?")[:7] + ("+" if e.get("git_dirty") else "") for e in envs}
        )
        dates = sorted({(e.get("date") or "?")[:10] for e in envs})
        machines = sorted({machine(e) for e in envs})
        precisions = sorted({e.get("precision") or "-" for e in envs})
        return {
            "commit": ", ".join(commits),
            "date": ", ".join(dates),
            "machine": "; ".join(machines),
            "precision": ", ".join(precisions),
        }


def machine(env: dict) -> str:
    if not env:
        return "?"
    threads = env.get("torch_threads")
    where = env.get("cpu") or "CPU"
    if env.get("cpu_isa"):  # machines of one model name differ in their vector units (and timings)
        where = f"{where} ({env['cpu_isa']})"
    if env.get("cuda"):
        where = f"{env.get('device')} (CUDA {env['cuda']}), {where}"
    return f"{where}, {threads} threads"


def load_spec(path: Path | None = None) -> dict:
    return yaml.safe_load((path or CONFIG_DIR / "results.yaml").read_text())


def commands(item: dict) -> list[str]:
    """A row's commands, in order (`command` is one, or a list: e.g. pretraining, then fine-tuning)."""
    command = item["command"]
    return list(command) if isinstance(command, list) else [command]


def command_line(item: dict) -> str:
    return " && ".join(commands(item))


def collect(spec: dict, root: Path) -> dict[str, Row]:
    rows = {}
    for name, item in spec["rows"].items():
        folders = sorted(Path(p) for p in glob.glob(str(root / item["runs"])) if Path(p).is_dir())
        runs = [run for run in map(Run.read, folders) if run is not None]
        for run in runs:  # shown relative to the project
            if run.folder.is_relative_to(root):
                run.folder = run.folder.relative_to(root)
        rows[name] = Row(
            name, item["title"], command_line(item), runs, bool(item.get("ensemble")), item.get("table", "")
        )
    return rows


def read_bench(spec: dict, root: Path) -> dict | None:
    bench = read_json(root / spec["bench"]["file"])
    return bench or None


def keras_row(spec: dict, bench: dict | None) -> Row | None:
    """The Keras reference as a row, from the bench record (one seed: the tutorial's code has no other)."""
    if not bench or "keras" not in bench:
        return None
    k = bench["keras"]
    metrics = {
        "val": max(k["val_acc"]),
        "test/acc": k["test_acc"],
        "time/epoch_s": statistics.mean(k["epoch_s"]),
    }
    env = {**bench.get("environment", {}), "precision": f"float32 ({k['versions']})"}
    return Row("keras", spec["bench"]["title"], spec["bench"]["command"], [Run(Path("."), metrics, env, 42)])


RECORDS = "docs/records.json"
ENV_KEPT = (
    "git_commit",
    "git_dirty",
    "date",
    "argv",
    "cpu",
    "cpu_isa",
    "torch_threads",
    "cuda",
    "device",
    "precision",
    "torch",
)


def snapshot(rows: dict[str, Row], bench: dict | None) -> dict:
    """What the docs are generated from, small enough to keep in the repository (docs/records.json): each
    row's runs (folder, seed, metrics, provenance) and the bench record. A fresh clone regenerates the
    same docs from it; rows rerun here replace theirs."""
    return {
        "rows": {
            name: [
                {
                    "folder": str(r.folder),
                    "seed": r.seed,
                    "metrics": {k: v for k, v in r.metrics.items() if isinstance(v, (int, float, list))},
                    "env": {k: r.env[k] for k in ENV_KEPT if k in r.env},
                }
                for r in row.runs
            ]
            for name, row in rows.items()
            if row.runs
        },
        "bench": bench,
    }


def read_records(path: Path) -> dict:
    """The kept records ({} when there are none yet); unreadable ones are an error, not an empty table."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise ResultsError(
            f"{path} is not valid JSON ({err}): restore it with `git checkout -- {RECORDS}`, or rerun the rows "
            "with `python -m lstm_imdb.tools.results --run all`"
        ) from None


def from_snapshot(
    rows: dict[str, Row], bench: dict | None, records: dict
) -> tuple[dict[str, Row], dict | None]:
    """Rows without run folders here (a fresh clone) take their runs from the kept records."""
    for name, row in rows.items():
        if not row.runs:
            row.runs = [
                Run(Path(r["folder"]), r["metrics"], r["env"], r["seed"])
                for r in records.get("rows", {}).get(name, [])
            ]
    return rows, bench or records.get("bench")
