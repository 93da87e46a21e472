"""Reading what the experiment trackers stored, offline: MLflow's SQLite store through its client, and a
W&B offline run file (`run-*.wandb`: a 7-byte header, then LevelDB-log records of 32 KiB blocks holding
W&B's protobuf `Record`s), since W&B's own reader needs its server."""

from __future__ import annotations

import struct
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7  # ":W&B", a 2-byte magic, a version byte
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def wandb_records(path: Path):
    """Every protobuf Record of a W&B offline run file."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = HEADER, b""
    while pos + 7 <= len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:  # the block's tail is padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0 and length == 0:
            break
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def wandb_contents(path: Path) -> tuple[set[str], dict[str, str]]:
    """(the history keys logged, the config) of a W&B offline run file."""
    keys, config = set(), {}
    for record in wandb_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            keys |= {item.key or "/".join(item.nested_key) for item in record.history.item}
        elif kind == "config":
            config.update(
                {item.key or "/".join(item.nested_key): item.value_json for item in record.config.update}
            )
    return keys, config
