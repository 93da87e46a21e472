"""A trained model as files that need no lstm_imdb: its weights (safetensors), its vocabulary (a `tokenizers`
JSON), its settings (config.json), an ONNX graph that scores token ids, and a model card.

Why ONNX: the recurrence is padding-free (models/recurrence.py): a review's score does not depend on the
padding around it, so the graph takes ids padded on either side to any length, with dynamic batch and
length axes; onnxruntime runs it anywhere, without PyTorch. The graph ends in the sigmoid: its output
is the probability `predict` prints, and the export fails unless the two agree (`verify`).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from lstm_imdb.data.batching import wide_batch
from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID
from lstm_imdb.data.wide import row_features, wide_features
from lstm_imdb.inference.checkpoint import LoadedCheckpoint
from lstm_imdb.inference.model_card import ensemble_record, member_rows, model_card
from lstm_imdb.inference.predictor import Predictor
from lstm_imdb.models.encoder import EnsembleEncoder, RNNEncoder
from lstm_imdb.runs.provenance import git_commit
from lstm_imdb.utils.checkpoint_file import read_checkpoint

FORMAT = "lstm_imdb-export/1"
WEIGHTS, GRAPH, TOKENIZER, CONFIG, CARD = (
    "model.safetensors",
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "README.md",
)
FILES = (WEIGHTS, GRAPH, TOKENIZER, CONFIG, CARD)
TOLERANCE = 1e-4  # largest difference allowed between the graph's probabilities and predict's

# reviews the graph is checked on: punctuation, markup, non-ASCII, one word, and a long one (see `verify`)
CHECK_TEXTS = [
    "A wonderful, moving film. I didn't expect it!",
    "I didn't like it, not one bit: 'boring', \"dull\" & awful!",
    "Line one<br /><br />line two: excellent\ttabbed",
    "Ça, c'était génial — 映画 wonderful ✨",
    "great",
]


class ScoringGraph(nn.Module):
    """What the ONNX graph computes: P(positive) [B] of token ids [B, T] (0 = padding, on either side),
    and for a model with a wide part the full text's hashed n-grams as `nn.EmbeddingBag` inputs."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, input_ids, wide_ids=None, wide_offsets=None):
        wide = {} if wide_ids is None else {"wide_ids": wide_ids, "wide_offsets": wide_offsets}
        return torch.sigmoid(self.net(input_ids, **wide).float())


def encoder_settings(hparams: dict) -> dict:
    """The `RNNEncoder` arguments among a classifier's hyperparameters (what rebuilds its `net`)."""
    names = inspect.signature(RNNEncoder).parameters
    return {k: v for k, v in hparams.items() if k in names}


def rebuild(config: dict) -> nn.Module:
    """An untrained encoder (or ensemble) of an export's config.json, for its model.safetensors."""
    members = [RNNEncoder(**m) for m in config["model"]["members"]]
    return members[0] if len(members) == 1 else EnsembleEncoder(members)


def export_config(data_hparams: dict, members: list[dict], provenance: dict) -> dict:
    hp = data_hparams
    return {
        "format": FORMAT,
        "model": {
            "members": members,  # one: a single model; several: an ensemble (mean of their probabilities)
            "output": "prob_positive: P(positive review); positive when > 0.5",
        },
        "data": {
            "pad_id": PAD_ID,
            "unk_id": UNK_ID,
            "num_words": hp["num_words"],
            "sequence_length": hp["sequence_length"],
            "truncation_side": hp["truncation_side"],  # left: a long review keeps its last tokens
            "wide": hp.get("wide"),  # the wide part's n-gram settings (scikit-learn's HashingVectorizer)
        },
        "inputs": graph_input_names(hp.get("wide") is not None),
        **provenance,
    }


def graph_input_names(wide: bool) -> list[str]:
    return ["input_ids", "wide_ids", "wide_offsets"] if wide else ["input_ids"]


def write_weights(net: nn.Module, path: Path, config: dict) -> None:
    from safetensors.torch import save_file

    # the wide part's held-out fit (refit_with_validation) scores validation only: not part of a served model
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items() if "held_out." not in k}
    save_file(state, str(path), metadata={"format": FORMAT, "config": json.dumps(config["model"])})
    path.chmod(0o644)  # written private; an export is made to be shared


