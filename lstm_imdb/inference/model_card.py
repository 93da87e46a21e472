"""The model card of an export (its README.md, in the Hugging Face hub's format): what the model is, how
to score text with the exported files alone, the data and splits, the metrics of the runs it comes from
(with their seeds, from their `test_metrics.json`), intended use and limits."""

from __future__ import annotations

from pathlib import Path

from lstm_imdb.data.sources import FINGERPRINTS
from lstm_imdb.runs.folder import CHECKPOINTS, TEST_METRICS, RunFolder, read_json
from lstm_imdb.runs.summary import mean_std

# column title -> key in a run's test_metrics.json
COLUMNS = {
    "val acc": "val/acc_best",
    "test acc": "test/acc",
    "test acc (dedup)": "test_dedup/acc",
    "test F1": "test/f1",
    "test AUROC": "test/auroc",
    "rotten_tomatoes acc": "rotten_tomatoes/acc",
}

# Scoring with the exported files alone: tokenizers, numpy, onnxruntime (and scikit-learn for a wide part).
# tests/e2e/test_export.py runs this, as the card prints it, with lstm_imdb made unimportable.
USAGE = '''\
import json

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

config = json.load(open("config.json"))
data = config["data"]
tokenizer = Tokenizer.from_file("tokenizer.json")
session = ort.InferenceSession("model.onnx")


def token_ids(text):
    ids = tokenizer.encode(text, add_special_tokens=False).ids or [data["unk_id"]]
    n = data["sequence_length"]  # the recurrence reads at most n tokens: the last n, or the first n
    return ids[-n:] if data["truncation_side"] == "left" else ids[:n]


def wide_inputs(texts):
    """The full text's hashed n-grams (a model with a wide part), as EmbeddingBag ids and offsets."""
    from sklearn.feature_extraction.text import HashingVectorizer

    w = data["wide"]
    hashed = HashingVectorizer(
        ngram_range=(1, w["order"]),
        n_features=w["buckets"],
        token_pattern=w["token_pattern"],
        preprocessor=lambda t: t.replace("<br />", " ").replace("<br/>", " ").lower(),
        binary=True,
        alternate_sign=False,
        norm=None,
    ).transform(texts)
    return {"wide_ids": hashed.indices.astype(np.int64), "wide_offsets": hashed.indptr[:-1].astype(np.int64)}


def prob_positive(texts):
    rows = [token_ids(t) for t in texts]
    input_ids = np.full((len(rows), max(map(len, rows))), data["pad_id"], dtype=np.int64)
    for i, ids in enumerate(rows):  # padding on either side, to any length: the scores stay the same
        input_ids[i, : len(ids)] = ids
    feeds = {"input_ids": input_ids, **(wide_inputs(texts) if data["wide"] else {})}
    return session.run(None, feeds)[0]


print(prob_positive(["A wonderful, moving film. I didn't expect it!", "Dull, 'boring' & far too long."]))
'''


def run_of(ckpt: Path) -> RunFolder:
    """The run folder a checkpoint belongs to (<run>/checkpoints/x.ckpt)."""
    ckpt = Path(ckpt).resolve()
    return RunFolder(ckpt.parent.parent if ckpt.parent.name == CHECKPOINTS else ckpt.parent)


def member_rows(paths: list[Path]) -> list[dict]:
    """Each checkpoint's run, seed and recorded test metrics (empty when its run left none)."""
    rows = []
    for path in paths:
        run = run_of(path)
        rows.append({"run": run.path.name, "seed": run.seed, "metrics": run.metrics()})
    return rows


def ensemble_record(paths: list[Path]) -> dict:
    """The metrics of `experiment=best`'s test of exactly these checkpoints together (the sweep's
    `ensemble/` report), or {} when there is none."""
    runs = {run_of(p).path for p in paths}
    sweeps = {r.parent for r in runs}
    if len(paths) < 2 or len(sweeps) != 1:
        return {}
    record = read_json(next(iter(sweeps)) / "ensemble" / TEST_METRICS) or {}
    tested = {Path(p).resolve() for p in record.get("checkpoints", [])}
    return record if tested == {Path(p).resolve() for p in paths} else {}


def _figure(values: list) -> str:
    return mean_std([v for v in values if isinstance(v, (int, float))])


def metrics_table(rows: list[dict], ensemble: dict) -> str:
    head = "| model | seed | " + " | ".join(COLUMNS) + " |\n|---|---|" + "---|" * len(COLUMNS) + "\n"
    lines = [
        f"| {r['run']} | {r['seed']} | "
        + " | ".join(_figure([r["metrics"].get(k)]) for k in COLUMNS.values())
        for r in rows
    ]
    if len(rows) > 1:
        seeds = ", ".join(str(r["seed"]) for r in rows)
        cells = " | ".join(_figure([r["metrics"].get(k) for r in rows]) for k in COLUMNS.values())
        lines.append(f"| each member, mean ± std | {seeds} | {cells}")
    if ensemble:
        cells = " | ".join(_figure([ensemble.get(k)]) for k in COLUMNS.values())
        lines.append(f"| **this ensemble** (mean probability) | all | {cells}")
    return head + "\n".join(line + " |" for line in lines)


def _describe(config: dict) -> str:
    m = config["model"]["members"][0]
    cell = ("bidirectional " if m["bidirectional"] else "") + m["cell"].upper()
    parts = [f"{m['num_layers']}-layer {cell} ({m['hidden_size']} units, {m['pooling']} pooling)"]
    if m.get("ngram_order"):
        parts.append(f"a bag of hashed {m['ngram_order']}-grams of its tokens")
    if m.get("wide_buckets"):
        parts.append("an NBSVM over the full text's hashed n-grams (the wide part), blended on validation")
    model = " with ".join([parts[0], " and ".join(parts[1:])]) if parts[1:] else parts[0]
    n = len(config["model"]["members"])
    return f"an ensemble of {n} models (mean probability), each a {model}" if n > 1 else f"a {model}"


