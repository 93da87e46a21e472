"""One table for many runs: a sweep folder, or any list of run folders.

    python -m lstm_imdb.summarize logs/train/multiruns/<timestamp>
    python -m lstm_imdb.summarize logs/train/runs/<a> logs/train/runs/<b> --metric test/acc

Writes `summary.csv`, `summary.md` (best first) and `summary.png` (the metric against each swept
parameter) into the first folder given, or into `--out`.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

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


def find_runs(folders: list[Path]) -> list[Path]:
    """Every run folder (one holding `.hydra/config.yaml`) at or below the given folders."""
    runs = []
    for folder in folders:
        if (folder / ".hydra" / "config.yaml").is_file():
            runs.append(folder)
        else:
            runs.extend(sorted((p.parent.parent for p in folder.glob("**/.hydra/config.yaml")), key=str))
    return runs


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_row(run: Path) -> dict:
    """Overrides and final metrics of one run (metrics missing when the run failed or is still going)."""
    overrides_file = run / ".hydra" / "overrides.yaml"
    overrides = (yaml.safe_load(overrides_file.read_text()) or []) if overrides_file.is_file() else []
    row: dict = {"run": str(run)}
    for item in overrides:
        key, _, value = item.lstrip("+~").partition("=")
        if key.startswith("hydra") or key in ("hparams_search",):
            continue
        row[key] = value
    history = _read_json(run / "history.json") or []
    if history:
        last = history[-1]
        row.update({k: last[k] for k in ("val/acc", "val/loss", "val/auroc") if k in last})
        row["val/acc_best"] = max(r.get("val/acc", float("nan")) for r in history)
        row["epochs"] = len(history)
        row["time/epoch_s"] = sum(r.get("epoch_s", 0.0) for r in history) / len(history)
    tested = _read_json(run / "test_metrics.json") or {}
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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", type=Path, help="a sweep folder, or run folders")
    p.add_argument(
        "--metric", default="val/acc_best", help="sort by this (and plot it); default val/acc_best"
    )
    p.add_argument(
        "--out", type=Path, default=None, help="where to write the summary (default: first folder)"
    )
    args = p.parse_args(argv)
    try:
        df = summarize(args.folders, args.metric, args.out)
    except FileNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(df.drop(columns=["run"]).to_string(index=False))
        print("\nMean and spread over these runs:")
        print(spread(df, [c for c in COLUMNS if c in df.columns]).to_string())
    print(f"\nWrote summary.csv, summary.md and summary.png to {args.out or args.folders[0]}")


if __name__ == "__main__":
    main()
