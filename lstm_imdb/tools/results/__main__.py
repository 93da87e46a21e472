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
import glob
import json
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lstm_imdb.utils.paths import CONFIG_DIR, project_root

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


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@dataclass
class Run:
    """One run folder's figures and provenance."""

    folder: Path
    metrics: dict
    env: dict
    seed: int | None = None

    @classmethod
    def read(cls, folder: Path) -> Run | None:
        metrics = _json(folder / "test_metrics.json")
        if "test/acc" not in metrics:
            return None  # unfinished or failed
        config = folder / ".hydra" / "config.yaml"
        seed = (yaml.safe_load(config.read_text()) or {}).get("seed") if config.is_file() else None
        env = _json(folder / "environment.json")
        if not env and metrics.get("checkpoints"):  # an ensemble: its members say where it comes from
            env = _json(Path(metrics["checkpoints"][0]).parent.parent / "environment.json")
        metrics = dict(metrics)
        if "val/acc_best" in metrics:  # the figure that chose the tested checkpoint
            metrics["val"] = metrics["val/acc_best"]
        elif "val/acc" in metrics:  # an ensemble scored on the shared validation split
            metrics["val"] = metrics["val/acc"]
        elif metrics.get("val_acc_by_C"):  # the baseline: its best C on validation
            metrics["val"] = max(metrics["val_acc_by_C"].values())
        return cls(folder, metrics, env, seed)


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
        values = self.values(key)
        digits = 1 if key.startswith("time/") else 4
        if not values:
            return ""
        if len(values) == 1:
            return f"{values[0]:.{digits}f}"
        return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"

    def seeds(self) -> str:
        if self.ensemble:
            return f"{len(self.runs[0].metrics.get('checkpoints', []))} members"
        seeds = [str(r.seed) for r in self.runs if r.seed is not None]
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
    bench = _json(root / spec["bench"]["file"])
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


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def summary_table(rows: list[Row], metric_names: list[str], with_provenance: bool = True) -> str:
    provenance = ["precision", "commit", "date", "machine"]
    header = ["result", "seeds", *metric_names] + (provenance if with_provenance else [])
    body = []
    for row in rows:
        cells = [row.title, row.seeds(), *(row.cell(METRICS[m]) for m in metric_names)]
        if with_provenance:
            prov = row.provenance()
            cells += [prov[k] for k in provenance]
        body.append(cells)
    return _table(header, body)


def runs_table(row: Row) -> str:
    header = ["run folder", "seed", "val acc", "test acc", "test acc (dedup)", "rotten_tomatoes acc"]
    header += ["epochs", "s/epoch", "commit", "date"]
    body = []
    for r in row.runs:
        m = r.metrics

        def f(key, digits=4, m=m):
            return f"{m[key]:.{digits}f}" if isinstance(m.get(key), (int, float)) else ""

        body.append(
            [
                f"`{r.folder}`",
                str(r.seed if r.seed is not None else "-"),
                f("val"),
                f("test/acc"),
                f("test_dedup/acc"),
                f("rotten_tomatoes/acc"),
                str(m.get("epochs", "")),
                f("time/epoch_s", 1),
                (r.env.get("git_commit") or "?")[:7] + ("+" if r.env.get("git_dirty") else ""),
                r.env.get("date", "?"),
            ]
        )
    return _table(header, body)


def results_markdown(spec: dict, rows: dict[str, Row], keras: Row | None) -> str:
    shown = ([keras] if keras else []) + [r for r in rows.values() if r.runs]
    missing = [r for r in rows.values() if not r.runs]
    parts = [
        "Generated by `python -m lstm_imdb.tools.results` from the run folders named in `conf/results.yaml` (their "
        "figures and provenance are kept in `docs/records.json`, so a fresh clone regenerates the same docs, "
        "and a row you rerun replaces its records); do not edit by hand. Mean ± standard deviation over seeds; *val acc* is the validation accuracy that chose "
        "the tested checkpoint (every choice is made on validation, test is reported after); *test acc "
        "(dedup)* leaves out the 123 test reviews whose text also occurs in train; *s/epoch* includes "
        "validation. Runs repeat exactly on one machine, not across machines: judge your own run against the "
        "spread.",
        "",
        summary_table([r for r in shown if not r.table], list(METRICS)),
        "",
    ]
    for table in dict.fromkeys(r.table for r in shown if r.table):
        intro = spec.get("tables", {}).get(table, "")
        parts += [f"## {table.capitalize()}", "", *([intro, ""] if intro else [])]
        parts += [summary_table([r for r in shown if r.table == table], list(METRICS)), ""]
    parts += ["## Commands", ""]
    parts += [f"- {row.title}: `{row.command}`" for row in shown]
    for row in rows.values():
        if row.runs and not row.ensemble:
            parts += ["", f"## {row.title}: each run", "", f"`{row.command}`", "", runs_table(row)]
    if missing:
        parts += ["", "## Not yet run", ""]
        parts += [f"- {row.title}: `{row.command}`" for row in missing]
    return "\n".join(parts) + "\n"


