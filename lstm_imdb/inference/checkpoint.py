"""Loading a trained model from its checkpoint alone: weights, model settings, data settings and the
vocabulary all travel inside it. Loaded with `weights_only=True`: no pickled code runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from lstm_imdb.data.datamodule import IMDBDataModule
from lstm_imdb.inference.resolve import checkpoint_paths
from lstm_imdb.models.classifier import SentimentClassifier
from lstm_imdb.models.encoder import EnsembleEncoder
from lstm_imdb.utils.checkpoint_file import CheckpointError, read_checkpoint


@dataclass
class LoadedCheckpoint:
    path: Path
    model: SentimentClassifier
    data_hparams: dict
    tokenizer: Tokenizer


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    ckpt = read_checkpoint(path)
    state = ckpt.get(IMDBDataModule.__qualname__, {})
    data_hparams = ckpt.get("datamodule_hyper_parameters")
    if (
        "state_dict" not in ckpt
        or "hyper_parameters" not in ckpt
        or not data_hparams
        or "tokenizer" not in state
    ):
        raise CheckpointError(
            f"{path} is not a lstm_imdb checkpoint (no model settings, data settings or vocabulary)"
        )
    # the weights are in the checkpoint: where they started from (vectors, a language model) is history,
    # and need not exist any more
    model = SentimentClassifier(**{**ckpt["hyper_parameters"], "vectors": None, "init_from": None})
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return LoadedCheckpoint(Path(path), model, dict(data_hparams), Tokenizer.from_str(state["tokenizer"]))


# data settings that must agree between the members of an ensemble
_SHARED_DATA = ("num_words", "sequence_length", "padding_side", "truncation_side", "wide")


def load_ensemble(paths: list[str | Path]) -> LoadedCheckpoint:
    """Several checkpoints as one model averaging their probabilities (see `EnsembleEncoder`)."""
    members = [load_checkpoint(p) for p in paths]
    first = members[0]
    for other in members[1:]:
        if other.tokenizer.to_str() != first.tokenizer.to_str() or any(
            other.data_hparams.get(k) != first.data_hparams.get(k) for k in _SHARED_DATA
        ):
            raise CheckpointError(
                f"{other.path} cannot join an ensemble with {first.path}: different vocabulary or data settings "
                f"({', '.join(_SHARED_DATA)})"
            )
    first.model.net = EnsembleEncoder([m.model.net for m in members]).eval()
    return first


def load_model(ckpt_path) -> tuple[LoadedCheckpoint, list[Path]]:
    """What `ckpt_path=` names (a file, a list, a run or a sweep folder) as one model: one checkpoint, or
    the ensemble of several; and the files it came from."""
    paths = checkpoint_paths(ckpt_path)
    return (load_ensemble(paths) if len(paths) > 1 else load_checkpoint(paths[0])), paths
