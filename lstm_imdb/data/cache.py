"""Atomic on-disk caches with a manifest, so that a run killed mid-write or a truncated file is
detected on load and rebuilt instead of silently used.

A cache entry is a folder. It is written under a temporary name and renamed into place only once
complete; its `manifest.json` records the size of every file, checked on each load (cheap: no hashing).
Runs that share a data dir (the trials of a parallel sweep) take a lock on the entry, so one builds it
while the others wait and then load it, instead of deleting it under each other's feet.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def _file_sizes(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def is_complete(folder: Path) -> bool:
    """True when `folder` holds a manifest and every file it lists, at the recorded size."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        return manifest["files"] == _file_sizes(folder)
    except (OSError, ValueError, KeyError):
        return False


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())


def write_atomic(folder: Path, write: Callable[[Path], dict | None], meta: dict | None = None) -> Path:
    """Call `write(tmp)` to fill a temporary folder, add the manifest (with whatever dict `write` returns),
    then rename it to `folder`."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        extra = write(tmp) or {}
        manifest = {"files": _file_sizes(tmp), **(meta or {}), **extra}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load_or_build(
    folder: Path,
    load: Callable[[Path], object],
    build: Callable[[Path], dict | None],
    meta: dict | None = None,
    what: str = "cache",
):
    """Load a complete cache entry, or (re)build it when it is missing, partial or unreadable."""
    with entry_lock(folder, what):
        return _load_or_build_locked(folder, load, build, meta, what)


@contextmanager
def entry_lock(folder: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on one cache entry (an OS file lock: freed even when its holder is killed)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder.parent / f".{folder.name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("Waiting for another process that is building or reading the %s at %s", what, folder)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _load_or_build_locked(folder, load, build, meta, what):
    if folder.exists():
        if is_complete(folder):
            try:
                return load(folder)
            except Exception as err:  # a file that is the right size but unreadable
                log.warning("%s at %s is unreadable (%s): rebuilding it", what, folder, err)
        else:
            log.warning("%s at %s is incomplete or corrupt: rebuilding it", what, folder)
        shutil.rmtree(folder, ignore_errors=True)
    write_atomic(folder, build, meta)
    return load(folder)