def splits_sentence(recorded: list[dict]) -> str:
    """Which data the runs saw: the official splits (their fingerprints match), or which other."""
    data = (recorded[0].get("data") or {}) if recorded else {}
    if not data:
        return "The IMDB Large Movie Review Dataset (Maas et al., 2011); the runs did not record which copy"
    official = all(data.get(s) == FINGERPRINTS.get(s) for s in ("train", "test"))
    if official:
        return (
            f"The IMDB Large Movie Review Dataset (Maas et al., 2011), source `{data['source']}`, whose train "
            "and test splits match the official 25,000 + 25,000 reviews (sha256 fingerprints)"
        )
    return (
        f"Reviews from source `{data['source']}` whose splits are NOT the official IMDB ones (their "
        f"fingerprints differ: train {str(data.get('train'))[:12]}, test {str(data.get('test'))[:12]})"
    )


def model_card(config: dict, rows: list[dict], ensemble: dict) -> str:
    return _what_and_how(config) + _data_metrics_limits(config, rows, ensemble)


def _what_and_how(config: dict) -> str:
    """The card's metadata, what the model is, its files and how to use them."""
    data = config["data"]
    return f"""---
language: en
library_name: onnx
pipeline_tag: text-classification
tags: [sentiment-analysis, text-classification, lstm, imdb, onnx]
datasets: [stanfordnlp/imdb]
metrics: [accuracy, f1, roc_auc]
---

# IMDB review sentiment: {_describe(config)}

Trained with lstm_imdb (`python -m lstm_imdb.train`) and exported by
`python -m lstm_imdb.export`. It reads an English movie review and gives P(positive): positive when > 0.5.

| file | what it holds |
|---|---|
| `model.onnx` | the scoring graph: token ids `[batch, steps]` (0 = padding, on either side, to any length){" plus the full text's hashed n-grams (`wide_ids`, `wide_offsets`)" if data["wide"] else ""} → `prob_positive` `[batch]` |
| `model.safetensors` | the weights (PyTorch names of `lstm_imdb.models.encoder`; their shapes in config.json) |
| `tokenizer.json` | the vocabulary and normalization (a `tokenizers` WordLevel model: `<br />` removed, lower-cased, punctuation split off) |
| `config.json` | the model's settings and how its inputs are made |

## Scoring text without lstm_imdb

With `pip install onnxruntime tokenizers numpy{" scikit-learn" if data["wide"] else ""}`, in this folder:

```python
{USAGE}```

Its scores equal `python -m lstm_imdb.predict`'s to within 1e-4 (the export checks it on reviews with
punctuation, markup, non-ASCII text and one longer than the model reads). With lstm_imdb installed,
`python -m lstm_imdb.predict ckpt_path=<the checkpoint>` reads the original checkpoint.
"""


def _data_metrics_limits(config: dict, rows: list[dict], ensemble: dict) -> str:
    data = config["data"]
    recorded = [r["metrics"] for r in rows if r["metrics"]]
    in_domain = _figure([ensemble.get("test/acc")] if ensemble else [m.get("test/acc") for m in recorded])
    out_domain = _figure(
        [ensemble.get("rotten_tomatoes/acc")]
        if ensemble
        else [m.get("rotten_tomatoes/acc") for m in recorded]
    )
    return f"""
## Data and splits

{splits_sentence(recorded)}. A fixed validation part of the training split chose the checkpoint (the
vocabulary and the wide part never saw it); the test split was read once, at the end. *test acc (dedup)*
leaves out the test reviews whose text also occurs in train. *rotten_tomatoes* is an out-of-domain set
of short review snippets from another site. The vocabulary keeps the {data["num_words"] - 2:,} most
frequent words of the training part (others are unknown); the recurrence reads at most
{data["sequence_length"]} tokens of a review ({"its last ones" if data["truncation_side"] == "left" else "its first ones"}){"; the wide part reads the whole text" if data["wide"] else ""}.

## Metrics

From the training runs' own records (`{TEST_METRICS}`); *val acc* is the figure that chose each run's
checkpoint.

{metrics_table(rows, ensemble) if recorded else "Not recorded: the checkpoints' run folders hold no test metrics (`python -m lstm_imdb.evaluate ckpt_path=...` measures them)."}

## Intended use

Research and teaching: a baseline for English review sentiment, the subject of studies of recurrent
and wide-and-deep classifiers, a model to compare others with on the same splits.

## Limits

- English movie reviews: on rotten_tomatoes' short snippets accuracy is {out_domain or "unmeasured"}, against
  {in_domain or "unmeasured"} on IMDB's test reviews. Other domains, languages or registers (tweets,
  product reviews, sarcasm) are untested.
- Two classes only: IMDB's labelled reviews are rated 1-4 or 7-10, so mixed and neutral reviews were
  never seen, and a score near 0.5 is not a "neutral" verdict; the probabilities are not calibrated.
- Words outside the vocabulary are unknown to the recurrence; long reviews are cut to
  {data["sequence_length"]} tokens.
- It learns the opinions and biases of IMDB's reviewers; do not use it to make decisions about people.

## Provenance

Exported on {config["exported"]} by lstm_imdb at commit `{config["commit"] or "unknown"}` from
{", ".join(f"`{p}`" for p in config["checkpoints"])}.

To share it on the Hugging Face hub (needs an account and the network):
`hf upload <user>/<name> <this folder>`.
"""
