"""`IMDBDataModule` on a tiny aclImdb folder: splits, batches, caches, validation of options."""

from __future__ import annotations

import pytest
import torch

from lstm_imdb.data import IMDBDataModule


def make_dm(acl_dir, data_dir, **kw):
    return IMDBDataModule(
        data_dir=str(data_dir),
        source="acl",
        acl_dir=str(acl_dir),
        num_words=50,
        sequence_length=20,
        batch_size=16,
        eval_batch_size=32,
        **kw,
    )


def test_splits_and_batches(acl_dir, data_dir):
    dm = make_dm(acl_dir, data_dir)
    dm.prepare_data()
    dm.setup("fit")
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 180, "val": 20, "test": 200}
    assert dm.test_split_names == ["test"]
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"input_ids", "lengths", "labels", "index"}
    assert batch["input_ids"].dtype == torch.int64 and batch["input_ids"].shape[0] == 16
    assert batch["input_ids"].shape[1] <= 20
    assert int(batch["input_ids"].max()) < 50
    # left padding: the last column is always a real token
    assert bool((batch["input_ids"][:, -1] != 0).all())
    assert sum(len(b["labels"]) for b in dm.train_dataloader()) == 180
    assert sum(len(b["labels"]) for b in dm.test_dataloader()[0]) == 200


def test_fixed_padding_without_buckets(acl_dir, data_dir):
    dm = make_dm(acl_dir, data_dir, bucket=False)
    dm.prepare_data()
    dm.setup()
    assert next(iter(dm.val_dataloader()))["input_ids"].shape[1] == 20


def test_bucket_pool_sets_how_far_training_batches_are_sorted(acl_dir, data_dir):
    """data.bucket_pool=1: each batch is a random draw, padded to its longest review; a pool over the whole
    split makes batches of neighbouring lengths (less padding, less random batches)."""

    def padding(pool):
        dm = make_dm(acl_dir, data_dir, bucket_pool=pool)
        dm.prepare_data()
        dm.setup("fit")
        loader = dm.train_dataloader()
        assert loader.batch_sampler.pool_batches == pool
        return sum(int((b["input_ids"] == 0).sum()) for b in loader)

    assert padding(1) > padding(100)


def _rows(split) -> list[tuple]:
    return [tuple(split.ids(i).tolist()) for i in range(len(split))]


def test_validation_split_is_drawn_by_val_seed_only_and_is_disjoint(acl_dir, data_dir):
    # the run's seed (model init, batch order) does not move the split; val_seed does
    a, b, c = (make_dm(acl_dir, data_dir, seed=s, val_seed=v) for s, v in ((1, 7), (2, 7), (1, 8)))
    for dm in (a, b, c):
        dm.prepare_data()
        dm.setup()
    assert _rows(a.splits["val"]) == _rows(b.splits["val"])
    assert a.splits["val"].labels.tolist() == b.splits["val"].labels.tolist()
    assert _rows(a.splits["val"]) != _rows(c.splits["val"])
    # train and validation partition the train split: every review in exactly one of them
    train_rows, val_rows = a.train_val_rows(200)
    assert len(set(train_rows) & set(val_rows)) == 0
    assert sorted([*train_rows, *val_rows]) == list(range(200))
    assert len(a.splits["train"]) + len(a.splits["val"]) == 200


def test_validation_folds_cross_validate_the_train_split(acl_dir, data_dir):
    """data.val_fold: folds 0..k-1 of one draw hold out disjoint blocks that cover the train split; fold 0 is
    the split of runs from before folds; each fold's vocabulary is fitted without its own held-out rows."""
    from lstm_imdb.data.split import validation_split

    assert [a.tolist() for a in validation_split(200, 0.25, 7)] == [
        a.tolist() for a in validation_split(200, 0.25, 7, fold=0)
    ]
    folds = [make_dm(acl_dir, data_dir, val_fraction=0.25, val_seed=7, val_fold=k) for k in range(4)]
    held = [set(dm.train_val_rows(200)[1]) for dm in folds]
    assert [len(h) for h in held] == [50] * 4 and set().union(*held) == set(range(200))
    for dm, rows in zip(folds, held, strict=True):
        train_rows, _ = dm.train_val_rows(200)
        assert set(train_rows) == set(range(200)) - rows
    folds[2].setup()
    texts = folds[2].dataset["train"]["text"]
    fit_rows, _ = folds[2].train_val_rows(len(texts))
    from lstm_imdb.data.tokenizer import fit_tokenizer

    assert folds[2].tokenizer.get_vocab() == fit_tokenizer([texts[i] for i in fit_rows], 50).get_vocab()
    with pytest.raises(
        ValueError, match=r"data.val_fold=4: with data.val_fraction=0.25 the folds are 0 to 3"
    ):
        make_dm(acl_dir, data_dir, val_fraction=0.25, val_fold=4)
    # 1/3 of 200 rounds to 67 a fold: the third is cut at the end of the split
    thirds = [validation_split(200, 0.3333, 7, fold=k)[1] for k in range(3)]
    assert [len(t) for t in thirds] == [67, 67, 66] and len(set().union(*map(set, thirds))) == 200
    with pytest.raises(
        ValueError, match=r"data.val_fold=3: with data.val_fraction=0.3333 the folds are 0 to 2"
    ):
        validation_split(200, 0.3333, 7, fold=3)


