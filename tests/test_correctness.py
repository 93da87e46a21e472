"""What every reported number rests on: batches that reshuffle, the best checkpoint of a resumed run,
scores that do not depend on the batch, the n-gram bag's scale, one decision threshold."""

from __future__ import annotations

import json

import lightning as L
import numpy as np
import pytest
import torch
from helpers import run_module, tiny_train_overrides
from torchmetrics.classification import BinaryAccuracy

from lstm_imdb.data import IMDBDataModule
from lstm_imdb.data.batching import PadCollate
from lstm_imdb.models import SentimentClassifier
from lstm_imdb.models.encoder import RNNEncoder
from lstm_imdb.models.ngram import NgramBag
from lstm_imdb.models.regularization import word_dropout
from lstm_imdb.runs.report import deduplicated_metrics, split_metrics
from lstm_imdb.utils.decision import THRESHOLD, predicted_labels


# ------------------------------------------------------------------ bucketed batches reshuffle
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


# ------------------------------------------------------------------ resume keeps the whole run's best
def test_a_resumed_run_tests_the_best_checkpoint_of_the_whole_run(acl_dir, tmp_path):
    """Run A trains 2 epochs and is stopped; run B resumes it from last.ckpt for 2 more epochs whose
    weights are spoiled before every validation (helpers.SpoilBeforeValidation), so the best epoch is one
    before the stop. B must test A's best checkpoint, and remember A's best val/acc. If A's best
    checkpoint is gone, the resumed run says so and reports what it tests."""
    run_a, run_b = tmp_path / "logs" / "a", tmp_path / "logs" / "b"
    run_module(
        "lstm_imdb.train", *tiny_train_overrides(acl_dir, run_a, "trainer.max_epochs=2"), root=tmp_path
    )
    run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(
            acl_dir,
            run_b,
            "trainer.max_epochs=4",
            f"ckpt_path={run_a / 'checkpoints' / 'last.ckpt'}",
            "+callbacks.spoil._target_=helpers.SpoilBeforeValidation",
        ),
        root=tmp_path,
    )
    history = json.loads((run_b / "history.json").read_text())
    assert [r["epoch"] for r in history] == [0, 1, 2, 3]
    before, after = [r["val/acc"] for r in history[:2]], [r["val/acc"] for r in history[2:]]
    assert max(after) < max(before)  # the spoiled epochs are worse

    a, b = (json.loads((run / "test_metrics.json").read_text()) for run in (run_a, run_b))
    assert b["best_checkpoint"] == str(run_b / "checkpoints" / "best.ckpt")  # the new folder is complete
    tested = torch.load(b["best_checkpoint"], map_location="cpu", weights_only=True)
    assert tested["epoch"] == int(np.argmax(before))  # saved during that epoch (0-based)
    assert b["test/acc"] == a["test/acc"] and b["test/loss"] == a["test/loss"]  # the same weights
    assert b["val/acc_best"] == pytest.approx(max(before))
    assert (run_a / "checkpoints" / "best.ckpt").is_file()  # the earlier folder is left as it was

    # Run C resumes A as B did, but A's best.ckpt was deleted first: C warns, and both its tested
    # checkpoint and its val/acc_best come from the epochs C trained (not from a checkpoint that is gone).
    run_c = tmp_path / "logs" / "c"
    (run_a / "checkpoints" / "best.ckpt").unlink()
    proc = run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(
            acl_dir,
            run_c,
            "trainer.max_epochs=4",
            f"ckpt_path={run_a / 'checkpoints' / 'last.ckpt'}",
            "+callbacks.spoil._target_=helpers.SpoilBeforeValidation",
        ),
        root=tmp_path,
    )
    assert "is gone (deleted or moved)" in proc.stdout + proc.stderr
    after_c = [r["val/acc"] for r in json.loads((run_c / "history.json").read_text())[2:]]
    c = json.loads((run_c / "test_metrics.json").read_text())
    assert c["best_checkpoint"] == str(run_c / "checkpoints" / "best.ckpt")
    tested = torch.load(c["best_checkpoint"], map_location="cpu", weights_only=True)
    assert tested["epoch"] == 2 + int(np.argmax(after_c))
    assert c["val/acc_best"] == pytest.approx(max(after_c))  # describes what was tested
    assert max(after_c) < max(before)


# ------------------------------------------------------------------ scores do not depend on the batch
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


def test_predict_scores_a_review_the_same_in_any_file_and_as_evaluated_unbucketed(trained):
    from lstm_imdb.inference.checkpoint import load_checkpoint
    from lstm_imdb.inference.predictor import Predictor

    _, run_dir, _ = trained
    loaded = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    predictor = Predictor(loaded, batch_size=128)
    short = "A superb film."
    longs = [" ".join(["the plot was dull and the acting awful"] * 8)] * 80
    alone = predictor.predict_proba([short])[0]
    among_long = predictor.predict_proba([*longs, short])[-1]
    # as an unbucketed checkpoint trains and evaluates: every review padded to sequence_length
    hp = loaded.data_hparams
    fixed = PadCollate(hp["sequence_length"], hp["padding_side"], hp["truncation_side"], pad_to_longest=False)
    ids = np.asarray(loaded.tokenizer.encode(short).ids, dtype=np.int64)
    with torch.inference_mode():
        padded = torch.sigmoid(loaded.model(fixed([(ids, 0)])["input_ids"])).item()
    assert alone == pytest.approx(among_long, abs=1e-5)
    assert alone == pytest.approx(padded, abs=1e-5)


# ------------------------------------------------------------------ the n-gram bag's scale
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


# ------------------------------------------------------------------ one threshold, duplicate-aware test
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


# ------------------------------------------------------------------ precision
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
