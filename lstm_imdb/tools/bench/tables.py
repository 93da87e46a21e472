"""The bench record's tables, built once and rendered twice: to the terminal (`make bench`) and to
markdown (docs/performance.md, by `python -m lstm_imdb.tools.results`)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    intro: str = ""


def after_epoch_2(values: list[float]) -> float:
    return values[min(1, len(values) - 1)]


def real_path_table(real: dict, keras: dict | None) -> Table:
    """The run users make, beside the seed's Keras code when the record has it."""
    ours_epoch = statistics.mean(real["epoch_s"])
    rows = [
        ["whole process, s", f"{real['process_s']:.1f}"],
        ["epoch (training + validation), mean s", f"{ours_epoch:.1f}"],
        ["each epoch, s", " ".join(f"{x:.1f}" for x in real["epoch_s"])],
        ["val acc after epoch 2", f"{after_epoch_2(real['val_acc']):.4f}"],
        ["test acc", f"{real['test_acc']:.4f}"],
        ["process start to first batch, s", f"{real['process_to_first_batch_s']:.1f}"],
        ["test phase (test + rotten_tomatoes), s", f"{real['test_s']:.1f}"],
    ]
    header = ["figure", "lstm_imdb"]
    if keras:
        k_epoch = statistics.mean(keras["epoch_s"])
        header += [f"Keras ({keras['versions']})", "Keras / lstm_imdb"]
        theirs = [
            [f"{keras['process_s']:.1f}", f"{keras['process_s'] / real['process_s']:.2f}"],
            [f"{k_epoch:.1f}", f"{k_epoch / ours_epoch:.2f}"],
            [" ".join(f"{x:.1f}" for x in keras["epoch_s"]), ""],
            [f"{after_epoch_2(keras['val_acc']):.4f}", ""],
            [f"{keras['test_acc']:.4f}", ""],
            [f"{keras['time']['import_s'] + keras['time']['prepare_s']:.1f} (import + tokenize)", ""],
            [f"{keras['time']['test_s']:.1f} (test)", ""],
        ]
        rows = [r + e for r, e in zip(rows, theirs, strict=True)]
        if "reach_keras_best" in real:
            rows.append(reach_row(real, keras))
    return Table(f"The run users make: `{real['command']}`", header, rows)


def _reached(side: dict) -> str:
    run = side["reach_keras_best"]["run"]
    return (
        f"{run['process_s']:.1f} ({run['epochs']} epochs)" if run else f"not in {len(side['epoch_s'])} epochs"
    )


def reach_row(real: dict, keras: dict) -> list[str]:
    """Whole-process seconds for each side to reach the Keras code's best test accuracy of the session."""
    ours, theirs = real["reach_keras_best"]["run"], keras["reach_keras_best"]["run"]
    ratio = f"{theirs['process_s'] / ours['process_s']:.2f}" if ours and theirs else ""
    target = keras["reach_keras_best"]["target"]
    return [
        f"whole process to reach test acc {target:.4f} (Keras's best), s",
        _reached(real),
        _reached(keras),
        ratio,
    ]


def curves_table(real: dict, keras: dict | None) -> Table:
    """Per epoch k, what a run stopped there gives: val acc, the test acc it reports, its whole process."""
    header = ["epochs", "lstm_imdb val acc", "test acc", "whole process, s"]
    if keras:
        header += ["Keras val acc", "test acc", "whole process, s", "Keras / lstm_imdb"]
    rows = []
    for k, run in enumerate(real["stopped"]):
        row = [str(k + 1), f"{real['val_acc'][k]:.4f}", f"{run['test_acc']:.4f}", f"{run['process_s']:.1f}"]
        if keras:
            theirs = keras["stopped"][k] if k < len(keras["stopped"]) else None
            row += (
                [
                    f"{keras['val_acc'][k]:.4f}",
                    f"{theirs['test_acc']:.4f}",
                    f"{theirs['process_s']:.1f}",
                    f"{theirs['process_s'] / run['process_s']:.2f}",
                ]
                if theirs
                else ["", "", "", ""]
            )
        rows.append(row)
    seeds = f"seed {real['seed']}" + (f", Keras seed {keras['seed']}" if keras else "")
    return Table(
        f"Learning curves and time to accuracy ({seeds})",
        header,
        rows,
        intro="A run stopped after k epochs: this project tests its best checkpoint by val acc so far, the "
        "Keras code the weights after epoch k; whole process = the timed process less the epochs after k "
        "(and less Keras's per-epoch test scoring, timed apart). Test accuracies from each epoch's weights.",
    )


