"""Correctness of the outside-knowledge paths (#21): GloVe runs that repeat, the language model's per-word
perplexity, a `train/loss` that means the clean loss, adversarial training with a frozen embedding. The in-process checks; the runs
are in tests/e2e/test_knowledge_correctness.py."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lstm_imdb.data import vectors as vec
from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID
from lstm_imdb.models import SentimentClassifier


def _made_up_set(n_words: int = 3000, dim: int = 16) -> tuple[list[str], np.ndarray]:
    words = [f"w{i}" for i in range(n_words)]
    return words, np.random.default_rng(1).normal(size=(n_words, dim)).astype(np.float32)


def test_embedding_matrix_does_not_depend_on_the_vocabularys_order():
    words, vectors = _made_up_set()
    wv = vec.WordVectors(words, vectors)
    ids = {w: i + 2 for i, w in enumerate(words[:2500])} | {"zz-missing": 2502, "[PAD]": 0, "[UNK]": 1}
    shuffled = list(ids.items())
    random.Random(0).shuffle(shuffled)
    a, _ = vec.embedding_matrix(ids, wv, size=2600, specials=(PAD_ID, UNK_ID))
    b, _ = vec.embedding_matrix(dict(shuffled), wv, size=2600, specials=(PAD_ID, UNK_ID))
    assert a.tobytes() == b.tobytes()  # bit for bit, the uncovered rows (drawn from the statistics) too


def _no_dropout_classifier(**options) -> SentimentClassifier:
    torch.manual_seed(0)
    model = SentimentClassifier(
        vocab_size=30,
        embedding_dim=6,
        hidden_size=8,
        dropout=0.0,
        recurrent_dropout=0.0,
        ngram_order=2,
        ngram_buckets=64,
        **options,
    )
    torch.nn.init.normal_(model.net.ngrams.weight.weight)
    return model.train()  # no dropout anywhere: a training step's losses can be recomputed exactly


def _logged_training_step(model: SentimentClassifier, batch: dict) -> tuple[torch.Tensor, dict]:
    logged = {}
    model.log = lambda name, value, **kwargs: logged.__setitem__(name, value)
    model.log_dict = lambda values, **kwargs: None
    return model.training_step(batch, 0), logged


@pytest.mark.parametrize(
    "options", [{"adversarial_eps": 0.5}, {"bag_loss_weight": 0.5}, {"deep_loss_weight": 0.5}]
)
def test_train_loss_is_the_clean_loss_and_the_optimized_sum_has_its_own_name(options):
    model = _no_dropout_classifier(**options)
    batch = {"input_ids": torch.randint(2, 30, (8, 12)), "labels": torch.randint(0, 2, (8,))}
    returned, logged = _logged_training_step(model, batch)
    clean, _, _ = model._step(batch)
    assert torch.isclose(logged["train/loss"], clean, rtol=1e-6)  # comparable with val/loss
    own = logged.get("train/bag_loss", 0.0) + logged.get("train/deep_loss", 0.0)
    extra = logged.get("train/adv_loss", 0.0) + 0.5 * own
    assert torch.isclose(logged["train/loss_total"], clean + extra, rtol=1e-5)
    assert returned is logged["train/loss_total"] and returned > 1.05 * clean  # what is optimized
    plain, logged_plain = _logged_training_step(_no_dropout_classifier(), batch)
    assert "train/loss_total" not in logged_plain and plain is logged_plain["train/loss"]


def test_label_smoothing_trains_towards_softened_labels_and_logs_the_clean_loss():
    model = _no_dropout_classifier(label_smoothing=0.2)
    batch = {"input_ids": torch.randint(2, 30, (8, 12)), "labels": torch.tensor([0, 1] * 4)}
    returned, logged = _logged_training_step(model, batch)
    logits = model(batch["input_ids"]).float()
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    softened = torch.tensor([0.1, 0.9] * 4)
    assert torch.isclose(returned, bce(logits, softened), rtol=1e-6)  # what is optimized
    assert torch.isclose(logged["train/loss"], bce(logits, batch["labels"].float()), rtol=1e-6)
    for bad in (-0.1, 1.0, "0.1"):
        with pytest.raises(ValueError, match="model.label_smoothing"):
            _no_dropout_classifier(label_smoothing=bad)


def test_adversarial_training_works_with_a_frozen_embedding():
    model = _no_dropout_classifier(adversarial_eps=0.5, freeze_embedding=True)
    before = model.net.embedding.weight.clone()
    batch = {"input_ids": torch.randint(2, 30, (8, 12)), "labels": torch.randint(0, 2, (8,))}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss, logged = _logged_training_step(model, batch)
    loss.backward()
    optimizer.step()
    assert logged["train/adv_loss"] > logged["train/loss"]  # the perturbation was applied and hurts
    assert torch.equal(model.net.embedding.weight, before) and model.net.embedding.weight.grad is None
    assert model.net.rnn.weight_ih_l0.grad.abs().sum() > 0
