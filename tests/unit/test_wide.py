"""The wide part (#24): the full text's hashed n-grams in batches, NBSVM fitted into the layer, training on
out-of-fold logits, and its options' errors. The runs (checkpoint, predict, evaluate) are in
tests/e2e/test_wide_runs.py."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from scipy import sparse

from lstm_imdb.data import IMDBDataModule
from lstm_imdb.data.wide import wide_features, wide_settings
from lstm_imdb.inference.ensemble_blend import validation_member_logits
from lstm_imdb.models import SentimentClassifier
from lstm_imdb.models.encoder import EnsembleEncoder
from lstm_imdb.models.linear import NBWeighting, fit_logistic
from lstm_imdb.models.wide import fit_blend, fit_wide, wide_fit_settings

SETTINGS = {"order": 2, "buckets": 4096}


def make_dm(acl_dir, data_dir, **kw):
    options = dict(num_words=50, sequence_length=20, batch_size=16, eval_batch_size=32)
    return IMDBDataModule(data_dir=str(data_dir), source="acl", acl_dir=str(acl_dir), **{**options, **kw})


def wide_model(**kw) -> SentimentClassifier:
    return SentimentClassifier(
        vocab_size=50,
        embedding_dim=8,
        hidden_size=8,
        wide_buckets=SETTINGS["buckets"],
        **{"wide_fit": {"folds": 3, "C": 2.0}, **kw},
    )


@pytest.mark.parametrize("negation", [False, True])
def test_batches_carry_every_ngram_of_the_full_text_not_only_the_capped_vocabulary(
    acl_dir, data_dir, negation
):
    wide = {**SETTINGS, "negation": True} if negation else SETTINGS
    dm = make_dm(acl_dir, data_dir, wide=wide, sequence_length=5)  # the recurrence sees 5 tokens
    dm.setup("fit")
    assert dm.hparams.wide["token_pattern"]  # the defaults are filled in: a checkpoint holds them all
    assert dm.hparams.wide["negation"] is negation
    texts = [dm.dataset["train"]["text"][i] for i in dm.train_val_rows(len(dm.dataset["train"]))[0]]
    batch = next(iter(dm.train_dataloader()))
    ids, offsets = batch["wide_ids"], batch["wide_offsets"]
    assert offsets[0] == 0 and offsets.shape == batch["labels"].shape
    ends = [*offsets[1:].tolist(), len(ids)]
    for k, row in enumerate(batch["index"].tolist()):
        expected = wide_features([texts[row]], dm.hparams.wide).indices
        assert sorted(ids[offsets[k] : ends[k]].tolist()) == sorted(expected.tolist())
        assert len(expected) > 5  # every word and bigram of the review, not its last 5 tokens


def test_the_fitted_layer_is_nbsvm_and_training_reads_out_of_fold_logits(acl_dir, data_dir):
    dm = make_dm(acl_dir, data_dir, wide=SETTINGS)
    dm.setup("fit")
    X, y = dm.wide["train"], dm.splits["train"].labels
    s = wide_fit_settings({"folds": 3, "C": 2.0})
    fitted = fit_wide(X, y, s)
    nb = NBWeighting(1.0).fit(X, y)
    clf = fit_logistic(nb.transform(X), y, 2.0, 1000)
    # the layer's logit is NBSVM's decision function on the NB-scaled features
    np.testing.assert_allclose(
        X @ fitted.weight + fitted.bias, clf.decision_function(nb.transform(X)), rtol=1e-4, atol=1e-4
    )
    # out-of-fold logits come from fits that did not see the row: less sure of it than the full fit
    in_sample = X @ fitted.weight + fitted.bias
    assert np.mean(np.abs(fitted.out_of_fold)) < np.mean(np.abs(in_sample))
    assert not np.allclose(fitted.out_of_fold, in_sample)

    model = wide_model()
    model._fit_wide_part(dm)
    batch = next(iter(dm.train_dataloader()))
    model.train()
    train_in = model.wide_inputs(batch)
    assert torch.equal(train_in["wide_raw"], model.wide_out_of_fold[batch["index"]])
    model.eval()
    eval_in = model.wide_inputs(batch)
    layer = model.net.wide(eval_in["wide_ids"], eval_in["wide_offsets"])
    np.testing.assert_allclose(layer.numpy(), in_sample[batch["index"].numpy()], rtol=1e-4, atol=1e-4)
    assert not model.net.wide.weight.weight.requires_grad  # fixed: the recurrence learns on top


def test_refit_with_validation_tests_with_every_training_review_and_validates_without_them(acl_dir, data_dir):
    """model.wide_fit.refit_with_validation: test and predict read NBSVM refitted on the training and
    validation reviews (as baseline=nbsvm refits before its test); validation, and the ensemble blend's
    validation logits, read the fit that has not seen them; the deep part trains as before."""
    dm = make_dm(acl_dir, data_dir, wide=SETTINGS)
    dm.setup("fit")
    X, y = dm.wide["train"], dm.splits["train"].labels
    Xv, yv = dm.wide["val"], dm.splits["val"].labels
    s = wide_fit_settings({"folds": 3, "C": 2.0})
    alone = fit_wide(X, y, s)
    model = wide_model(wide_fit={"folds": 3, "C": 2.0, "refit_with_validation": True})
    model._fit_wide_part(dm)
    wide = model.net.wide
    assert not wide.held_out.weight.weight.requires_grad  # fixed as well
    np.testing.assert_array_equal(wide.held_out.weight.weight.squeeze(1).numpy(), alone.weight)
    np.testing.assert_array_equal(model.wide_out_of_fold.numpy(), alone.out_of_fold)  # training unchanged
    both = fit_wide(sparse.vstack([X, Xv]).tocsr(), np.concatenate([y, yv]), s)
    np.testing.assert_array_equal(wide.weight.weight.squeeze(1).numpy(), both.weight)
    assert wide.bias.item() == pytest.approx(both.bias)
    batch = next(iter(dm.val_dataloader()))
    inputs = {k: batch[k] for k in ("wide_ids", "wide_offsets")}
    rows = batch["index"].numpy()
    model.eval()
    np.testing.assert_allclose(
        wide(**inputs).numpy(), (Xv @ both.weight + both.bias)[rows], rtol=1e-4, atol=1e-4
    )
    model.on_validation_start()  # Lightning's hook: validation reads the held-out fit
    np.testing.assert_allclose(
        wide(**inputs).numpy(), (Xv @ alone.weight + alone.bias)[rows], rtol=1e-4, atol=1e-4
    )
    model.on_validation_end()
    assert not wide.scoring_validation
    # checkpoints store both fits, sparse where smaller, and load into a model of the same settings
    checkpoint = {"state_dict": model.state_dict()}
    model.on_save_checkpoint(checkpoint)
    assert {"net.wide.weight.weight", "net.wide.held_out.weight.weight"} <= set(checkpoint["state_dict"])
    fresh = wide_model(wide_fit={"folds": 3, "C": 2.0, "refit_with_validation": True})
    fresh.load_state_dict(checkpoint["state_dict"])
    assert torch.equal(fresh.net.wide.held_out.weight.weight, wide.held_out.weight.weight)
    assert wide_model().net.wide.held_out is None  # without the option: one fit, as before
    # the second table draws no random numbers: training's dropout masks are those of the run without it
    draws = []
    for refit in (False, True):
        torch.manual_seed(0)
        wide_model(wide_fit={"folds": 3, "refit_with_validation": refit})
        draws.append(torch.rand(4))
    assert torch.equal(*draws)


def test_the_nbsvm_fit_is_cached_by_what_it_reads_and_a_corrupt_entry_is_refitted(acl_dir, data_dir, caplog):
    """A second fit of the same data and settings (another seed of `experiment=best`, a resume, a DDP rank)
    reads the first's fit from the data folder, bit for bit; other settings or the refit are other entries;
    a damaged entry is refitted, not used."""
    dm = make_dm(acl_dir, data_dir, wide=SETTINGS)
    dm.setup("fit")
    X, y = dm.wide["train"], dm.splits["train"].labels
    fresh = fit_wide(X, y, wide_fit_settings({"folds": 3, "C": 2.0}))

    def layer_of(**wide_fit):
        model = wide_model(wide_fit={"folds": 3, "C": 2.0, **wide_fit})
        model._fit_wide_part(dm)
        return model

    first, second = layer_of(), layer_of()
    assert not first.knowledge["wide"]["cached"] and second.knowledge["wide"]["cached"]
    for model in (first, second):
        np.testing.assert_array_equal(model.net.wide.weight.weight.squeeze(1).numpy(), fresh.weight)
        assert model.net.wide.bias.item() == np.float32(fresh.bias)
        np.testing.assert_array_equal(model.wide_out_of_fold.numpy(), fresh.out_of_fold)
    entries = sorted((data_dir / "wide_fits").glob("nbsvm-*"))
    assert len(entries) == 1
    assert not layer_of(C=1.0).knowledge["wide"]["cached"]  # another C: another fit
    refit = layer_of(refit_with_validation=True)  # the refit reads the validation rows too: another entry
    assert not refit.knowledge["wide"]["cached"]
    assert layer_of(refit_with_validation=True).knowledge["wide"]["cached"]
    assert len(list((data_dir / "wide_fits").glob("nbsvm-*"))) == 3

    (entries[0] / "fit.npz").write_bytes(b"truncated")
    with caplog.at_level("WARNING"):
        again = layer_of()
    assert "incomplete or corrupt: rebuilding it" in caplog.text and not again.knowledge["wide"]["cached"]
    np.testing.assert_array_equal(again.wide_out_of_fold.numpy(), fresh.out_of_fold)
    assert layer_of().knowledge["wide"]["cached"]


def test_ensemble_weights_fitted_on_validation_read_the_members_held_out_fits(acl_dir, data_dir):
    """`ensemble_weights=validation` fits on the members' validation logits: from the fits that have not seen
    those reviews, as the members' own validation was scored; test reads the refitted ones again after."""
    dm = make_dm(acl_dir, data_dir, wide=SETTINGS)
    dm.setup("fit")
    members = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        member = wide_model(wide_fit={"folds": 3, "C": 2.0, "refit_with_validation": True})
        member._fit_wide_part(dm)
        members.append(member.eval())
    ensemble = members[0]
    nets = [m.net for m in members]
    ensemble.net = EnsembleEncoder(nets)
    logits, labels = validation_member_logits(SimpleNamespace(model=ensemble), dm)
    rows = np.concatenate([b["index"].numpy() for b in dm.val_dataloader()])
    np.testing.assert_array_equal(labels, dm.splits["val"].labels[rows])
    X = dm.wide["val"][rows]
    with torch.no_grad():
        for k, net in enumerate(nets):
            held_out = net.wide.held_out
            wide = X @ held_out.weight.weight.squeeze(1).numpy() + held_out.bias.item()
            deep = torch.cat([net.deep_logit(b["input_ids"]) for b in dm.val_dataloader()]).numpy()
            w = net.blend.numpy()
            np.testing.assert_allclose(logits[:, k], w[0] * wide + w[1] * deep + w[2], rtol=1e-4, atol=1e-4)
    assert not any(net.wide.scoring_validation for net in nets)  # back to the refitted fits


