"""The encoder and the LightningModule: shapes, pooling over real tokens, regularization, init."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from lstm_imdb.models import RNNEncoder, SentimentClassifier
from lstm_imdb.models.encoder import EnsembleEncoder
from lstm_imdb.models.ngram import NgramBag, ngram_ids
from lstm_imdb.models.regularization import word_dropout


@pytest.mark.parametrize(
    ("cell", "bidirectional", "pooling"),
    list(itertools.product(["lstm", "gru"], [False, True], ["last", "mean", "max", "mean_max"])),
)
def test_shapes_for_every_cell_direction_and_pooling(cell, bidirectional, pooling):
    enc = RNNEncoder(
        vocab_size=50,
        embedding_dim=8,
        hidden_size=6,
        num_layers=2,
        bidirectional=bidirectional,
        cell=cell,
        pooling=pooling,
    )
    ids = torch.randint(1, 50, (4, 9))
    ids[0, :5] = 0  # a left-padded review
    out = enc(ids)
    assert out.shape == (4,)
    out.sum().backward()
    grad = enc.embedding.weight.grad
    assert grad[0].abs().sum() == 0  # padding (id 0) learns nothing
    assert grad[1:].abs().sum() > 0


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "mean_max"])
def test_pooling_ignores_padding(pooling):
    # Right padding after the text cannot reach a forward LSTM's states at the real tokens, so any
    # pooling that looks only at real tokens must give the same answer with or without it.
    torch.manual_seed(0)
    enc = RNNEncoder(vocab_size=30, embedding_dim=4, hidden_size=5, pooling=pooling).eval()
    ids = torch.randint(1, 30, (3, 6))
    padded = torch.cat([ids, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    torch.testing.assert_close(enc(ids), enc(padded))


def test_bidirectional_last_pooling_uses_first_token_for_backward_direction():
    torch.manual_seed(0)
    enc = RNNEncoder(vocab_size=30, embedding_dim=4, hidden_size=5, bidirectional=True, pooling="last").eval()
    ids = torch.randint(1, 30, (2, 6))
    states, _ = enc.rnn(enc.embedding(ids))
    pooled = enc.pool(states, ids != 0)
    torch.testing.assert_close(pooled[:, :5], states[:, -1, :5])
    torch.testing.assert_close(pooled[:, 5:], states[:, 0, 5:])


def test_recurrent_dropout_changes_training_outputs_and_is_off_in_eval():
    torch.manual_seed(0)
    enc = RNNEncoder(vocab_size=30, embedding_dim=4, hidden_size=8, dropout=0.0, recurrent_dropout=0.5)
    ids = torch.randint(1, 30, (4, 12))
    enc.train()
    a, b = enc(ids), enc(ids)
    assert not torch.allclose(a, b)
    enc.eval()
    torch.testing.assert_close(enc(ids), enc(ids))
    no_drop = RNNEncoder(vocab_size=30, embedding_dim=4, hidden_size=8, dropout=0.0, recurrent_dropout=0.0)
    no_drop.load_state_dict(enc.state_dict())
    no_drop.train()
    torch.testing.assert_close(no_drop(ids), no_drop(ids))  # without it, training is deterministic here
    # the dropped weights are not written back: the parameter itself is untouched
    assert torch.equal(enc.rnn.weight_hh_l0, no_drop.rnn.weight_hh_l0)


def test_recurrent_dropout_gradients_reach_the_recurrent_weights():
    enc = RNNEncoder(vocab_size=30, embedding_dim=4, hidden_size=8, recurrent_dropout=0.3).train()
    enc(torch.randint(1, 30, (4, 12))).sum().backward()
    assert enc.rnn.weight_hh_l0.grad.abs().sum() > 0


def test_keras_init():
    enc = RNNEncoder(vocab_size=100, embedding_dim=10, hidden_size=16, init="keras")
    assert enc.embedding.weight.abs().max() <= 0.05
    assert torch.all(enc.embedding.weight[0] == 0)
    w = enc.rnn.weight_hh_l0  # [4h, h], orthonormal columns
    torch.testing.assert_close(w.T @ w, torch.eye(16), atol=1e-5, rtol=0)
    b = enc.rnn.bias_ih_l0
    assert torch.all(b[16:32] == 1) and torch.all(b[:16] == 0) and torch.all(enc.rnn.bias_hh_l0 == 0)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"hidden_size": -1}, "model.hidden_size"),
        ({"dropout": 1.0}, "model.dropout"),
        ({"pooling": "attention"}, "model.pooling"),
        ({"bidirectional": "maybe"}, "model.bidirectional"),
        ({"cell": "rnn"}, "model.cell"),
        ({"embedding_dim": 0}, "model.embedding_dim"),
        ({"ngram_order": -1}, "model.ngram_order"),
        ({"ngram_order": 2, "ngram_buckets": 0}, "model.ngram_buckets"),
        ({"ngram_dropout": 1.5}, "model.ngram_dropout"),
        ({"ngram_scale": 0}, "model.ngram_scale"),
    ],
)
def test_bad_model_options_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        SentimentClassifier(**kwargs)


def test_classifier_hparams_are_plain_and_build_the_optimizer():
    from omegaconf import OmegaConf

    model = SentimentClassifier(
        optimizer=OmegaConf.create({"_target_": "torch.optim.SGD", "lr": 0.1}), scheduler=None
    )
    assert isinstance(model.hparams.optimizer, dict)
    opt = model.configure_optimizers()
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["lr"] == 0.1


def test_ngram_ids_count_only_real_tokens_and_hash_in_range():
    ids = torch.tensor([[0, 0, 5, 6, 7], [5, 6, 1, 7, 8]])  # left padding; id 1 = unknown word
    feats, keep = ngram_ids(ids, order=3, vocab_size=10, buckets=13)
    # row 0: 3 unigrams, 2 bigrams, 1 trigram; row 1: 4 unigrams, bigrams 5-6 and 7-8, no trigram
    assert keep.sum(1).tolist() == [6, 6]
    assert feats[keep].min() >= 2 and feats[keep].max() < 10 + 13
    # the same n-grams hash to the same slot wherever they occur
    assert feats[0, 5 + 2] == feats[1, 5 + 0]  # bigram (5, 6)


def test_ngram_bag_is_the_same_for_either_padding_side():
    torch.manual_seed(0)
    bag = NgramBag(vocab_size=30, order=2, buckets=101)
    torch.nn.init.normal_(bag.weight.weight)
    ids = torch.randint(2, 30, (3, 6))
    left = torch.cat([torch.zeros(3, 4, dtype=torch.long), ids], dim=1)
    right = torch.cat([ids, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    torch.testing.assert_close(bag(left), bag(right))
    torch.testing.assert_close(bag(ids), bag(right))
    bag.dropout = 0.5
    bag.train()  # n-gram dropout acts while training only
    assert bag(left).abs().sum() > 0 and not torch.allclose(bag(left), bag.eval()(left))


def test_encoder_with_ngram_bag_adds_its_logit():
    torch.manual_seed(0)
    enc = RNNEncoder(vocab_size=30, embedding_dim=4, hidden_size=5, ngram_order=2, ngram_buckets=64).eval()
    ids = torch.randint(2, 30, (4, 7))
    before = enc(ids)  # the bag starts at zero: no opinion
    torch.nn.init.constant_(enc.ngrams.weight.weight, 0.1)
    # 7 unigrams + 6 bigrams, each weighted 1/sqrt(13)
    torch.testing.assert_close(enc(ids) - before, torch.full((4,), 1.3 / 13**0.5))
    enc.train()
    enc(ids).sum().backward()
    assert enc.ngrams.weight.weight.grad.abs().sum() > 0


def test_ngram_scale_makes_the_bag_learn_faster_under_adam():
    ids = torch.randint(2, 30, (4, 7), generator=torch.Generator().manual_seed(0))
    labels = torch.ones(4)  # one label: no n-gram's gradient cancels to rounding noise
    moved = {}
    for scale in (1.0, 10.0):
        bag = NgramBag(vocab_size=30, order=2, buckets=64, scale=scale)
        assert bag(ids).abs().sum() == 0  # zero-initialized: the scale changes nothing at the start
        opt = torch.optim.Adam(bag.parameters(), lr=1e-3)
        torch.nn.functional.binary_cross_entropy_with_logits(bag(ids), labels).backward()
        opt.step()
        moved[scale] = bag(ids).detach()
    # one Adam step moves every weight by ~lr whatever the gradient's size: the logit moves `scale` times more
    torch.testing.assert_close(moved[10.0], 10 * moved[1.0], rtol=1e-3, atol=1e-6)


def test_word_dropout_replaces_real_tokens_by_unknown_only_while_training():
    torch.manual_seed(0)
    ids = torch.randint(2, 30, (8, 50))
    ids[:, :10] = 0  # padding stays padding
    dropped = word_dropout(ids, 0.5, training=True, unk_id=1, pad_id=0)
    assert (dropped[:, :10] == 0).all()
    changed = dropped != ids
    assert (dropped[changed] == 1).all() and 0.4 < changed[:, 10:].float().mean() < 0.6
    assert torch.equal(word_dropout(ids, 0.5, training=False, unk_id=1, pad_id=0), ids)


def test_fast_precision_is_bf16_only_where_the_chip_computes_it(monkeypatch):
    from lstm_imdb.training.precision import fast_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert fast_precision() == "32-true"  # emulated bf16 is slower than fp32
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert fast_precision() == "bf16-mixed"
    assert fast_precision("cpu") == "bf16-mixed"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert fast_precision("auto") == "32-true"  # a GPU without bf16
    assert fast_precision("cpu") == "bf16-mixed"  # trainer=cpu on that machine: the CPU decides


def test_bf16_on_a_cpu_without_it_is_refused_before_any_work(monkeypatch):
    """oneDNN has no bf16 LSTM kernel on such a CPU and fails in the first step with an opaque message."""
    from lstm_imdb.training.precision import PrecisionError, check_precision

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    with pytest.raises(PrecisionError, match=r"trainer.precision=bf16-mixed: this CPU .* fp32, the default"):
        check_precision("bf16-mixed", "cpu")
    check_precision("32-true", "cpu")
    check_precision("bf16-mixed", "cuda")  # only the CPU path is checked here
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    check_precision("bf16-mixed", "cpu")


def test_bidirectional_kernels_are_built_without_drawing_from_the_rng():
    """An evaluation forward of a bidirectional encoder draws no random numbers, its first one included
    (when its single-direction kernels are built)."""
    enc = RNNEncoder(vocab_size=20, embedding_dim=4, hidden_size=6, bidirectional=True, num_layers=2).eval()
    state = torch.get_rng_state()
    with torch.no_grad():
        enc(torch.randint(2, 20, (3, 7), generator=torch.Generator().manual_seed(0)))
    assert enc._kernels and torch.equal(torch.get_rng_state(), state)


def test_ensemble_members_that_read_reviews_differently_each_get_their_own_view():
    """`member_views`: each member scores the batch's inputs of its own view; the ensemble blends them."""
    from lstm_imdb.data.batching import PadCollate
    from lstm_imdb.data.views import ViewsCollate

    torch.manual_seed(0)
    short, long = (RNNEncoder(vocab_size=30, embedding_dim=4, hidden_size=5).eval() for _ in range(2))
    other_vocab = RNNEncoder(vocab_size=12, embedding_dim=4, hidden_size=5).eval()
    ensemble = EnsembleEncoder([short, other_vocab, long], member_views=[0, 1, 0]).eval()
    items = [
        ((np.array([5, 6, 7, 8, 9]), 1, 0), (np.array([3, 4]), 1, 0)),
        ((np.array([9, 2]), 0, 1), (np.array([11, 1, 2, 3]), 0, 1)),
    ]
    batch = ViewsCollate([PadCollate(3), PadCollate(10)])(items)
    assert batch["labels"].tolist() == [1, 0] and batch["input_ids"].shape == (2, 3)  # the first view's
    views = batch["views"]
    assert views[1]["input_ids"].tolist() == [[0, 0, 3, 4], [11, 1, 2, 3]]  # its own vocabulary and length
    with torch.no_grad():
        got = ensemble.member_logits(batch["input_ids"], views=views)
        want = torch.stack([short(**views[0]), other_vocab(**views[1]), long(**views[0])])
        assert torch.allclose(got, want)
        assert torch.allclose(ensemble.view_logits(0, **views[0]), want[[0, 2]])
        mean = torch.sigmoid(want).mean(0)
        assert torch.allclose(torch.sigmoid(ensemble(batch["input_ids"], views=views)), mean, atol=1e-6)
        with pytest.raises(ValueError, match="must carry `views`"):
            ensemble.member_logits(batch["input_ids"])
