"""Vocabulary, truncation/padding and the bucketing sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_imdb.data.batching import BucketBatchSampler, PadCollate
from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID, encode, fit_tokenizer


def test_vocabulary_is_top_words_of_given_texts():
    texts = ["Good good GOOD film.<br /><br />Bad", "good film, bad plot", "film"]
    tok = fit_tokenizer(texts, num_words=5)
    vocab = tok.get_vocab()
    assert vocab["[PAD]"] == PAD_ID and vocab["[UNK]"] == UNK_ID
    assert len(vocab) == 5
    assert vocab["good"] == 2 and vocab["film"] == 3  # most frequent first
    assert tok.encode("GOOD<br />film!").tokens == ["good", "film"]  # lowercased, markup and punctuation gone
    assert encode(tok, ["good unseenword"]) == [[2, UNK_ID]]


def test_apostrophes_stay_inside_words_as_in_keras():
    tok = fit_tokenizer(["don't stop", "don't"], num_words=10)
    assert tok.encode("Don't!").tokens == ["don't"]


def test_num_words_below_two_is_refused():
    with pytest.raises(ValueError, match="num_words"):
        fit_tokenizer(["a b"], num_words=1)


def items(*rows):
    return [(np.array(r, dtype=np.int64), i % 2) for i, r in enumerate(rows)]


def test_left_padding_keeps_last_tokens():
    batch = PadCollate(3, "left", "left", pad_to_longest=True)(items([5, 6, 7, 8], [9]))
    assert batch["input_ids"].tolist() == [[6, 7, 8], [0, 0, 9]]
    assert batch["lengths"].tolist() == [3, 1]
    assert batch["labels"].tolist() == [0, 1]
    assert batch["input_ids"].dtype == torch.int64


def test_right_padding_keeps_first_tokens_and_fixed_length():
    batch = PadCollate(5, "right", "right", pad_to_longest=False)(items([5, 6, 7, 8, 9, 10], [9]))
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9], [9, 0, 0, 0, 0]]


def test_fixed_length_left_padding_and_empty_review():
    batch = PadCollate(4, "left", "left", pad_to_longest=False)(items([3], []))
    assert batch["input_ids"].tolist() == [[0, 0, 0, 3], [0, 0, 0, UNK_ID]]
    assert batch["lengths"].tolist() == [1, 1]


def test_bucket_sampler_covers_every_review_once_with_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 300, size=1000)
    sampler = BucketBatchSampler(lengths, batch_size=32, shuffle=True, seed=1, pool_batches=10)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[rng.permutation(1000)[:32]]) for _ in range(20)])
    assert spread < random_spread / 4  # far less padding than random batches


def test_bucket_sampler_is_seeded_and_changes_each_epoch():
    lengths = np.arange(500) % 97
    a = BucketBatchSampler(lengths, 16, shuffle=True, seed=3)
    b = BucketBatchSampler(lengths, 16, shuffle=True, seed=3)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first


def test_bucket_sampler_for_evaluation_is_sorted_longest_first():
    lengths = np.array([3, 9, 1, 7, 5])
    batches = list(BucketBatchSampler(lengths, 2, shuffle=False))
    assert batches == [[1, 3], [4, 0], [2]]


def test_bucket_sampler_shards_batches_across_ranks():
    lengths = np.arange(1000) % 300
    ranks = [
        list(BucketBatchSampler(lengths, 32, shuffle=True, seed=5, num_replicas=3, rank=r)) for r in range(3)
    ]
    assert len({len(r) for r in ranks}) == 1  # every rank the same number of batches
    seen = [i for r in ranks for b in r for i in b]
    assert len(seen) == len(set(seen))  # no review on two ranks
    whole = list(BucketBatchSampler(lengths, 32, shuffle=True, seed=5))
    assert len(ranks[0]) == len(whole) // 3
    assert len(ranks[0]) == len(BucketBatchSampler(lengths, 32, shuffle=True, seed=5, num_replicas=3, rank=0))
