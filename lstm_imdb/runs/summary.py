"""One table for many runs (a sweep folder, or any list of run folders): `summary.csv`, `summary.md` (best
first, with the mean and spread) and `summary.png` (the metric against each swept parameter)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from lstm_imdb.runs.folder import RunFolder, find_runs

# What each row shows besides the overrides, in this order.
COLUMNS = [
    "val/acc_best",
    "val/acc",
    "val/loss",
    "val/auroc",
    "test/acc",
    "test/f1",
    "test/auroc",
    "test_dedup/acc",
    "rotten_tomatoes/acc",
    "epochs",
    "time/fit_s",
    "time/epoch_s",
]


def run_row(run: RunFolder) -> dict:
    """Overrides and final metrics of one run (metrics missing when the run failed or is still going)."""
    row: dict = {"run": str(run.path)}
    for item in run.overrides():
        key, _, value = item.lstrip("+~").partition("=")
        if key.startswith("hydra") or key in ("hparams_search",):
            continue
        row[key] = value
    history = run.history()
    if history:
        last = history[-1]
        row.update({k: last[k] for k in ("val/acc", "val/loss", "val/auroc") if k in last})
        row["val/acc_best"] = max(r.get("val/acc", float("nan")) for r in history)
        row["epochs"] = len(history)
        row["time/epoch_s"] = sum(r.get("epoch_s", 0.0) for r in history) / len(history)
    tested = run.metrics()
    row.update({k: v for k, v in tested.items() if k in COLUMNS})
    row["status"] = "tested" if tested else ("trained" if history else "failed")
    return row


def summarize(folders: list[Path], metric: str = "val/acc_best", out: Path | None = None) -> pd.DataFrame:
    runs = find_runs(folders)
    if not runs:
        raise FileNotFoundError(
            f"No run folders (with .hydra/config.yaml) under {', '.join(map(str, folders))}"
        )
    df = pd.DataFrame([run_row(r) for r in runs])
    swept = [c for c in df.columns if c not in COLUMNS + ["run", "status"]]
    shown = [c for c in COLUMNS if c in df.columns]
    df = df[["status", *swept, *shown, "run"]]
    if metric in df.columns:
        df = df.sort_values(metric, ascending=False, na_position="last")
    out = out or folders[0]
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "summary.csv", index=False)
    stats = spread(df, shown)
    (out / "summary.md").write_text(
        f"# {len(df)} runs, best {metric} first\n\n"
        + df.drop(columns=["run"]).to_markdown(index=False, floatfmt=".4f")
        + "\n\n## Mean and spread over these runs\n\n"
        + stats.to_markdown(floatfmt=".4f")
        + "\n"
    )
    plot_summary(df, swept, metric, out / "summary.png")
    return df


def spread(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Mean, standard deviation, min and max of each metric over the runs (e.g. a sweep over seeds)."""
    numeric = df[columns].apply(pd.to_numeric, errors="coerce")
    return numeric.agg(["mean", "std", "min", "max", "count"]).T


def plot_summary(df: pd.DataFrame, swept: list[str], metric: str, path: Path) -> None:
    """The metric against each swept parameter: numbers as a scatter, choices as categories."""
    params = swept or ["run"]
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.5 * rows), squeeze=False)
    for ax, param in zip(axes.flat, params, strict=False):
        values = df[metric] if metric in df else pd.Series([float("nan")] * len(df))
        x = pd.to_numeric(df[param], errors="coerce")
        if x.notna().all() and x.nunique() > 1 and param != "run":
            ax.scatter(x, values)
            if x.min() > 0 and x.max() / x.min() > 20:
                ax.set_xscale("log")
        else:
            # a run from another sweep may not set this parameter at all
            labels = ["(not set)" if pd.isna(v) else str(v)[-25:] for v in df[param]]
            ax.scatter(labels, values)
            ax.tick_params(axis="x", rotation=30)
        ax.set_xlabel(param)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(params) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
