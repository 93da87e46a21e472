"""`LateWeightAveraging` (training/weight_averaging.py) in-process; the runs are in tests/e2e/test_weight_averaging.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lstm_imdb.models.classifier import SentimentClassifier
from lstm_imdb.training.weight_averaging import LateWeightAveraging


def test_validation_scores_the_average_once_there_is_one():
    model = SentimentClassifier(vocab_size=30, embedding_dim=6, hidden_size=8)
    averaging = LateWeightAveraging(start=0.5)
    averaging.setup(None, model, "fit")
    averaging._first_step = 3  # as on_train_start sets it: half of 6 steps
    head = model.net.head.weight
    for step in (1, 2):  # before `start`: nothing averaged, validation sees the weights being trained
        with torch.no_grad():
            head.add_(1.0)
        averaging.on_train_batch_end(SimpleNamespace(global_step=step), model, None, None, step)
    trained = head.detach().clone()
    averaging.on_validation_epoch_start(None, model)
    assert torch.equal(head, trained)
    averaging.on_validation_epoch_end(None, model)
    for step in (4, 5):  # averaged from here: the mean of the two steps' weights
        with torch.no_grad():
            head.add_(1.0)
        averaging.on_train_batch_end(SimpleNamespace(global_step=step), model, None, None, step)
    last = head.detach().clone()
    averaging.on_validation_epoch_start(None, model)
    torch.testing.assert_close(head, last - 0.5)
    averaging.on_validation_epoch_end(None, model)
    assert torch.equal(head, last)  # training goes on from its own weights


@pytest.mark.parametrize(("start", "decay"), [(1.0, None), (-0.1, None), (0.5, 1.0), (0.5, 0.0)])
def test_bad_settings_are_refused(start, decay):
    with pytest.raises(ValueError, match="callbacks.weight_averaging"):
        LateWeightAveraging(start=start, decay=decay)
