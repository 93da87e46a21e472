"""The report a run leaves behind: `test_metrics.json`, classification reports, and PNG figures
(confusion matrix, ROC curves, training curves), also sent to TensorBoard as images."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from lightning.pytorch.utilities import rank_zero_only
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    RocCurveDisplay,
    accuracy_score,
    classification_report,
    f1_score,
    log_loss,
    roc_auc_score,
)

from lstm_imdb.runs.folder import REPORT, TEST_METRICS
from lstm_imdb.utils.decision import LABELS, predicted_labels

log = logging.getLogger(__name__)

# `<split>_dedup`: the split without its reviews that occur word for word in IMDB's train split.
DEDUP_SUFFIX = "_dedup"


def split_metrics(name: str, probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """acc, f1, auroc and loss of one split's predictions (the same rule as the logged metrics)."""
    predicted = predicted_labels(probs)
    metrics = {
        f"{name}/acc": float(accuracy_score(labels, predicted)),
        f"{name}/f1": float(f1_score(labels, predicted, zero_division=0)),
        f"{name}/loss": float(log_loss(labels, np.clip(probs, 1e-7, 1 - 1e-7), labels=[0, 1])),
    }
    if len(np.unique(labels)) == 2:
        metrics[f"{name}/auroc"] = float(roc_auc_score(labels, probs))
    return metrics


