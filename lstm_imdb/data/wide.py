"""The wide part's input: binarized word n-grams of a review's full text, hashed into a fixed number of
buckets (scikit-learn's `HashingVectorizer`).

Why hashing: every n-gram of every review gets a column (not only those of the recurrence's capped
vocabulary, and not truncated to `sequence_length`), and the features need no vocabulary: the settings
below, which travel in a checkpoint's data hyperparameters, rebuild them for any text. Which columns get a
weight is the wide fit's choice (`model.wide_fit.max_features`, `min_df`), kept in the checkpoint's weights.
A model's wide part (`data.wide`) and `baseline=nbsvm_wide` read the same features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from lstm_imdb.data.negation import tokenizer_options
from lstm_imdb.utils.errors import refuse

# words, and every punctuation mark a token of its own (`don ' t`), as baseline=nbsvm tokenizes
# (docs/quality.md compares tokenizations)
TOKEN_PATTERN = "(?u)\\w+|[^\\w\\s]"
# negation: mark the tokens in a negation's scope (lstm_imdb/data/negation.py); off in every recorded model
WIDE_KEYS = {"order": 3, "buckets": 2**24, "token_pattern": TOKEN_PATTERN, "negation": False}


def clean(text: str) -> str:
    """Lower-cased text without the HTML line breaks IMDB reviews carry."""
    return text.replace("<br />", " ").replace("<br/>", " ").lower()


def wide_settings(wide) -> dict | None:
    """`data.wide` (null, or a dict of some of `WIDE_KEYS`) with its defaults filled in; a list of
    problems is raised as one ValueError that names each key."""
    if wide is None:
        return None
    wide = dict(wide)
    problems = [
        f"data.wide.{k}: unknown key (keys: {', '.join(WIDE_KEYS)})" for k in wide if k not in WIDE_KEYS
    ]
    settings = {**WIDE_KEYS, **{k: v for k, v in wide.items() if k in WIDE_KEYS}}
    for key in ("order", "buckets"):
        if not isinstance(settings[key], int) or settings[key] < 1:
            problems.append(f"data.wide.{key}={settings[key]!r}: must be an integer >= 1")
    if not isinstance(settings["token_pattern"], str) or not settings["token_pattern"]:
        problems.append(
            f"data.wide.token_pattern={settings['token_pattern']!r}: must be a regular expression"
        )
    if not isinstance(settings["negation"], bool):
        problems.append(f"data.wide.negation={settings['negation']!r}: must be true or false")
    refuse("data", problems)
    return settings


def hashing_vectorizer(
    order: int, buckets: int, token_pattern: str, negation: bool = False
) -> HashingVectorizer:
    """Binary presence of each word 1..order-gram, hashed into `buckets` columns (no signs, no norm)."""
    return HashingVectorizer(
        ngram_range=(1, order),
        n_features=buckets,
        **tokenizer_options(token_pattern, negation),
        preprocessor=clean,
        binary=True,
        alternate_sign=False,
        norm=None,
        dtype=np.float32,
    )


def wide_features(texts: Sequence[str], settings: dict) -> sparse.csr_matrix:
    """[len(texts), buckets] binary CSR matrix of the texts' n-grams (`settings`: see `wide_settings`)."""
    matrix = hashing_vectorizer(**settings).transform(list(texts))
    matrix.sort_indices()
    return matrix


def row_features(matrix: sparse.csr_matrix, i: int) -> np.ndarray:
    """The feature columns present in row i."""
    return matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]]
