"""One table for many runs: a sweep folder, or any list of run folders.

    python -m lstm_imdb.summarize logs/train/multiruns/<timestamp>
    python -m lstm_imdb.summarize logs/train/runs/<a> logs/train/runs/<b> --metric test/acc

Prints and writes two tables: one row per configuration (the runs that differ only in their seed or
validation fold, `data.val_fold`: the mean ± std over them, best first) and one row per run. Writes `summary.csv` (runs), `configurations.csv`,
`summary.md` (both) and `summary.png` (each configuration against each swept key) into the first folder
given, or into `--out`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from lstm_imdb.cli import files_only_plots
from lstm_imdb.runs.summary import configurations, mean_std_table, summarize


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
    files_only_plots()
    try:
        df = summarize(args.folders, args.metric, args.out)
    except FileNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(f"Configurations (mean ± std over seeds and folds), best {args.metric} first:")
        print(mean_std_table(configurations(df, args.metric)).to_string(index=False))
        print(f"\nRuns, best {args.metric} first:")
        print(df.drop(columns=["run"]).to_string(index=False))
    where = args.out or args.folders[0]
    print(f"\nWrote summary.csv, configurations.csv, summary.md and summary.png to {where}")


if __name__ == "__main__":
    main()
