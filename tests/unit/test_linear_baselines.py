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


def test_nb_weighting_gives_rare_features_no_weight():
    """min_df: a feature in fewer training rows gets r = 0; the others keep the ratio they had."""
    X = sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]], dtype=np.float32))
    y = np.array([1, 1, 0, 0])
    plain, floored = NBWeighting(1.0).fit(X, y), NBWeighting(1.0, min_df=2).fit(X, y)
    assert plain.r_[1] > 0 and floored.r_[1] == 0  # column 1: in one review only
    np.testing.assert_array_equal(floored.r_[[0, 2]], plain.r_[[0, 2]])


def test_nb_weighting_keeps_only_the_features_in_the_most_rows():
    """max_features: the columns present in the most training rows keep their ratio (ties: the first
    column), the others get r = 0, as CountVectorizer's cap drops them."""
    X = sparse.csr_matrix(
        np.array([[1, 1, 0, 1], [1, 0, 0, 1], [0, 1, 1, 1], [1, 0, 1, 0]], dtype=np.float32)
    )
    y = np.array([1, 1, 0, 0])
    plain, capped = NBWeighting(1.0).fit(X, y), NBWeighting(1.0, max_features=2).fit(X, y)
    # present in 3, 2, 2, 3 rows: columns 0 and 3 stay
    np.testing.assert_array_equal(capped.r_, plain.r_ * [1, 0, 0, 1])
    assert (plain.r_[[0, 3]] != 0).all()
    np.testing.assert_array_equal(NBWeighting(1.0, max_features=3).fit(X, y).r_, plain.r_ * [1, 1, 0, 1])
    assert plain.r_[2] != 0  # column 2 had a weight: the tie with column 1 dropped it


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
    if name == "nbsvm":  # counted trigrams, every punctuation mark a token (the apostrophe too)
        analyzer = features.named_steps["vectorize"].build_analyzer()
        grams = analyzer("It's not bad at all!")
        assert "not bad at" in grams and "!" in grams and "it ' s" in grams


@pytest.mark.parametrize("features", ["binary", "hashed"])
def test_negation_marking_separates_negated_words_in_both_feature_kinds(features):
    """ "not ... good" and "good" share no unigram once marked; text outside a scope reads as without marks."""
    cfg = options("nbsvm", features=features, buckets=2**18)
    texts, y = ["it was not very good.", "it was very good!"], np.asarray([0, 1])
    plain, X = fit_features(cfg, texts, y)
    marked, M = fit_features(OmegaConf.merge(cfg, {"negation": True}), texts, y)
    if features == "binary":
        vocabulary = marked.named_steps["vectorize"].vocabulary_
        assert {"NEG_very", "NEG_good", "not NEG_very NEG_good"} <= set(vocabulary) and "good" in vocabulary
        assert "NEG_good" not in plain.named_steps["vectorize"].vocabulary_
    else:
        hashed = marked.named_steps["vectorize"]
        assert hashed.transform(["good"]).indices[0] not in hashed.transform(["not good"]).indices
        assert (
            hashed.transform(["it was good"]).indices == plain[0].transform(["it was good"]).indices
        ).all()
    assert X.shape[0] == M.shape[0] == 2


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
        ({"cv_folds": 1}, r"baseline.cv_folds=1: 0 \(choose on validation\) or a number of folds >= 2"),
        ({"max_features": 0}, r"baseline.max_features=0: null \(no cap\) or an integer >= 1"),
        ({"negation": "yes"}, r"baseline.negation='yes': true \(mark negation scopes\) or false"),
    ],
)
def test_bad_baseline_options_are_named(override, message):
    with pytest.raises(ValueError, match=message):
        check_options(options("nbsvm", **override))


def test_nbsvm_keeps_the_most_frequent_ngrams_and_hashed_features_floor_the_rare_ones():
    """Counted: the vocabulary is the max_features n-grams in the most training reviews. Hashed (as a
    model's wide part reads them): every n-gram has a column, and min_df gives the rare ones no weight."""
    texts, y = reviews()
    counted, X = fit_features(options("nbsvm", max_features=30), texts, y)
    vocabulary = counted.named_steps["vectorize"].vocabulary_
    assert X.shape[1] == 30 and {"not", "at", "all", "not bad", "not good", "!"} <= set(vocabulary)
    hashed_cfg = options("nbsvm", features="hashed", buckets=2**18, min_df=5)
    hashed, X = fit_features(hashed_cfg, texts, y)
    assert X.shape[1] == 2**18
    present = X.getnnz(axis=0)
    r = hashed.named_steps["nb"].r_
    assert ((r != 0) <= (present >= 5)).all() and (r[(present > 0) & (present < 5)] == 0).all()
    assert (r[present >= 60] != 0).any()  # "not bad" / "not good" are in half the reviews each
    capped, X = fit_features(options("nbsvm", features="hashed", buckets=2**18, max_features=30), texts, y)
    assert X.shape[1] == 2**18 and (capped.named_steps["nb"].r_ != 0).sum() <= 30
