"""Negation scope marking (lstm_imdb/data/negation.py): which tokens a negation marks, with either token
pattern the configs use, and vectorizers that hold the marker pickle and give the same features."""

from __future__ import annotations

import pickle

import pytest

from lstm_imdb.data.negation import NegationMarker
from lstm_imdb.data.wide import TOKEN_PATTERN, clean, hashing_vectorizer, wide_features, wide_settings

WORDS_WITH_APOSTROPHES = r"(?u)[\w']+|[.\",()!?;:]"  # best_single_v6's tokens


@pytest.mark.parametrize(
    ("pattern", "text", "tokens"),
    [
        (TOKEN_PATTERN, "not good, but great", ["not", "NEG_good", ",", "but", "great"]),
        (TOKEN_PATTERN, "i don't like it. fine", ["i", "don", "'", "t", "NEG_like", "NEG_it", ".", "fine"]),
        (WORDS_WITH_APOSTROPHES, "i don't like it. fine", ["i", "don't", "NEG_like", "NEG_it", ".", "fine"]),
        (TOKEN_PATTERN, "never (ever) again", ["never", "(", "ever", ")", "again"]),
        (TOKEN_PATTERN, "no, never bad", ["no", ",", "never", "NEG_bad"]),
        (TOKEN_PATTERN, "it's good", ["it", "'", "s", "good"]),
    ],
)
def test_tokens_after_a_negation_are_marked_up_to_the_clause_punctuation(pattern, text, tokens):
    assert NegationMarker(pattern)(text) == tokens


def test_a_marked_token_cannot_be_a_word_of_the_cleaned_text():
    assert NegationMarker(TOKEN_PATTERN)(clean("NOT NEG_good")) == ["not", "NEG_neg_good"]


def test_the_wide_features_mark_negation_only_when_asked_and_pickle_with_the_marker():
    plain, marked = wide_settings({"buckets": 2**16}), wide_settings({"buckets": 2**16, "negation": True})
    assert plain["negation"] is False  # a checkpoint without the key reads its features unmarked
    text = ["a film not worth it. good acting"]
    assert set(wide_features(text, plain).indices) != set(wide_features(text, marked).indices)
    same = ["a good film"]
    assert (wide_features(same, plain).indices == wide_features(same, marked).indices).all()
    vectorizer = hashing_vectorizer(**marked)
    again = pickle.loads(pickle.dumps(vectorizer))
    assert (again.transform(text).indices == vectorizer.transform(text).indices).all()


def test_a_negation_setting_that_is_not_a_boolean_is_named():
    with pytest.raises(ValueError, match=r"data.wide.negation='yes': must be true or false"):
        wide_settings({"negation": "yes"})