def two_processes_table(real: dict, two: dict) -> Table:
    """One process with two threads (the default) against two single-threaded DDP processes."""
    n = len(two["epoch_s"])
    one_epoch = statistics.mean(real["epoch_s"][:n])
    two_epoch = statistics.mean(two["epoch_s"])
    return Table(
        f"Both cores: one process, two threads (the default) or two processes, one thread each (first {n} epochs)",
        ["run", "epoch, mean s", "val acc after each epoch", "one process / this"],
        [
            [
                "one process, 2 threads, batch 128",
                f"{one_epoch:.1f}",
                " ".join(f"{a:.4f}" for a in real["val_acc"][:n]),
                "1.00",
            ],
            [
                f"`{two['command']}`",
                f"{two_epoch:.1f}",
                " ".join(f"{a:.4f}" for a in two["val_acc"]),
                f"{one_epoch / two_epoch:.2f}",
            ],
        ],
    )


def callbacks_table(real: dict) -> Table:
    epoch = statistics.mean(real["epoch_s"])
    return Table(
        "What each callback costs per epoch (Lightning's profiler, every hook summed)",
        ["callback", "s per epoch", "share of an epoch"],
        [[k, f"{v:.3f}", f"{v / epoch:.1%}"] for k, v in real["callbacks_s_per_epoch"].items()],
    )


def floor_table(report: dict) -> Table:
    fl, fo, real = report["flops"], report["floor"], report.get("real_path")
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
        ratio = statistics.mean(real["epoch_s"]) / fo["epoch_s"]
        rows.insert(1, ["the run's epoch / the bare loop's", f"{ratio:.2f}"])
        rows.insert(
            5, ["achieved by the run (epoch incl. validation), GFLOP/s", f"{fl['run_gflops_per_s']:.0f}"]
        )
    return Table("The floor and the arithmetic (tutorial model, one epoch)", ["figure", "value"], rows)


def training_table(report: dict) -> Table:
    args = report["args"]
    return Table(
        f"Training steps by batching mode (tutorial model, {report['train_reviews']} reviews, batch 128, no "
        f"validation; {args['steps']} batches x {args['repeats']} repeats, extrapolated)",
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
            for r in report["train"]
        ],
    )


def allocator_table(rows: list[dict]) -> Table:
    return Table(
        "The allocator (training steps padded to 300, each setting in its own process)",
        ["malloc", "steps", "wall s", "user s", "system s"],
        [
            [r["malloc"], str(r["steps"]), f"{r['wall_s']:.1f}", f"{r['user_s']:.1f}", f"{r['sys_s']:.1f}"]
            for r in rows
        ],
    )


def padding_free_table(rows: list[dict]) -> Table:
    return Table(
        "Cost of the padding-free recurrence (training steps, bucketed batches, plain loop)",
        ["model", "padding-free s/step", "over padding s/step", "ratio"],
        [
            [
                r["model"],
                f"{r['padding_free_step_s']:.4f}",
                f"{r['over_padding_step_s']:.4f}",
                f"{r['cost']:.3f}",
            ]
            for r in rows
        ],
    )


def eval_table(rows: list[dict]) -> Table:
    return Table(
        "Evaluation (forward passes over test reviews, inference mode)",
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
            for r in rows
        ],
    )


def data_table(data: dict) -> Table:
    return Table(
        "Data preparation and tokenizing",
        ["figure", "value"],
        [[k, f"{v:.3f}" if isinstance(v, float) else str(v)] for k, v in data.items()],
    )


def bench_tables(report: dict) -> list[Table]:
    """Every table of a bench record, in the order both renderings show them."""
    real, tables = report.get("real_path"), []
    if real:
        tables += [real_path_table(real, report.get("keras"))]
        if "stopped" in real:
            tables.append(curves_table(real, report.get("keras")))
        if report.get("two_processes"):
            tables.append(two_processes_table(real, report["two_processes"]))
        tables.append(callbacks_table(real))
    if "floor" in report:
        tables.append(floor_table(report))
    tables.append(training_table(report))
    if report.get("allocator"):
        tables.append(allocator_table(report["allocator"]))
    tables += [padding_free_table(report["padding_free"]), eval_table(report["eval"])]
    if report.get("data"):
        tables.append(data_table(report["data"]))
    return tables


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in rows])


def to_markdown(tables: list[Table]) -> str:
    parts = []
    for t in tables:
        parts += [
            f"### {t.title}",
            "",
            *([t.intro, ""] if t.intro else []),
            markdown_table(t.header, t.rows),
            "",
        ]
    return "\n".join(parts)


def print_tables(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(width=150)
    console.print(f"[bold]lstm_imdb benchmark[/] on {report['machine']}, precision {report['precision']}")
    for t in bench_tables(report):
        rich = RichTable(*t.header, title=t.title)
        for row in t.rows:
            rich.add_row(*row)
        console.print(rich)
