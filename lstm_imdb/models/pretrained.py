"""Knowledge from outside the labelled reviews, put into a classifier's encoder before training:
word vectors (`model.vectors`, see `lstm_imdb.data.vectors`) into its embedding rows, and a language
model's embedding and recurrent weights (`model.init_from`, a checkpoint of `python -m lstm_imdb.pretrain`).

Both map rows by word, so they work whatever the order of the two vocabularies; words the source does not
know keep their (random) rows and are counted in the coverage that is logged.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
import torch.nn as nn

from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID
from lstm_imdb.data.vectors import embedding_matrix, load_vectors
from lstm_imdb.utils.checkpoint_file import CheckpointError, read_checkpoint
from lstm_imdb.utils.errors import ConfigError, refuse

log = logging.getLogger(__name__)

LM_KIND = "lstm_imdb.language_model"  # marks checkpoints of `python -m lstm_imdb.pretrain`


@torch.no_grad()
def init_from_vectors(embedding: nn.Embedding, vocab: dict[str, int], name: str, data_dir) -> dict:
    """Set the rows of `embedding` to the vectors `name` (its dimension must match); returns the coverage."""
    wv = load_vectors(name, data_dir)
    if wv.dim != embedding.embedding_dim:
        raise ConfigError(
            f"model.vectors={name} has {wv.dim} dimensions but model.embedding_dim={embedding.embedding_dim}; "
            f"set model.embedding_dim={wv.dim}"
        )
    matrix, coverage = embedding_matrix(vocab, wv, embedding.num_embeddings, (PAD_ID, UNK_ID))
    embedding.weight.copy_(torch.from_numpy(matrix))
    log.info(
        "Embedding initialized from %s: %d of %d words (%.1f %%) found; missed, most frequent first: %s",
        name,
        coverage["found"],
        coverage["words"],
        100 * coverage["fraction"],
        ", ".join(coverage["missed_examples"][:10]),
    )
    return coverage


def read_language_model(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, int], dict]:
    """(the encoder's weights: `embedding.*` and `rnn.*`, the LM's vocabulary, its hyperparameters) from
    a `python -m lstm_imdb.pretrain` checkpoint."""
    ckpt = read_checkpoint(path)
    if ckpt.get("kind") != LM_KIND or "vocab" not in ckpt:
        raise CheckpointError(
            f"model.init_from={str(path)!r} is not a language-model checkpoint of `python -m lstm_imdb.pretrain` "
            "(a classifier's checkpoint resumes with ckpt_path= instead)"
        )
    state = {k: v for k, v in ckpt["state_dict"].items() if k.startswith(("embedding.", "rnn."))}
    return state, ckpt["vocab"], ckpt.get("hyper_parameters", {})


@torch.no_grad()
def init_from_language_model(
    embedding: nn.Embedding, rnn: nn.RNNBase, vocab: dict[str, int], path: str | Path
) -> dict:
    """Copy a pretrained LM's recurrent weights into `rnn` (same shape required) and its embedding rows
    into `embedding`, word by word; returns how many words were found."""
    state, lm_vocab, _ = read_language_model(path)
    mine = dict(rnn.named_parameters())
    theirs = {k.removeprefix("rnn."): v for k, v in state.items() if k.startswith("rnn.")}
    shapes = {k: tuple(v.shape) for k, v in mine.items()}
    if {k: tuple(v.shape) for k, v in theirs.items()} != shapes:
        raise ConfigError(
            f"model.init_from={path}: its recurrent layers do not have this model's shape (model.cell, "
            "model.embedding_dim, model.hidden_size, model.num_layers, model.bidirectional must be those it "
            "was pretrained with: pretrain with the same experiment= and model.* overrides)"
        )
    for name, param in mine.items():
        param.copy_(theirs[name])
    source = state["embedding.weight"]
    if source.shape[1] != embedding.embedding_dim:
        raise ConfigError(f"model.init_from={path}: embedding size {source.shape[1]} != model.embedding_dim")
    pairs = [
        (i, lm_vocab[w])
        for w, i in vocab.items()
        if i < embedding.num_embeddings and w in lm_vocab and lm_vocab[w] < len(source)
    ]
    rows = torch.tensor([i for i, _ in pairs], dtype=torch.long)
    embedding.weight[rows] = source[torch.tensor([j for _, j in pairs], dtype=torch.long)].to(
        embedding.weight.dtype
    )
    log.info(
        "Encoder initialized from %s: recurrent weights and %d of %d word rows", path, len(pairs), len(vocab)
    )
    return {"found": len(pairs), "words": len(vocab)}


def validate_knowledge_options(
    vectors, freeze_embedding, init_from, adversarial_eps, pretrained_lr_scale
) -> None:
    """The outside-knowledge options of `SentimentClassifier`, each bad one named, before any work."""
    problems = []
    for key, value in (("vectors", vectors), ("init_from", init_from)):
        if value is not None and not (isinstance(value, str) and value):
            problems.append(f"model.{key}={value!r}: must be null or a name/path")
    if not isinstance(freeze_embedding, bool):
        problems.append(f"model.freeze_embedding={freeze_embedding!r}: must be true or false")
    if not isinstance(adversarial_eps, (int, float)) or not 0 <= adversarial_eps < math.inf:
        problems.append(f"model.adversarial_eps={adversarial_eps!r}: must be a number >= 0 (0: off)")
    if not isinstance(pretrained_lr_scale, (int, float)) or not 0 < pretrained_lr_scale < math.inf:
        problems.append(f"model.pretrained_lr_scale={pretrained_lr_scale!r}: must be a number > 0")
    if init_from is not None and isinstance(init_from, str) and not Path(init_from).expanduser().is_file():
        problems.append(
            f"model.init_from={init_from!r}: no such file (a checkpoint of `python -m lstm_imdb.pretrain`)"
        )
    refuse("model", problems)
