"""Getting IMDB: the acl folder, the PyPI rebuild (network), `auto`, the cache and its failures. The runs; the in-process checks
are in tests/unit/test_data_sources.py."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from lstm_imdb.data.cache import is_complete, load_or_build


def _build_slowly(folder: Path, builds: Path, results: Path) -> None:
    """One of several processes wanting the same cache entry (a trial of a parallel sweep)."""

    def build(tmp: Path) -> None:
        with builds.open("a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(1.0)  # long enough for the other process to arrive while this one builds
        (tmp / "value.txt").write_text("built once")

    value = load_or_build(folder, lambda f: (f / "value.txt").read_text(), build)
    with results.open("a") as f:
        f.write(value + "\n")


def test_concurrent_processes_build_a_cache_entry_once(tmp_path):
    folder, builds, results = tmp_path / "entry", tmp_path / "builds.txt", tmp_path / "results.txt"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_build_slowly, args=(folder, builds, results)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert len(builds.read_text().split()) == 1  # the others waited for it, then loaded it
    assert results.read_text().splitlines() == ["built once"] * 3
    assert is_complete(folder)
