"""The classic baselines' models (scikit-learn): word n-gram features over a review's full text, optional
naive-Bayes feature weights, and logistic regression.

- `baseline=tfidf`: TF-IDF of uni- and bigrams (sublinear term frequency) + logistic regression.
- `baseline=nbsvm`: NBSVM (Wang & Manning 2012; uni+bi+trigrams as in Mesnil et al. 2014): binarized
  n-gram presence (counted and capped to the most frequent by default; `features=hashed` reads them as a
  model's wide part does: `data/wide.py`), each scaled by its NB log-count ratio, a linear classifier, and
  Wang & Manning's interpolation between its weights and their mean magnitude (`beta`; 1 keeps the
  classifier's weights).

Features are built once per set of training texts (`fit_features`) and shared by every C tried on it; every
beta is an interpolation of one fit (`interpolated`), so choosing them on validation costs one
vectorization and one fit per C.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
from omegaconf import DictConfig, OmegaConf
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from lstm_imdb.data.negation import tokenizer_options
from lstm_imdb.data.wide import clean, hashing_vectorizer
from lstm_imdb.utils.errors import ConfigError

FEATURES = ("tfidf", "binary", "hashed")


class NBWeighting(TransformerMixin, BaseEstimator):
    """Scales each feature by its log-count ratio between the classes, fitted on the training rows:
    r = log((p / |p|_1) / (q / |q|_1)), p and q the feature sums of the positive and negative rows plus alpha.
    Features present in fewer than `min_df` training rows, or outside the `max_features` present in the
    most rows, get r = 0, so that the classifier cannot fit its training reviews by their rare n-grams
    (hashed features have no vocabulary to cap; this caps them as CountVectorizer caps counted ones)."""

    def __init__(self, alpha: float = 1.0, min_df: int = 1, max_features: int | None = None):
        self.alpha = alpha
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, X, y):
        X, y = sparse.csr_matrix(X), np.asarray(y)
        p = self.alpha + np.asarray(X[y == 1].sum(0)).ravel()
        q = self.alpha + np.asarray(X[y == 0].sum(0)).ravel()
        r = np.log((p / p.sum()) / (q / q.sum()))
        df = X.getnnz(axis=0)
        kept = df >= self.min_df
        if self.max_features is not None and self.max_features < kept.sum():
            # the most frequent first; ties by column, so that the choice is the same on every run
            top = np.zeros_like(kept)
            top[np.argsort(-df, kind="stable")[: self.max_features]] = True
            kept &= top
        self.r_ = (r * kept).astype(np.float32)
        return self

    def transform(self, X):
        return sparse.csr_matrix(X @ sparse.diags(self.r_))


def is_feature_cap(value) -> bool:
    """A `max_features` value: None (no cap) or a whole number >= 1 (not a bool)."""
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


def check_options(cfg: DictConfig) -> None:
    """A wrong baseline option fails before the data is read, naming the key and what it takes."""
    if cfg.features not in FEATURES:
        raise ConfigError(f"baseline.features={cfg.features!r}: choose one of {', '.join(FEATURES)}")
    lo, hi = cfg.ngram_range
    if not 1 <= lo <= hi:
        raise ConfigError(f"baseline.ngram_range={list(cfg.ngram_range)}: need 1 <= min <= max, e.g. [1, 3]")
    if cfg.features == "hashed" and lo != 1:
        raise ConfigError(
            f"baseline.ngram_range={list(cfg.ngram_range)}: hashed features start at unigrams ([1, n])"
        )
    for key in ("C", "beta"):
        values = as_list(cfg[key])
        if not values or any(not isinstance(v, (int, float)) or v <= 0 for v in values):
            raise ConfigError(f"baseline.{key}={values}: give one positive number or a list of them")
    if not is_feature_cap(cfg.max_features):
        raise ConfigError(f"baseline.max_features={cfg.max_features!r}: null (no cap) or an integer >= 1")
    folds = cfg.cv_folds
    if not isinstance(folds, int) or isinstance(folds, bool) or folds == 1 or folds < 0:
        raise ConfigError(f"baseline.cv_folds={folds!r}: 0 (choose on validation) or a number of folds >= 2")
    if not isinstance(cfg.negation, bool):
        raise ConfigError(f"baseline.negation={cfg.negation!r}: true (mark negation scopes) or false")
    if any(b > 1 for b in as_list(cfg.beta)):
        raise ConfigError(f"baseline.beta={as_list(cfg.beta)}: the interpolation weight lies in (0, 1]")


def as_list(value) -> list:
    """A config value given as one number or a list of them, as a list."""
    return list(value) if OmegaConf.is_list(value) or isinstance(value, (list, tuple)) else [value]


def fit_features(
    cfg: DictConfig, texts: Sequence[str], labels: np.ndarray
) -> tuple[Pipeline, sparse.csr_matrix]:
    """The feature pipeline fitted on `texts` and their feature matrix."""
    common = dict(
        ngram_range=tuple(cfg.ngram_range),
        min_df=cfg.min_df,
        max_df=cfg.max_df,
        max_features=cfg.max_features,
        preprocessor=clean,
        dtype=np.float32,
        **tokenizer_options(cfg.token_pattern, cfg.negation),
    )
    if cfg.features == "tfidf":
        vectorizer = TfidfVectorizer(sublinear_tf=True, **common)
    elif cfg.features == "hashed":
        vectorizer = hashing_vectorizer(cfg.ngram_range[1], cfg.buckets, cfg.token_pattern, cfg.negation)
    else:
        vectorizer = CountVectorizer(binary=True, **common)
    steps = [("vectorize", vectorizer)]
    if cfg.nb_weighting:
        # counted features: the vectorizer applies min_df and max_features; hashed ones have no vocabulary,
        # so NB weighting does
        hashed = cfg.features == "hashed"
        nb = NBWeighting(cfg.nb_alpha, cfg.min_df if hashed else 1, cfg.max_features if hashed else None)
        steps.append(("nb", nb))
    pipeline = Pipeline(steps)
    return pipeline, pipeline.fit_transform(texts, labels)


def fit_logistic(X, labels: np.ndarray, C: float, max_iter: int) -> LogisticRegression:
    """Logistic regression (liblinear, seeded) on X."""
    return LogisticRegression(C=C, max_iter=max_iter, solver="liblinear", random_state=0).fit(X, labels)


def interpolated(clf: LogisticRegression, beta: float) -> LogisticRegression:
    """Wang & Manning's interpolation w = (1 - beta) * mean|w| + beta * w (a copy; beta 1: clf itself),
    which trusts the NB ratios more where the classifier's weights are small."""
    if beta >= 1:
        return clf
    out = copy.copy(clf)
    w = clf.coef_
    out.coef_ = (1 - beta) * np.abs(w).mean() + beta * w
    return out


def scorer(features: Pipeline, clf: LogisticRegression) -> Callable[[Sequence[str]], np.ndarray]:
    """P(positive) for new texts."""
    return lambda texts: clf.predict_proba(features.transform(texts))[:, 1]
