"""The classic baseline's model: TF-IDF of word n-grams + logistic regression (scikit-learn), optionally
with naive-Bayes feature weights (NBSVM-style, Wang & Manning 2012)."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression


def clean(text: str) -> str:
    return text.replace("<br />", " ").replace("<br/>", " ")


class NBWeighting:
    """Scales each feature by its log-count ratio between the classes (fitted on the training rows)."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha
        self.r = None

    def fit(self, X, y):
        p = self.alpha + X[y == 1].sum(0)
        q = self.alpha + X[y == 0].sum(0)
        self.r = np.asarray(np.log((p / p.sum()) / (q / q.sum()))).ravel()
        return self

    def transform(self, X):
        return X @ sparse.diags(self.r)


def fit_model(cfg: DictConfig, texts, labels, C: float):
    vec = TfidfVectorizer(
        ngram_range=tuple(cfg.ngram_range),
        min_df=cfg.min_df,
        max_df=cfg.max_df,
        sublinear_tf=True,
        preprocessor=lambda t: clean(t).lower(),
        max_features=cfg.max_features,
        dtype=np.float32,
    )
    X = vec.fit_transform(texts)
    nb = NBWeighting().fit(X, labels) if cfg.nb_weighting else None
    if nb is not None:
        X = nb.transform(X)
    clf = LogisticRegression(C=C, max_iter=cfg.max_iter, solver="liblinear").fit(X, labels)

    def predict(new_texts):
        Z = vec.transform(new_texts)
        return clf.predict_proba(nb.transform(Z) if nb is not None else Z)[:, 1]

    return predict, X.shape[1]
