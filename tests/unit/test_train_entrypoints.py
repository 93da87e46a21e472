"""`python -m lstm_imdb.train`, `evaluate` and `predict` end to end on tiny data, as a user runs them. The in-process checks; the runs
are in tests/e2e/test_train_entrypoints.py."""

from __future__ import annotations


def test_ensemble_averages_member_probabilities():
    import torch

    from lstm_imdb.models.encoder import EnsembleEncoder, RNNEncoder

    torch.manual_seed(0)
    a, b = RNNEncoder(vocab_size=20, embedding_dim=4, hidden_size=4).eval(), RNNEncoder(vocab_size=20).eval()
    ids = torch.randint(1, 20, (3, 5))
    want = (torch.sigmoid(a(ids)) + torch.sigmoid(b(ids))) / 2
    torch.testing.assert_close(torch.sigmoid(EnsembleEncoder([a, b])(ids)), want)