def test_the_wide_fit_gives_buckets_in_few_training_reviews_or_outside_the_cap_no_weight(acl_dir, data_dir):
    dm = make_dm(acl_dir, data_dir, wide=SETTINGS)
    dm.setup("fit")
    X, y = dm.wide["train"], dm.splits["train"].labels
    fitted = fit_wide(X, y, wide_fit_settings({"folds": 3, "min_df": 3}))
    present = X.getnnz(axis=0)
    assert (fitted.weight[present < 3] == 0).all() and (fitted.weight[present >= 3] != 0).any()
    capped = fit_wide(X, y, wide_fit_settings({"folds": 3, "max_features": 50}))
    assert 0 < (capped.weight != 0).sum() <= 50
    assert set(np.flatnonzero(capped.weight)) <= set(np.argsort(-present, kind="stable")[:50])


def test_the_parts_are_blended_as_blend_says_and_missing_features_are_named():
    model = wide_model().eval()
    ids = torch.randint(2, 50, (3, 7))
    raw = torch.tensor([2.0, -1.0, 0.5])
    with torch.no_grad():
        deep = model.net.deep_logit(ids)
        model.net.blend.copy_(torch.tensor([0.5, 2.0, -0.25]))
        np.testing.assert_allclose(model.net(ids, wide_raw=raw), 0.5 * raw + 2.0 * deep - 0.25, rtol=1e-5)
    assert not model.net.blend.requires_grad  # set on validation, not by the optimizer
    with pytest.raises(ValueError, match="wide_ids and wide_offsets"):
        model(ids)


