"""`NgramBag`: a linear model over hashed word n-grams of the same token ids, whose logit is added to the
RNN's ("wide and deep"; fastText's bag of n-grams with one output).

Why: on IMDB a bag of uni+bigrams is a strong classifier by itself (the TF-IDF + logistic regression
baseline, docs/results.md), and what it knows (which phrases signal sentiment, wherever they occur) is what an RNN
from random initialization learns slowly and overfits while learning. Trained jointly, the RNN only has
to learn what the bag cannot: order, negation, long-range context. Mesnil et al. (2014) combine the two
kinds of model the same way, as an ensemble.

Features: unigrams are the token ids themselves; an n-gram of n >= 2 real tokens is hashed into
`buckets` slots. The bag counts occurrences (an n-gram that occurs twice adds its weight twice) and
divides the sum by the square root of the review's number of feature occurrences, so long and short
reviews give logits of similar size. Padding and the unknown id never count.

Dropout, and the same scale in training and evaluation: while training, the encoder's word dropout turns
tokens into the unknown id before the bag sees them (an n-gram survives only if all its n tokens do), and
`dropout` drops n-gram occurrences; dropped ones are left out of the sum and of the count. An n-gram
occurrence thus survives with probability keep_n = (1 - word_dropout)^n * (1 - dropout). At evaluation
nothing is dropped, and each occurrence is weighted keep_n and the count is the expected number that
survive: the logit is what training gives in expectation (to within the small difference between the
mean of sum/sqrt(count) and mean(sum)/sqrt(mean(count)); `tests/unit/test_correctness.py` measures it).

`scale` multiplies the bag's logit. The weights start at zero, so it changes nothing at the start; but
Adam moves each weight by about the learning rate per step whatever the gradient's size, so the bag's
logit learns `scale` times faster than with scale 1, whatever the LR schedule: a bag feature is seen
in few batches, and at the RNN's learning rate its weight barely moves in a few epochs.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID

# Rolling n-gram hash modulo a prime below 2**31, so products stay far inside int64.
_HASH_MULT, _HASH_MOD = 1_000_003, 2**31 - 1


def ngram_ids(input_ids: torch.Tensor, order: int, vocab_size: int, buckets: int):
    """[B, T] token ids -> ([B, N] feature ids, [B, N] bool: a real feature). Unigram features are the
    ids; n-grams (2 <= n <= order) of consecutive real tokens are hashed into vocab_size + [0, buckets)."""
    real = (input_ids != PAD_ID) & (input_ids != UNK_ID)
    ids, keep = [input_ids], [real]
    rolling, window = input_ids.long(), real
    for n in range(2, order + 1):
        rolling = torch.remainder(rolling[:, :-1] * _HASH_MULT + input_ids[:, n - 1 :], _HASH_MOD)
        window = window[:, :-1] & real[:, n - 1 :]
        ids.append(vocab_size + torch.remainder(rolling, buckets))
        keep.append(window)
    return torch.cat(ids, dim=1), torch.cat(keep, dim=1)


class NgramBag(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        order: int = 2,
        buckets: int = 2**21,
        dropout: float = 0.0,
        scale: float = 1.0,
        word_dropout: float = 0.0,
    ):
        super().__init__()
        self.vocab_size, self.order, self.buckets, self.dropout = vocab_size, order, buckets, dropout
        self.scale, self.word_dropout = scale, word_dropout
        self.weight = nn.EmbeddingBag(vocab_size + (buckets if order > 1 else 0), 1, mode="sum")
        nn.init.zeros_(self.weight.weight)  # starts as "no opinion"; the RNN's head holds the bias

    def keep_probabilities(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[N] probability that an occurrence of each feature column survives training's dropouts (the
        columns of `ngram_ids`: T unigrams, then T-1 bigrams, ...)."""
        steps = input_ids.shape[1]
        return torch.cat(
            [
                input_ids.new_full(
                    (max(steps - n + 1, 0),),
                    (1 - self.word_dropout) ** n * (1 - self.dropout),
                    dtype=torch.float,
                )
                for n in range(1, self.order + 1)
            ]
        )

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[B, T] token ids (after word dropout, while training) -> [B] logit contributions."""
        ids, real = ngram_ids(input_ids, self.order, self.vocab_size, self.buckets)
        weights = real.float()
        if self.training and self.dropout > 0:
            weights = weights * (torch.rand_like(weights) >= self.dropout)  # drop, without rescaling
        elif not self.training:  # what training gives in expectation (see the module's docstring)
            weights = weights * self.keep_probabilities(input_ids)
        weights = weights / weights.sum(1, keepdim=True).clamp(min=1).sqrt()
        return self.scale * self.weight(ids, per_sample_weights=weights).squeeze(-1)
