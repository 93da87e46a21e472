"""Many runs (a sweep folder, or any list of run folders) as tables: one row per run, and one row per
configuration (the runs that differ only in their seed, or in their validation fold: `data.val_fold`, a
cross-validation) with the mean ± std over them, since a sweep's question is which configuration is best,
not which run. `summarize` writes `summary.csv` (runs),
`configurations.csv`, `summary.md` (both tables) and `summary.png` (each configuration against each swept key)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from lstm_imdb.runs.folder import RunFolder, find_runs


def mean_std(values: list[float], digits: int = 4) -> str:
    """Figures over seeds as the docs show them: one value as it is, several as mean ± std, none as ""."""
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


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


# overrides that repeat a configuration rather than change it: `configurations` averages over them
REPLICATES = ["seed", "data.val_fold"]


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


def run_table(folders: list[Path], metric: str = "val/acc_best") -> pd.DataFrame:
    """One row per run (its overrides, status and final metrics), best `metric` first; reads only."""
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
        df = df.sort_values(metric, ascending=False, na_position="last", kind="stable")
    return df.reset_index(drop=True)


def configuration_keys(df: pd.DataFrame) -> list[str]:
    """The overrides that tell configurations apart: those that vary between the runs, the seed and the
    validation fold aside (the runs a configuration's mean ± std is taken over)."""
    overrides = [c for c in df.columns if c not in COLUMNS + ["run", "status", *REPLICATES]]
    return [c for c in overrides if df[c].astype(str).nunique() > 1]


def configurations(df: pd.DataFrame, metric: str = "val/acc_best") -> pd.DataFrame:
    """One row per configuration: its keys, how many runs, which seeds (and folds), and each metric's mean
    and std over them (`<metric>` and `<metric> std`), best mean `metric` first."""
    keys = configuration_keys(df)
    by = [df[k].fillna("(not set)").astype(str) for k in keys] or [
        pd.Series("all", index=df.index, name="runs of")
    ]
    metrics = [c for c in COLUMNS if c in df.columns]
    groups = df[metrics].apply(pd.to_numeric, errors="coerce").groupby(by)

    def values(key: str) -> pd.Series:  # which seeds (folds) each configuration's runs had
        column = df[key] if key in df else pd.Series(pd.NA, index=df.index)
        return column.groupby(by).agg(
            lambda s: ",".join(sorted({str(v) for v in s.dropna()}, key=_numeric_first))
        )

    out = pd.concat(
        {
            "runs": groups.size(),
            "seeds": values("seed"),
            **({"folds": values("data.val_fold")} if "data.val_fold" in df else {}),
            **{
                c: stat for m in metrics for c, stat in ((m, groups[m].mean()), (f"{m} std", groups[m].std()))
            },
        },
        axis=1,
    )
    if metric in out.columns:
        out = out.sort_values(metric, ascending=False, na_position="last", kind="stable")
    return out.reset_index()


def mean_std_table(configs: pd.DataFrame) -> pd.DataFrame:
    """`configurations` for reading: `mean ± std` in one column per metric."""
    shown = configs[[c for c in configs.columns if not c.endswith(" std") and c in configs]].copy()
    for m in [c for c in configs.columns if f"{c} std" in configs.columns]:
        std = configs[f"{m} std"]
        shown[m] = [
            "" if pd.isna(v) else f"{v:.4f}" + ("" if pd.isna(e) else f" ± {e:.4f}")
            for v, e in zip(configs[m], std, strict=True)
        ]
    return shown


def summarize(folders: list[Path], metric: str = "val/acc_best", out: Path | None = None) -> pd.DataFrame:
    """`run_table` of the folders, with its files written into `out` (default: the first folder)."""
    df = run_table(folders, metric)
    configs = configurations(df, metric)
    out = out or folders[0]
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "summary.csv", index=False)
    configs.to_csv(out / "configurations.csv", index=False)
    (out / "summary.md").write_text(
        f"# {len(configs)} configurations, {len(df)} runs\n\n"
        f"## Configurations (mean ± std over seeds and folds), best {metric} first\n\n"
        + mean_std_table(configs).to_markdown(index=False)
        + f"\n\n## Runs, best {metric} first\n\n"
        + df.drop(columns=["run"]).to_markdown(index=False, floatfmt=".4f")
        + "\n"
    )
    plot_configurations(df, configs, metric, out / "summary.png")
    return df


def plot_configurations(df: pd.DataFrame, configs: pd.DataFrame, metric: str, path: Path) -> None:
    """Each configuration's mean ± std of `metric` (its runs as dots) against each key that varies: values
    as evenly spaced categories (in numeric order when they are numbers), never a continuous axis."""
    keys = configuration_keys(df) or ["runs of"]
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.5 * rows), squeeze=False)
    values = pd.to_numeric(df[metric], errors="coerce") if metric in df else pd.Series(float("nan"), df.index)
    for ax, key in zip(axes.flat, keys, strict=False):
        labels = sorted(set(configs[key]), key=_numeric_first)
        where = {v: i for i, v in enumerate(labels)}
        if key in df:
            ax.plot(
                [where[str(v) if not pd.isna(v) else "(not set)"] for v in df[key]], values, ".", alpha=0.4
            )
        if metric in configs:
            x = [where[v] for v in configs[key]]
            ax.errorbar(x, configs[metric], yerr=configs[f"{metric} std"].fillna(0), fmt="o", capsize=4)
        ax.set_xticks(
            range(len(labels)), [str(v)[-25:] for v in labels], rotation=30 if len(labels) > 4 else 0
        )
        ax.set_xlabel(key)
        ax.set_ylabel(f"{metric} (mean ± std over seeds and folds)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _numeric_first(value: str) -> tuple:
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)