def headline_markdown(spec: dict, rows: dict[str, Row], keras: Row | None) -> str:
    everything = {**rows, **({"keras": keras} if keras else {})}
    shown = [everything[n] for n in spec.get("headline", []) if n in everything and everything[n].runs]
    commits = sorted({c for r in shown for c in r.provenance()["commit"].split(", ")})
    machines = sorted({r.provenance()["machine"] for r in shown})
    return (
        summary_table(shown, HEADLINE_METRICS, with_provenance=False)
        + f"\n\nFrom the run records of commit{'s' if len(commits) > 1 else ''} {', '.join(commits)} on "
        f"{'; '.join(machines)}; the commands, every metric, the precision and every run in "
        "[docs/results.md](docs/results.md)."
    )


def as_typed(command: str) -> str:
    """The bench's train command as a user types it: without the data location and source the bench
    passes on, and without `trainer.max_epochs=5`, the experiment's own."""
    dropped = ("paths.data_dir=", "data.source=", "data.num_words=5000", "trainer.max_epochs=5")
    return " ".join(w for w in command.split() if not w.startswith(dropped))


def performance_markdown(spec: dict, bench: dict) -> tuple[str, str]:
    """docs/performance.md's generated tables and the README's performance lines, from a bench record."""
    env = bench.get("environment", {})
    where = (
        f"{machine(env)}, torch {env.get('torch', '?')}, commit {(env.get('git_commit') or '?')[:7]}, "
        + (f"{env.get('date', '?')}")
    )
    real, keras, lines = bench.get("real_path"), bench.get("keras"), []
    if real:
        real = {**real, "command": as_typed(real["command"])}
    parts = [f"Measured by `{spec['bench']['command']}` on {where}.", ""]
    if real:
        ours_epoch = statistics.mean(real["epoch_s"])
        rows = [
            ["whole process, s", f"{real['process_s']:.1f}"],
            ["epoch (training + validation), mean s", f"{ours_epoch:.1f}"],
            ["each epoch, s", " ".join(f"{x:.1f}" for x in real["epoch_s"])],
            ["val acc after epoch 2", f"{real['val_acc'][min(1, len(real['val_acc']) - 1)]:.4f}"],
            ["test acc", f"{real['test_acc']:.4f}"],
            ["process start to first batch, s", f"{real['process_to_first_batch_s']:.1f}"],
            ["test phase (test + rotten_tomatoes), s", f"{real['test_s']:.1f}"],
        ]
        header = ["figure", "lstm_imdb"]
        if keras:
            k_epoch = statistics.mean(keras["epoch_s"])
            header += [f"Keras ({keras['versions']})", "Keras / lstm_imdb"]
            extra = [
                [f"{keras['process_s']:.1f}", f"{keras['process_s'] / real['process_s']:.2f}"],
                [f"{k_epoch:.1f}", f"{k_epoch / ours_epoch:.2f}"],
                [" ".join(f"{x:.1f}" for x in keras["epoch_s"]), ""],
                [f"{keras['val_acc'][min(1, len(keras['val_acc']) - 1)]:.4f}", ""],
                [f"{keras['test_acc']:.4f}", ""],
                [f"{keras['time']['import_s'] + keras['time']['prepare_s']:.1f} (import + tokenize)", ""],
                [f"{keras['time']['test_s']:.1f} (test)", ""],
            ]
            rows = [r + e for r, e in zip(rows, extra, strict=True)]
            lines.append(
                f"- `{real['command']}` against the seed's Keras code, same machine and session: "
                f"**{keras['process_s'] / real['process_s']:.1f}x faster as a whole process** "
                f"({real['process_s']:.0f} s against {keras['process_s']:.0f} s), "
                f"**{k_epoch / ours_epoch:.1f}x per epoch** ({ours_epoch:.1f} s against {k_epoch:.1f} s), "
                f"test accuracy {real['test_acc']:.4f} against {keras['test_acc']:.4f}."
            )
        parts += [f"### The run users make: `{real['command']}`", "", _table(header, rows), ""]
        cb = real["callbacks_s_per_epoch"]
        parts += [
            "What each callback costs per epoch (Lightning's profiler, every hook summed):",
            "",
            _table(
                ["callback", "s per epoch", "share of an epoch"],
                [[k, f"{v:.3f}", f"{v / ours_epoch:.1%}"] for k, v in cb.items()],
            ),
            "",
        ]
    if "floor" in bench:
        fl, fo = bench["flops"], bench["floor"]
        rows = [
            [
                "bare loop: one epoch of the same training batches, forward + backward + Adam only, s",
                f"{fo['epoch_s']:.1f}",
            ],
            ["FLOPs of the recurrence per review-step (forward)", f"{fl['flops_per_review_step']:,}"],
            [
                "GFLOP per epoch (training x3 + validation, padding steps of the batches included)",
                f"{fl['epoch_gflop']:.0f}",
            ],
            ["achieved by the bare loop, GFLOP/s", f"{fl['floor_gflops_per_s']:.0f}"],
            [
                "machine: 2048 x 2048 matrix product fp32 / bf16, GFLOP/s",
                f"{fl['matmul_fp32_gflops_per_s']:.0f} / {fl['matmul_bf16_gflops_per_s']:.0f}",
            ],
        ]
        if real:
            rows.insert(
                1,
                [
                    "the run's epoch / the bare loop's",
                    f"{statistics.mean(real['epoch_s']) / fo['epoch_s']:.2f}",
                ],
            )
            rows.insert(
                5, ["achieved by the run (epoch incl. validation), GFLOP/s", f"{fl['run_gflops_per_s']:.0f}"]
            )
        parts += [
            "### The floor and the arithmetic (tutorial model, one epoch)",
            "",
            _table(["figure", "value"], rows),
            "",
        ]
    parts += [
        f"### Training steps by batching mode (tutorial model, {bench['train_reviews']} reviews, batch 128, no validation; "
        f"{bench['args']['steps']} batches x {bench['args']['repeats']} repeats, extrapolated)",
        "",
        _table(
            ["batching", "path", "samples/s", "s/epoch", "Lightning / plain", "tokens per review"],
            [
                [
                    r["mode"],
                    r["path"],
                    f"{r['samples_per_s']:,.0f}",
                    f"{r['epoch_s']:.1f}",
                    f"{r['lightning_over_plain']:.3f}" if r.get("lightning_over_plain") else "",
                    f"{r['mean_tokens']:.0f}",
                ]
                for r in bench["train"]
            ],
        ),
        "",
    ]
    if bench.get("allocator"):
        parts += [
            "### The allocator (training steps padded to 300, each setting in its own process)",
            "",
            _table(
                ["malloc", "steps", "wall s", "user s", "system s"],
                [
                    [
                        r["malloc"],
                        str(r["steps"]),
                        f"{r['wall_s']:.1f}",
                        f"{r['user_s']:.1f}",
                        f"{r['sys_s']:.1f}",
                    ]
                    for r in bench["allocator"]
                ],
            ),
            "",
        ]
        tuned, system = bench["allocator"]
        lines.append(
            f"- The allocator setting that every entry point gets: {tuned['wall_s']:.1f} s for {tuned['steps']} "
            f"padded training steps against {system['wall_s']:.1f} s with glibc's defaults "
            f"({tuned['sys_s']:.1f} s against {system['sys_s']:.1f} s in the kernel)."
        )
    parts += [
        "### Cost of the padding-free recurrence (training steps, bucketed batches, plain loop)",
        "",
        _table(
            ["model", "padding-free s/step", "over padding s/step", "ratio"],
            [
                [
                    r["model"],
                    f"{r['padding_free_step_s']:.4f}",
                    f"{r['over_padding_step_s']:.4f}",
                    f"{r['cost']:.3f}",
                ]
                for r in bench["padding_free"]
            ],
        ),
        "",
        "### Evaluation (forward passes over test reviews, inference mode)",
        "",
        _table(
            ["model", "batching", "precision", "device", "batch", "reviews/s"],
            [
                [
                    r["model"],
                    r["mode"],
                    r["precision"],
                    r["device"],
                    str(r["batch"]),
                    f"{r['reviews_per_s']:,.0f}",
                ]
                for r in bench["eval"]
            ],
        ),
        "",
    ]
    best_eval = {}
    for r in bench["eval"]:
        if r["mode"].startswith("bucketed"):
            best_eval[r["model"]] = max(best_eval.get(r["model"], 0), r["reviews_per_s"])
    if best_eval:
        lines.append(
            "- Evaluation: "
            + ", ".join(f"{m} {v:,.0f} reviews/s" for m, v in best_eval.items())
            + f" ({bench['precision']} where faster, sorted by length)."
        )
    lines.append(f"- {where}; every table in [docs/performance.md](docs/performance.md).")
    return "\n".join(parts), "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise ResultsError(f"markers {start} ... {end} not found")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


RECORDS = "docs/records.json"
ENV_KEPT = (
    "git_commit",
    "git_dirty",
    "date",
    "argv",
    "cpu",
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