def _example_inputs(predictor: Predictor, texts: list[str]) -> tuple[torch.Tensor, ...]:
    """The graph's inputs for `texts`, batched as `predict` batches them."""
    ids = predictor.encode(texts)
    batch = predictor.collate([(np.asarray(i, dtype=np.int64), 0) for i in ids])
    if predictor.wide is None:
        return (batch["input_ids"],)
    features = wide_features(texts, predictor.wide)
    extra = wide_batch([row_features(features, i) for i in range(len(texts))])
    return batch["input_ids"], extra["wide_ids"], extra["wide_offsets"]


def write_graph(predictor: Predictor, path: Path) -> None:
    """The ONNX graph with dynamic batch, length and n-gram axes (opset of torch's dynamo exporter)."""
    graph = ScoringGraph(predictor.model.net).eval()
    inputs = _example_inputs(predictor, CHECK_TEXTS[:3])
    with torch.inference_mode():
        graph(*inputs)  # builds the single-direction kernels of a bidirectional recurrence first
    batch, steps = torch.export.Dim("batch"), torch.export.Dim("steps")
    shapes: dict = {"input_ids": {0: batch, 1: steps}}
    if len(inputs) > 1:
        shapes.update(wide_ids={0: torch.export.Dim("ngrams")}, wide_offsets={0: batch})
    names = graph_input_names(len(inputs) > 1)
    torch.onnx.export(
        graph,
        inputs,
        str(path),
        dynamo=True,
        input_names=names,
        output_names=["prob_positive"],
        dynamic_shapes=shapes,
        external_data=False,
        verbose=False,
    )


def verify(predictor: Predictor, path: Path, texts: list[str]) -> float:
    """The largest difference between the graph's probabilities (onnxruntime) and predict's for `texts`
    (batched together, so padded to the longest); ValueError past `TOLERANCE`."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = _example_inputs(predictor, texts)
    feeds = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs, strict=True)}
    got = session.run(None, feeds)[0]
    want = predictor.predict_proba(texts)
    diff = float(np.abs(got - want).max())
    if not diff <= TOLERANCE:
        raise ValueError(f"the ONNX graph's scores differ from predict's by {diff:.2e} (> {TOLERANCE:g})")
    return diff


def check_texts(predictor: Predictor) -> list[str]:
    """CHECK_TEXTS and a review longer than the model reads (truncated as predict truncates it)."""
    words = [w for w, i in sorted(predictor.tokenizer.get_vocab().items(), key=lambda x: x[1]) if i > UNK_ID]
    long = " ".join(words[i % len(words)] for i in range(predictor.collate.sequence_length + 17))
    return [*CHECK_TEXTS, long]


def write_export(loaded: LoadedCheckpoint, paths: list[Path], folder: Path) -> tuple[float, int]:
    """Every file of the export into `folder`; returns how far the graph's scores are from predict's, and
    on how many reviews."""
    if loaded.views:
        raise ValueError(
            f"these {len(paths)} checkpoints read reviews in {len(loaded.views)} different ways (vocabulary, "
            "length or n-gram settings): an export has one tokenizer and one graph input, so export the "
            "members that read them alike together, or one at a time"
        )
    if (loaded.data_hparams.get("wide") or {}).get("negation"):
        raise ValueError(
            "this model's wide part marks negation scopes (data.wide.negation=true), which the model card's "
            "scoring code does not do: score it with `python -m lstm_imdb.predict` instead"
        )
    predictor = Predictor(loaded)
    members = [encoder_settings(read_checkpoint(p)["hyper_parameters"]) for p in paths]
    provenance = {
        "checkpoints": [str(p) for p in paths],
        "commit": git_commit(),
        "exported": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    config = export_config(loaded.data_hparams, members, provenance)
    (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    predictor.tokenizer.save(str(folder / TOKENIZER))
    write_weights(predictor.model.net, folder / WEIGHTS, config)
    # the exporter's progress lines and warnings are about its internals, not the user's model
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            write_graph(predictor, folder / GRAPH)
        finally:
            quiet.setLevel(level)
    texts = check_texts(predictor)
    diff = verify(predictor, folder / GRAPH, texts)
    card = model_card(config, member_rows(paths), ensemble_record(paths))
    (folder / CARD).write_text(card)
    return diff, len(texts)
