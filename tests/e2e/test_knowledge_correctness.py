"""Correctness of the outside-knowledge paths (#21): GloVe runs that repeat, the language model's per-word
perplexity, a `train/loss` that means the clean loss, adversarial training with a frozen embedding. The runs; the in-process checks
are in tests/unit/test_knowledge_correctness.py."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import lightning as L
import numpy as np
import pytest
import torch
from helpers import run_module, tiny_train_overrides

from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID
from lstm_imdb.models.language_model import LanguageModel

_MATRIX_IN_A_PROCESS = """
import hashlib, sys
import numpy as np
from lstm_imdb.data import vectors as vec
from lstm_imdb.data.tokenizer import fit_tokenizer
words = [f"w{i}" for i in range(3000)]
texts = [" ".join(words[j] for j in range(i % 7, 3000, 7 + i % 5)) for i in range(200)]
tok = fit_tokenizer(texts, 2600)
covered = words[::2]  # the other half of the vocabulary gets rows drawn from the covered rows' statistics
wv = vec.WordVectors(covered, np.random.default_rng(1).normal(size=(1500, 16)).astype(np.float32))
matrix, _ = vec.embedding_matrix(tok.get_vocab(), wv, size=2600, specials=(0, 1))
print(hashlib.sha256(matrix.tobytes()).hexdigest())
"""


def test_embedding_matrix_is_bit_identical_across_processes():
    digests = set()
    for hashseed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        out = subprocess.run(
            [sys.executable, "-c", _MATRIX_IN_A_PROCESS], env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_two_runs_with_word_vectors_give_identical_metrics(acl_dir, tmp_path):
    """Two identical tiny runs whose embedding starts from a vector file covering the vocabulary."""
    from conftest import FILLER, NEGATIVE, POSITIVE

    rng = np.random.default_rng(0)
    # every other word of the tiny vocabulary, with values of very different sizes (so that the covered
    # rows' float32 statistics, which draw the other rows, depend on the order they are summed in)
    words = sorted(set(FILLER + POSITIVE + NEGATIVE))[::2]
    lines = [
        f"{w} {' '.join(f'{x:.6e}' for x in rng.normal(size=8) * 10 ** rng.uniform(-3, 3, 8))}" for w in words
    ]
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(lines) + "\n")
    results = []
    for name in ("a", "b"):
        run = tmp_path / name
        run_module(
            "lstm_imdb.train",
            *tiny_train_overrides(
                acl_dir, run, "trainer.max_epochs=1", f"model.vectors={path}", "logger=csv"
            ),
            root=tmp_path,
        )
        history = json.loads((run / "history.json").read_text())
        tested = json.loads((run / "test_metrics.json").read_text())
        results.append(([r["train/loss"] for r in history], tested["test/loss"], tested["test/acc"]))
    assert results[0] == results[1]


def test_language_model_perplexity_is_per_word_over_the_epoch():
    """Batches of very different lengths: the logged perplexity is exp(total NLL / total words), not the
    mean of the batches' means; `val/ppl_known` leaves out the [UNK] targets."""
    torch.manual_seed(0)
    lm = LanguageModel(vocab_size=40, embedding_dim=4, hidden_size=6, cutoffs=[10, 20], div_value=2.0)
    rng = np.random.default_rng(0)
    batches = []
    for length, count in ((3, 8), (60, 2), (12, 5)):
        ids = torch.from_numpy(rng.integers(2, 40, size=(count, length)))
        ids[rng.random(ids.shape) < 0.2] = UNK_ID
        ids[0, : length // 3] = PAD_ID  # one padded review per batch
        batches.append({"input_ids": ids})
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    (logged,) = trainer.validate(lm, dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))

    lm.eval()
    total = known_total = words = known_words = 0.0
    with torch.no_grad():
        for batch in batches:
            for review in batch["input_ids"]:  # each review alone, without its padding
                for nll, targets in lm.token_nll(review[review != PAD_ID].unsqueeze(0)):
                    total, words = total + nll.sum().item(), words + len(nll)
                    known = targets != UNK_ID
                    known_total, known_words = (
                        known_total + nll[known].sum().item(),
                        known_words + known.sum().item(),
                    )
    assert logged["val/loss"] == pytest.approx(total / words, rel=1e-5)
    assert logged["val/ppl"] == pytest.approx(math.exp(total / words), rel=1e-5)
    assert logged["val/ppl_known"] == pytest.approx(math.exp(known_total / known_words), rel=1e-5)
    batch_means = [torch.stack(lm.losses(b["input_ids"])).mean().item() for b in batches]
    assert (
        abs(math.exp(np.mean(batch_means)) - logged["val/ppl"]) > 0.01 * logged["val/ppl"]
    )  # the old figure
