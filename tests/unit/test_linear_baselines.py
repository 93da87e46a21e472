"""The classic baselines' model (lstm_imdb/models/linear.py): NB weights, Wang & Manning's interpolation,
the options' checks, and both feature kinds on made-up reviews."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf
from scipy import sparse

from lstm_imdb.data.wide import hashing_vectorizer
from lstm_imdb.models.linear import (
    NBWeighting,
    check_options,
    fit_features,
    fit_logistic,
    interpolated,
    scorer,
)
from lstm_imdb.utils.paths import CONFIG_DIR


def options(name: str, **overrides):
    cfg = OmegaConf.load(CONFIG_DIR / "baseline" / f"{name}.yaml")
    return OmegaConf.merge(cfg, overrides)


def reviews(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    filler = ["the", "film", "plot", "actor", "scene", "story", "camera", "music"]
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(filler, size=12))
        cue = "not bad at all" if label else "not good at all"
        words.insert(int(rng.integers(0, 12)), cue)
        texts.append(" ".join(words) + ("!" if label else "."))
        labels.append(label)
    return texts, np.asarray(labels)


def test_nb_ratio_is_the_log_ratio_of_class_frequencies():
    X = sparse.csr_matrix(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 1, 1]], dtype=np.float32))
    y = np.array([1, 1, 0, 0])
    nb = NBWeighting(alpha=1.0).fit(X, y)
    # p = 1 + [2, 0, 2] -> [3, 1, 3] / 7; q = [1, 3, 3] / 7
    np.testing.assert_allclose(nb.r_, np.log([3.0, 1 / 3, 1.0]), rtol=1e-6)
    np.testing.assert_allclose(nb.transform(X).toarray()[0], [np.log(3.0), 0.0, 0.0], atol=1e-6)


def test_interpolation_mixes_weights_with_their_mean_magnitude():
    texts, y = reviews()
    cfg = options("nbsvm")
    _, X = fit_features(cfg, texts, y)
    plain = fit_logistic(X, y, C=1.0, max_iter=100)
    mixed = interpolated(plain, beta=0.25)
    w = plain.coef_
    np.testing.assert_allclose(mixed.coef_, 0.75 * np.abs(w).mean() + 0.25 * w, rtol=1e-5)
    assert interpolated(plain, beta=1.0) is plain and np.array_equal(plain.coef_, w)  # the fit is untouched


@pytest.mark.parametrize("name", ["tfidf", "nbsvm"])
def test_both_baselines_learn_a_negated_cue_from_raw_text(name):
    """ "not bad" and "not good" share their words: only the bigrams (and "!" for NBSVM) tell them apart."""
    texts, y = reviews(seed=1)
    cfg = options(name)
    features, X = fit_features(cfg, texts, y)
    predict = scorer(features, fit_logistic(X, y, C=4.0, max_iter=100))
    test_texts, test_y = reviews(40, seed=2)
    assert ((predict(test_texts) > 0.5) == test_y).mean() == 1.0
    if name == "nbsvm":  # hashed trigrams, apostrophes kept inside words, "!" a token
        analyzer = features.named_steps["vectorize"].build_analyzer()
        grams = analyzer("It's not bad at all!")
        assert "not bad at" in grams and "!" in grams and "it's" in grams
        assert X.shape[1] == cfg.buckets


def test_hashed_features_are_binary_and_the_same_for_the_same_text():
    vectorize = hashing_vectorizer(3, 2**18, r"(?u)[\w']+|[!?]")
    X = vectorize.transform(["good good good<br />GOOD", "good"])
    assert set(X.data) == {1.0} and X[0].nnz == 3  # good, good good, good good good: present once each
    assert (X[1].indices == vectorize.transform(["Good"]).indices).all()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"features": "counts"}, "baseline.features='counts': choose one of tfidf, binary, hashed"),
        ({"ngram_range": [2, 1]}, r"baseline.ngram_range=\[2, 1\]"),
        ({"C": [1.0, -1.0]}, r"baseline.C=\[1.0, -1.0\]: give one positive number"),
        ({"beta": 1.5}, r"baseline.beta=\[1.5\]: the interpolation weight lies in \(0, 1\]"),
    ],
)
def test_bad_baseline_options_are_named(override, message):
    with pytest.raises(ValueError, match=message):
        check_options(options("nbsvm", **override))


def test_nbsvm_reads_the_features_of_the_wide_part():
    """baseline=nbsvm is the wide part's NBSVM: the same hashed n-grams, tokens and buckets."""
    from lstm_imdb.data.wide import WIDE_KEYS

    cfg = options("nbsvm")
    assert cfg.features == "hashed" and list(cfg.ngram_range) == [1, WIDE_KEYS["order"]]
    assert cfg.token_pattern == WIDE_KEYS["token_pattern"] and cfg.buckets == WIDE_KEYS["buckets"]
