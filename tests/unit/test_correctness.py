"""What every reported number rests on: batches that reshuffle, the best checkpoint of a resumed run,
scores that do not depend on the batch, the n-gram bag's scale, one decision threshold. The in-process checks; the runs
are in tests/e2e/test_correctness.py."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from torchmetrics.classification import BinaryAccuracy

from lstm_imdb.data import IMDBDataModule
from lstm_imdb.models import SentimentClassifier
from lstm_imdb.models.encoder import RNNEncoder
from lstm_imdb.models.ngram import NgramBag
from lstm_imdb.models.regularization import word_dropout
from lstm_imdb.runs.report import deduplicated_metrics, split_metrics
from lstm_imdb.utils.decision import THRESHOLD, predicted_labels


class RecordBatches(L.Callback):
    def __init__(self):
        self.epochs: dict[int, list[tuple]] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.epochs.setdefault(trainer.current_epoch, []).append(tuple(batch["index"].tolist()))


def _fit(acl_dir, data_dir, max_epochs, ckpt_path=None):
    L.seed_everything(3)
    dm = IMDBDataModule(
        data_dir=str(data_dir), source="acl", acl_dir=str(acl_dir), num_words=50, batch_size=16, seed=3
    )
    model = SentimentClassifier(vocab_size=50, embedding_dim=4, hidden_size=8)
    recorder = RecordBatches()
    trainer = L.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[recorder],
    )
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path, weights_only=False)
    return trainer, recorder.epochs


def test_bucketed_batches_reshuffle_every_epoch_and_a_resumed_run_draws_the_same(acl_dir, tmp_path):
    _, full = _fit(acl_dir, tmp_path / "data", max_epochs=3)
    assert sorted(full) == [0, 1, 2]
    assert full[0] != full[1] != full[2] != full[0]  # batch order and composition change
    for epoch in full.values():  # each epoch still covers every training review once
        assert sorted(i for batch in epoch for i in batch) == sorted(i for batch in full[0] for i in batch)

    first, _ = _fit(acl_dir, tmp_path / "data", max_epochs=1)
    ckpt = tmp_path / "after_epoch_0.ckpt"
    first.save_checkpoint(ckpt)
    _, resumed = _fit(acl_dir, tmp_path / "data", max_epochs=3, ckpt_path=str(ckpt))
    assert sorted(resumed) == [1, 2]
    assert resumed[1] == full[1] and resumed[2] == full[2]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {
            "bidirectional": True,
            "pooling": "mean_max",
            "num_layers": 2,
            "ngram_order": 2,
            "ngram_buckets": 97,
        },
        {"cell": "gru", "bidirectional": True, "pooling": "last"},
    ],
)
def test_a_review_scores_the_same_alone_and_beside_long_reviews(options):
    torch.manual_seed(0)
    enc = RNNEncoder(vocab_size=50, embedding_dim=8, hidden_size=16, **options)
    for p in enc.parameters():  # non-zero biases everywhere: padding steps would move the state
        torch.nn.init.normal_(p, 0.0, 0.3)
    enc.eval()
    review = torch.randint(2, 50, (1, 7))
    longs = torch.randint(2, 50, (5, 40))
    alone = enc(review)
    left = enc(torch.cat([torch.cat([torch.zeros(1, 33, dtype=torch.long), review], 1), longs]))[:1]
    right = enc(torch.cat([torch.cat([review, torch.zeros(1, 33, dtype=torch.long)], 1), longs]))[:1]
    torch.testing.assert_close(left, alone, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(right, alone, rtol=1e-5, atol=1e-5)


def test_ngram_bag_gives_the_same_logit_at_evaluation_as_training_does_in_expectation():
    torch.manual_seed(0)
    p_word, p_ngram = 0.5, 0.2
    bag = NgramBag(vocab_size=40, order=2, buckets=101, dropout=p_ngram, scale=3.0, word_dropout=p_word)
    torch.nn.init.normal_(bag.weight.weight, 0.5, 1.0)  # mostly positive: a scale error shows
    ids = torch.randint(2, 40, (1, 120))
    draws = 4000
    batch = ids.expand(draws, -1)
    bag.train()
    with torch.no_grad():
        training = bag(word_dropout(batch, p_word, True, unk_id=1, pad_id=0)).mean()
        evaluation = bag.eval()(ids)[0]
    assert float(evaluation) == pytest.approx(float(training), rel=0.02)


def test_one_decision_threshold_everywhere():
    probs = np.array([0.2, THRESHOLD, 0.7], dtype=np.float32)
    labels = np.array([0, 1, 1])
    assert predicted_labels(probs).tolist() == [0, 0, 1]  # exactly 0.5 is negative
    logged = BinaryAccuracy(threshold=THRESHOLD)(torch.from_numpy(probs), torch.from_numpy(labels))
    assert split_metrics("test", probs, labels)["test/acc"] == pytest.approx(float(logged))


def test_deduplicated_metrics_leave_out_test_reviews_seen_in_train():
    probs = np.array([0.9, 0.1, 0.8, 0.2])
    labels = np.array([1, 1, 0, 0])
    seen = np.array([False, True, True, False])
    out = deduplicated_metrics({"test": (probs, labels)}, {"test": seen})
    assert out["test_dedup/acc"] == 1.0 and out["test_dedup/removed"] == 2
    # predictions for some rows only (test batches limited): the mask is taken at those rows
    part = deduplicated_metrics({"test": (probs[2:], labels[2:])}, {"test": seen}, {"test": np.array([2, 3])})
    assert part["test_dedup/removed"] == 1 and part["test_dedup/acc"] == 1.0


def test_datamodule_marks_test_reviews_that_occur_in_train(acl_dir, tmp_path):
    import shutil

    acl = tmp_path / "acl"
    shutil.copytree(acl_dir, acl)
    copied = sorted((acl / "train" / "pos").iterdir())[0].read_text()
    (acl / "test" / "pos" / "999_9.txt").write_text(copied)
    dm = IMDBDataModule(data_dir=str(tmp_path / "data"), source="acl", acl_dir=str(acl), num_words=50)
    dm.setup()
    seen = dm.seen_in_train["test"]
    assert len(seen) == len(dm.splits["test"]) == 201
    texts = dm.dataset["test"]["text"]
    assert copied in [t for t, s in zip(texts, seen, strict=True) if s]


def test_the_bags_logit_is_added_in_fp32_to_a_bf16_recurrent_logit():
    """bf16-mixed: the recurrent logit is bf16, the n-gram bag's is fp32; the sum must be taken in fp32
    (a bag logit of a few units cast to bf16 moves by up to a few hundredths). The recurrent path's
    bf16 output is stood in for, so that the test runs on CPUs without bf16 LSTM kernels."""
    torch.manual_seed(0)
    enc = RNNEncoder(vocab_size=30, embedding_dim=6, hidden_size=8, ngram_order=2, ngram_buckets=64).eval()
    torch.nn.init.normal_(enc.ngrams.weight.weight, std=2.0)  # bag logits of several units
    ids = torch.randint(2, 30, (32, 12))
    recurrent = torch.randn(32).to(torch.bfloat16)
    enc.recurrent_logit = lambda embedded, mask: recurrent
    with torch.no_grad():
        logits, bag = enc(ids), enc.ngrams(enc.embed(ids)[0])
    assert logits.dtype == torch.float32 and bag.dtype == torch.float32
    assert torch.equal(logits, recurrent.float() + bag)
    assert (bag - bag.to(torch.bfloat16).float()).abs().max() > 1e-3  # what a cast to bf16 would lose
