"""Shared fixtures: a tiny aclImdb-layout folder of made-up reviews, learnable from a few words."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from lstm_imdb.cli import startup

startup()  # the config resolvers, as every command registers them

E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(config, items):
    """The tier is the folder: tests/e2e (an entry point in a subprocess, a training run, a notebook) is
    marked `e2e`; `make test-fast` runs tests/unit only."""
    for item in items:
        if Path(item.fspath).resolve().is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


POSITIVE = ["great", "wonderful", "superb", "loved", "brilliant", "moving", "excellent", "delightful"]
NEGATIVE = ["awful", "boring", "terrible", "hated", "dull", "worst", "waste", "clumsy"]
FILLER = ["the", "film", "movie", "plot", "acting", "was", "and", "a", "story", "characters", "it", "this"]


def make_review(rng: random.Random, positive: bool) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(4, 40))]
    cues = POSITIVE if positive else NEGATIVE
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(cues))
    text = " ".join(words).capitalize() + "."
    if rng.random() < 0.3:
        text += "<br /><br />" + rng.choice(["Really.", "Truly!", "Seen it twice."])
    return text


def write_acl(root: Path, n_per_class: int = 100, seed: int = 0) -> Path:
    """train/{pos,neg} and test/{pos,neg}, `n_per_class` reviews each, named like aclImdb (id_rating.txt)."""
    rng = random.Random(seed)
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                rating = rng.randint(7, 10) if label == "pos" else rng.randint(1, 4)
                (folder / f"{i}_{rating}.txt").write_text(make_review(rng, label == "pos"), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def acl_dir(tmp_path_factory) -> Path:
    return write_acl(tmp_path_factory.mktemp("aclImdb"))


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _quiet_and_offline(monkeypatch):
    # Tests never wait on the hub, and keep tokenizers from forking warnings.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture(scope="session")
def trained(tmp_path_factory, acl_dir):
    """One tiny training run through `python -m lstm_imdb.train`: (project root, run folder, process)."""
    from helpers import run_module, tiny_train_overrides

    root = tmp_path_factory.mktemp("project")
    run_dir = root / "logs" / "train" / "runs" / "tiny"
    proc = run_module("lstm_imdb.train", *tiny_train_overrides(acl_dir, run_dir), root=root)
    return root, run_dir, proc