@pytest.mark.parametrize("weighted", [10, 2000])
def test_checkpoints_store_the_wide_weights_sparse_only_where_that_is_smaller(weighted):
    model = wide_model()
    key = "net.wide.weight.weight"
    with torch.no_grad():
        model.net.wide.weight.weight[torch.randperm(SETTINGS["buckets"])[:weighted]] = 0.5
    checkpoint = {"state_dict": model.state_dict(), "current_model_state": model.state_dict()}
    model.on_save_checkpoint(checkpoint)
    for state in (checkpoint["state_dict"], checkpoint["current_model_state"]):
        # an index and a value per weighted bucket, against a value per bucket
        assert state[key].is_sparse == (weighted * 12 < SETTINGS["buckets"] * 4)
    fresh = wide_model()
    fresh.load_state_dict(checkpoint["state_dict"])
    assert torch.equal(fresh.net.wide.weight.weight, model.net.wide.weight.weight)
    assert (model.state_dict()[key] != 0).sum() == weighted  # the model's own weights were left as they were


def test_the_blend_is_the_logistic_regression_of_the_labels_on_the_parts():
    rng = np.random.default_rng(0)
    wide, deep = rng.normal(size=400), rng.normal(size=400)
    labels = (rng.random(400) < 1 / (1 + np.exp(-(2.0 * wide + 0.5 * deep)))).astype(np.int64)
    a, b, c = fit_blend(torch.tensor(deep).float(), torch.tensor(wide).float(), torch.tensor(labels)).tolist()
    assert a > 3 * b > 0 and abs(c) < 0.5  # the part that carries the labels weighs more


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: wide_settings({"order": 0}), r"data.wide.order=0: must be an integer >= 1"),
        (lambda: wide_settings({"bukets": 8}), r"data.wide.bukets: unknown key"),
        (lambda: wide_fit_settings({"beta": 2}), r"model.wide_fit.beta=2: the interpolation weight"),
        (lambda: wide_fit_settings({"folds": 1}), r"model.wide_fit.folds=1: must be an integer >= 2"),
        (lambda: wide_fit_settings({"min_df": 0}), r"model.wide_fit.min_df=0: must be an integer >= 1"),
        (
            lambda: wide_fit_settings({"max_features": 0}),
            r"model.wide_fit.max_features=0: null \(every bucket\) or an integer >= 1",
        ),
        (
            lambda: wide_fit_settings(OmegaConf.create({"C": -1})),
            r"model.wide_fit.C=-1: must be a number > 0",
        ),
    ],
)
def test_bad_wide_options_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_wide_model_without_wide_features_fails_with_the_way_out(acl_dir, data_dir):
    dm = make_dm(acl_dir, data_dir)  # no data.wide
    dm.setup("fit")
    with pytest.raises(ValueError, match="set data.wide"):
        wide_model()._fit_wide_part(dm)


def test_the_deep_part_own_loss_is_its_logit_without_the_wide_part():
    model = wide_model(deep_loss_weight=1.0, dropout=0.0, recurrent_dropout=0.0).train()
    model.wide_out_of_fold = torch.tensor([3.0, -3.0, 2.0, -2.0])
    batch = {
        "input_ids": torch.randint(2, 50, (4, 9)),
        "labels": torch.tensor([1, 0, 0, 1]),
        "index": torch.arange(4),
    }
    logged = {}
    model.log = lambda name, value, **kwargs: logged.__setitem__(name, value)
    model.log_dict = lambda values, **kwargs: None
    total = model.training_step(batch, 0)
    recurrent = model.net.deep_logit(batch["input_ids"])
    own = torch.nn.functional.binary_cross_entropy_with_logits(recurrent, batch["labels"].float())
    assert torch.isclose(logged["train/deep_loss"], own, rtol=1e-5)
    assert torch.isclose(total, logged["train/loss"] + own, rtol=1e-5)
