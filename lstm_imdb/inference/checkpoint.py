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
    # an ensemble whose members read the reviews differently: (data settings, vocabulary) of each way of
    # reading them, a "view" (see load_ensemble)
    views: list[tuple[dict, Tokenizer]] | None = None
    # an ensemble: every member's data settings (evaluate checks that they validated on the same reviews)
    member_data: list[dict] | None = None


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


# data settings that decide what a member reads: members that agree on them (and on the vocabulary) share
# one view of the reviews
_SHARED_DATA = ("num_words", "sequence_length", "padding_side", "truncation_side", "wide")


def _view_key(member: LoadedCheckpoint) -> tuple:
    return member.tokenizer.to_str(), repr([member.data_hparams.get(k) for k in _SHARED_DATA])


def load_ensemble(paths: list[str | Path]) -> LoadedCheckpoint:
    """Several checkpoints as one model averaging their probabilities (see `EnsembleEncoder`). Members
    that read the reviews differently (another vocabulary, length or n-gram settings) each get their own
    view: `views` holds the data settings and vocabulary of each (`data/views.py`)."""
    members = [load_checkpoint(p) for p in paths]
    keys = list(dict.fromkeys(_view_key(m) for m in members))  # views in order of first appearance
    member_views = [keys.index(_view_key(m)) for m in members]
    first = members[0]
    if len(keys) > 1:
        readers = [members[member_views.index(v)] for v in range(len(keys))]  # the first member of each view
        first.views = [(m.data_hparams, m.tokenizer) for m in readers]
    first.member_data = [m.data_hparams for m in members]
    nets = [m.model.net for m in members]
    first.model.net = EnsembleEncoder(nets, member_views=member_views if first.views else None).eval()
    return first


def load_model(ckpt_path) -> tuple[LoadedCheckpoint, list[Path]]:
    """What `ckpt_path=` names (a file, a list, a run or a sweep folder) as one model: one checkpoint, or
    the ensemble of several; and the files it came from."""
    paths = checkpoint_paths(ckpt_path)
    return (load_ensemble(paths) if len(paths) > 1 else load_checkpoint(paths[0])), paths
