"""Negation scope marking for the n-gram features (`baseline.negation`, `data.wide.negation`): every token
after a negation word, up to the next clause punctuation, gets the prefix `NEG_`, so that "not good" and
"good" are different unigrams (Das & Chen 2001; Pang et al. 2002). A bag of n-grams sees a negation only
inside the n-gram window; the mark carries it to the end of the clause.

The prefix is upper case and the text is lower-cased before tokenizing (`clean`), so a marked token never
equals a word of the text. The tokenizer is a class (not a closure) so that the vectorizers holding it pickle.
"""

from __future__ import annotations

import re

PREFIX = "NEG_"
# a scope opens after one of these words, or after `n't` (one token, or `' t` as punctuation tokens split it)
NEGATORS = frozenset(
    {"not", "no", "never", "nothing", "nobody", "none", "nor", "neither", "cannot", "without"}
)
# and closes at the next of these tokens
SCOPE_ENDS = frozenset(".,!?;:()")


class NegationMarker:
    """A vectorizer's `tokenizer`: the tokens of `token_pattern` (as the vectorizer would find them), with
    those in a negation's scope prefixed `NEG_`."""

    def __init__(self, token_pattern: str):
        self.token_pattern = token_pattern
        self._regex = re.compile(token_pattern)

    def __call__(self, text: str) -> list[str]:
        tokens, in_scope, previous = [], False, ""
        for token in self._regex.findall(text):
            if token in SCOPE_ENDS:
                in_scope = False
                tokens.append(token)
                continue
            tokens.append(PREFIX + token if in_scope else token)
            if token in NEGATORS or token.endswith("n't") or (token == "t" and previous == "'"):
                in_scope = True
            previous = token
        return tokens

    def __eq__(self, other) -> bool:
        return isinstance(other, NegationMarker) and other.token_pattern == self.token_pattern

    def __hash__(self) -> int:
        return hash(self.token_pattern)

    def __repr__(self) -> str:
        return f"NegationMarker({self.token_pattern!r})"


def tokenizer_options(token_pattern: str, negation: bool) -> dict:
    """The keyword arguments that make a scikit-learn vectorizer tokenize by `token_pattern`, marking
    negation scopes when `negation` is true."""
    if negation:
        return {"tokenizer": NegationMarker(token_pattern), "token_pattern": None}
    return {"token_pattern": token_pattern}