def test_vocabulary_is_fitted_on_the_training_part_only(acl_dir, data_dir):
    from lstm_imdb.data.tokenizer import fit_tokenizer

    dm = make_dm(acl_dir, data_dir)
    dm.setup()
    texts = dm.dataset["train"]["text"]
    train_rows, val_rows = dm.train_val_rows(len(texts))
    assert dm.tokenizer.get_vocab() == fit_tokenizer([texts[i] for i in train_rows], 50).get_vocab()


def test_token_cache_never_fits_the_vocabulary_on_held_out_rows(tmp_path):
    from datasets import Dataset, DatasetDict

    from lstm_imdb.data.tokens import build_token_cache

    train = ["good film"] * 6 + ["heldoutword bad"] * 2
    raw = DatasetDict(
        {
            "train": Dataset.from_dict({"text": train, "label": [1] * 6 + [0] * 2}),
            "test": Dataset.from_dict({"text": ["bad heldoutword"], "label": [0]}),
        }
    )
    tok, ids = build_token_cache(raw, 50, tmp_path / "tokens", fit_rows=list(range(6)))
    assert "heldoutword" not in tok.get_vocab() and "good" in tok.get_vocab()
    assert ids["train"][7]["input_ids"] == [1, 1]  # both words unknown to a vocabulary of the fit rows


def test_vocabulary_travels_in_state_dict(acl_dir, data_dir):
    dm = make_dm(acl_dir, data_dir)
    dm.prepare_data()
    dm.setup()
    fresh = make_dm(acl_dir, data_dir)
    fresh.load_state_dict(dm.state_dict())
    assert fresh.tokenizer.get_vocab() == dm.tokenizer.get_vocab()


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"num_words": 1}, "data.num_words"),
        ({"sequence_length": 0}, "data.sequence_length"),
        ({"val_fraction": 1.0}, "data.val_fraction"),
        ({"val_fraction": 0}, "data.val_fraction"),
        ({"padding_side": "middle"}, "data.padding_side"),
        ({"batch_size": 0}, "data.batch_size"),
        ({"source": "kaggle"}, "data.source"),
        ({"source": "acl", "acl_dir": "/no/such/folder"}, "data.acl_dir"),
        ({"source": "acl", "acl_dir": None}, "data.acl_dir"),
        ({"bucket": "maybe"}, "data.bucket"),
        ({"bucket_pool": 0}, "data.bucket_pool"),
    ],
)
def test_bad_options_fail_before_any_work(kwargs, key, tmp_path):
    base = dict(data_dir=str(tmp_path / "d"), source="auto")
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        IMDBDataModule(**{**base, **kwargs})
    assert not (tmp_path / "d").exists()


def test_data_fingerprint_is_recorded_even_for_an_older_cache(acl_dir, data_dir):
    import json

    from lstm_imdb.data import sources

    dm = make_dm(acl_dir, data_dir)
    dm.prepare_data()
    [folder] = [p for p in (data_dir / "imdb").iterdir() if p.is_dir()]
    manifest = json.loads((folder / "manifest.json").read_text())
    want = manifest.pop("fingerprints")
    (folder / "manifest.json").write_text(json.dumps(manifest))  # as written before fingerprints existed
    fresh = make_dm(acl_dir, data_dir)
    fresh.setup()
    assert {k: fresh.data_fingerprint[k] for k in want} == want
    texts = [t for t in fresh.dataset["test"]["text"]]
    labels = list(fresh.dataset["test"]["label"])
    assert want["test"] == sources.split_fingerprint(texts, labels)
    assert "fingerprints" in json.loads((folder / "manifest.json").read_text())


def test_a_given_tokenizer_encodes_every_split_and_reuses_the_fitted_cache_when_it_is_the_same(
    acl_dir, data_dir
):
    """Evaluating a checkpoint: its vocabulary encodes the data, not one fitted again on them."""
    from lstm_imdb.data.tokenizer import encode, fit_tokenizer

    fitted = make_dm(acl_dir, data_dir)
    fitted.setup()

    def caches():
        return {p.name for p in (data_dir / "tokens").iterdir() if not p.name.startswith(".")}

    folders = caches()
    same = make_dm(acl_dir, data_dir, tokenizer=fitted.tokenizer.to_str())
    same.setup()
    assert caches() == folders  # the fitted cache, not a new one
    assert _rows(same.splits["test"]) == _rows(fitted.splits["test"])

    other = fit_tokenizer(["great film", "awful movie", "the plot"], 6)  # another checkpoint's vocabulary
    dm = make_dm(acl_dir, data_dir, tokenizer=other)
    dm.setup()
    assert dm.tokenizer.to_str() == other.to_str()
    texts = dm.dataset["test"]["text"]
    assert [list(dm.splits["test"].ids(i)) for i in range(len(texts))] == encode(other, texts)
    assert max(int(dm.splits["train"].values.max()), int(dm.splits["val"].values.max())) < 6
    assert len(caches()) == len(folders) + 1 and any(n.split("-")[-1].startswith("tok") for n in caches())
    assert "tokenizer" not in dm.hparams  # it travels in the checkpoint's state, not its hyperparameters
