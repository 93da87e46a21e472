"""The docs' results, generated from run records, never typed in.

    python -m lstm_imdb.tools.results                    # read the runs of conf/results.yaml, write the docs
    python -m lstm_imdb.tools.results --run keras_tutorial   # run that row's command first (or --run all)
    python -m lstm_imdb.tools.results --check            # fail if the docs differ from what the records give

For each row of conf/results.yaml it reads the run folders (test_metrics.json, environment.json,
.hydra/config.yaml) and shows mean ± standard deviation over the seeds, with the command, the commits,
dates and machine that produced them. It writes docs/results.md (every row, and every run), the
headline rows of README.md (between `<!-- results:start -->` and `<!-- results:end -->`) and, from the
`make bench-keras` record, docs/performance.md and the README's performance lines (between
`<!-- performance:start -->` and `<!-- performance:end -->`). What they are made from is kept in
docs/records.json: rows without run folders here (a fresh clone) are taken from it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from lstm_imdb.tools.results.markdown import (
    headline_markdown,
    performance_markdown,
    replace_block,
    results_markdown,
)
from lstm_imdb.tools.results.records import (
    RECORDS,
    ResultsError,
    collect,
    commands,
    from_snapshot,
    keras_row,
    load_spec,
    read_bench,
    read_records,
    snapshot,
)
from lstm_imdb.utils.paths import project_root


def generate(root: Path, spec: dict | None = None) -> dict[str, str]:
    """The generated files' new texts, by path relative to root."""
    spec = spec or load_spec()
    kept = read_records(root / RECORDS)
    rows, bench = from_snapshot(collect(spec, root), read_bench(spec, root), kept)
    keras = keras_row(spec, bench)
    body = results_markdown(spec, rows, keras)
    results_doc = root / "docs" / "results.md"
    if results_doc.is_file() and "<!-- results:start -->" in results_doc.read_text():
        out = {"docs/results.md": replace_block(results_doc.read_text(), "results", body)}
    else:
        out = {"docs/results.md": f"# Results\n\n<!-- results:start -->\n{body}\n<!-- results:end -->\n"}
    readme = (root / "README.md").read_text()
    readme = replace_block(readme, "results", headline_markdown(spec, rows, keras))
    performance = root / "docs" / "performance.md"
    if bench:
        tables, lines = performance_markdown(spec, bench)
        readme = replace_block(readme, "performance", lines)
        if performance.is_file():
            out["docs/performance.md"] = replace_block(performance.read_text(), "bench", tables)
    out["README.md"] = readme
    out[RECORDS] = json.dumps(snapshot(rows, bench), indent=1) + "\n"
    return out


def run_commands(spec: dict, names: list[str], root: Path) -> None:
    items = {**spec["rows"], "bench": spec["bench"]}
    chosen = list(items) if names == ["all"] else names
    unknown = [n for n in chosen if n not in items]
    if unknown:
        raise ResultsError(f"--run {', '.join(unknown)}: not in conf/results.yaml ({', '.join(items)}, all)")
    done = set()
    for name in chosen:
        for command in commands(items[name]):
            if command in done:  # best_single and best come from one command; rows share a pretraining
                continue
            done.add(command)
            print(f"[results] {name}: {command}", flush=True)
            argv = shlex.split(command)
            if argv[0] == "python":
                argv[0] = sys.executable
            subprocess.run(argv, cwd=root, check=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", nargs="+", default=[], metavar="NAME", help="run these rows' commands first")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if the docs are out of date")
    p.add_argument("--root", type=Path, default=None, help="project root (default: this checkout)")
    args = p.parse_args(argv)
    root = (args.root or project_root()).resolve()
    spec = load_spec()
    try:
        if args.run:
            run_commands(spec, args.run, root)
        texts = generate(root, spec)
    except ResultsError as err:
        raise SystemExit(f"error: {err}") from None
    stale = [
        path
        for path, text in texts.items()
        if not (root / path).is_file() or (root / path).read_text() != text
    ]
    if args.check:
        for path in stale:
            print(f"out of date: {path} (run `python -m lstm_imdb.tools.results`)")
        return 1 if stale else 0
    for path in stale:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(texts[path])
        print(f"wrote {path}")
    if not stale:
        print("docs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