def deduplicated_metrics(
    predictions: dict[str, tuple[np.ndarray, np.ndarray]],
    seen_in_train: dict[str, np.ndarray],
    rows: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Metrics of each split without its reviews that also occur in train (`test_dedup/acc`, ...), and
    how many were left out (`test_dedup/removed`). `rows[split]`: the split's rows the predictions are for
    (default: all of them, in order; fewer when test batches were limited)."""
    metrics = {}
    for name, seen in seen_in_train.items():
        if name not in predictions:
            continue
        probs, labels = predictions[name]
        keep = ~np.asarray(seen, dtype=bool)
        if rows is not None and name in rows:
            keep = keep[rows[name]]
        metrics.update(split_metrics(f"{name}{DEDUP_SUFFIX}", probs[keep], labels[keep]))
        metrics[f"{name}{DEDUP_SUFFIX}/removed"] = int((~keep).sum())
    return metrics


def confusion_matrix_figure(probs: np.ndarray, labels: np.ndarray, title: str):
    """Counts and, under each, the share of its true class (each row's rates sum to 100%)."""
    fig, ax = plt.subplots(figsize=(4.5, 4))
    display = ConfusionMatrixDisplay.from_predictions(
        labels,
        predicted_labels(probs),
        display_labels=list(LABELS),
        ax=ax,
        cmap="Blues",
        colorbar=False,
        values_format="d",
    )
    counts = display.confusion_matrix
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    for (i, j), text in np.ndenumerate(display.text_):
        text.set_text(f"{counts[i, j]:,}\n{rates[i, j]:.1%}")
    ax.set_title(f"{title}\n(count, and share of the true class)")
    fig.tight_layout()
    return fig


def roc_figure(predictions: dict[str, tuple[np.ndarray, np.ndarray]]):
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for name, (probs, labels) in predictions.items():
        RocCurveDisplay.from_predictions(labels, probs, name=name, ax=ax)
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_title("ROC curve")
    fig.tight_layout()
    return fig


def tested_epoch(history: list[dict]) -> int | None:
    """The epoch whose checkpoint is tested: the first with the best validation accuracy (the checkpoint
    callback keeps a new best only when it is strictly better)."""
    scored = [(r["val/acc"], -r["epoch"]) for r in history if r.get("val/acc") is not None]
    return -max(scored)[1] if scored else None


def training_curves_figure(history: list[dict]):
    """Train vs validation loss and accuracy per epoch (the tutorial's Figure 2), epochs numbered as the
    logs number them (from 0), one tick per epoch, and the tested epoch marked."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [r["epoch"] for r in history]
    tested = tested_epoch(history)
    for ax, metric in zip(axes, ("loss", "acc"), strict=True):
        for split, style in (("train", "o-"), ("val", "s--")):
            ys = [r.get(f"{split}/{metric}", np.nan) for r in history]
            ax.plot(epochs, ys, style, label=split)
        if tested is not None:
            ax.axvline(tested, color="gray", ls=":", label=f"tested (epoch {tested}: best val/acc)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{'Loss' if metric == 'loss' else 'Accuracy'} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


@rank_zero_only  # under DDP every rank holds all predictions (gathered); rank 0 writes them, once
def write_report(
    out_dir: str | Path,
    metrics: dict[str, float],
    predictions: dict[str, tuple[np.ndarray, np.ndarray]],
    history: list[dict] | None = None,
    tb_writer=None,
    extra: dict | None = None,
) -> Path:
    """Write the report files into `out_dir` (metrics JSON at its top, the rest in `report/`)."""
    out_dir = Path(out_dir)
    report_dir = out_dir / REPORT
    report_dir.mkdir(parents=True, exist_ok=True)
    payload = {k: float(v) for k, v in sorted(metrics.items())}
    (out_dir / TEST_METRICS).write_text(json.dumps({**payload, **(extra or {})}, indent=2))

    texts = []
    for name, (probs, labels) in predictions.items():
        text = classification_report(
            labels, predicted_labels(probs), target_names=list(LABELS), digits=4, zero_division=0
        )
        texts.append(f"== {name} ({len(labels)} reviews)\n{text}")
    (report_dir / "classification_report.txt").write_text("\n".join(texts))

    figures = {}
    if "test" in predictions:
        figures["confusion_matrix"] = confusion_matrix_figure(
            *predictions["test"], title="Test confusion matrix"
        )
    if predictions:
        figures["roc_curve"] = roc_figure(predictions)
    if history:
        figures["training_curves"] = training_curves_figure(history)
    for name, fig in figures.items():
        fig.savefig(report_dir / f"{name}.png", dpi=110)
        if tb_writer is not None:
            # `~report`: after the curves in TensorBoard's first page, which opens its first two groups by name
            tb_writer.add_figure(f"~report/{name}", fig)
        plt.close(fig)
    return out_dir / TEST_METRICS


def finish_run(
    out_dir: str | Path,
    metrics: dict[str, float],
    predictions: dict[str, tuple[np.ndarray, np.ndarray]],
    seen_in_train: dict[str, np.ndarray],
    *,
    rows: dict[str, np.ndarray] | None = None,
    reported: tuple[str, ...] | None = None,
    history: list[dict] | None = None,
    tb_writer=None,
    extra: dict | None = None,
) -> dict[str, float]:
    """The end that train, evaluate and the baseline share: the metrics again without the test reviews
    that also occur in train, the report (test_metrics.json with `extra`, figures), and a summary in the
    log. `reported`: the splits whose metrics go into the report (default: all). Returns the metrics with
    the deduplicated ones added."""
    metrics = {**metrics, **deduplicated_metrics(predictions, seen_in_train, rows)}
    shown = {
        k: v
        for k, v in metrics.items()
        if reported is None or k.split("/")[0].removesuffix(DEDUP_SUFFIX) in reported
    }
    write_report(out_dir, shown, predictions, history, tb_writer, extra=extra)
    _log_summary(out_dir, metrics)
    return metrics


@rank_zero_only
def _log_summary(out_dir: str | Path, metrics: dict[str, float]) -> None:
    log.info("Report: %s", out_dir)
    for line in summary_lines(metrics):
        log.info(line)


def summary_lines(metrics: dict[str, float]) -> list[str]:
    """A short human summary: one line per split with acc / F1 / AUROC / loss."""
    lines = []
    for split in sorted({k.split("/")[0] for k in metrics}):
        parts = [
            f"{m} {metrics[f'{split}/{m}']:.4f}"
            for m in ("acc", "f1", "auroc", "loss")
            if f"{split}/{m}" in metrics
        ]
        if parts:
            lines.append(f"{split:>16}: " + "  ".join(parts))
    return lines
