"""Read back an offline wandb run: ``run-<id>.wandb`` decoded into history rows, config and artifacts.

wandb 0.31 has no public reader for offline runs. The file is a LevelDB-style log: a 7-byte
header (``:W&B``, a 2-byte magic, a version byte), then 32 KiB blocks of chunks, each with a
7-byte header (4-byte CRC, 2-byte little-endian length, 1-byte type FULL/FIRST/MIDDLE/LAST);
a record is one ``wandb_internal_pb2.Record`` protobuf split into one or more chunks.
"""

from __future__ import annotations

import glob
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from wandb.proto import wandb_internal_pb2

FILE_HEADER = 7
BLOCK = 32 * 1024
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: str) -> list[wandb_internal_pb2.Record]:
    """Every ``Record`` in ``path``, in the order written."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b":W&B", f"{path} is not a wandb run file"
    found, pending, pos = [], b"", FILE_HEADER
    while pos + CHUNK_HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < CHUNK_HEADER:  # the block's tail is padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + CHUNK_HEADER])
        chunk = data[pos + CHUNK_HEADER:pos + CHUNK_HEADER + length]
        pos += CHUNK_HEADER + length
        if kind == 0 and length == 0:
            pos += BLOCK - pos % BLOCK if pos % BLOCK else 0
            continue
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            found.append(record)
            pending = b""
    return found


@dataclass
class OfflineRun:
    """What an offline run recorded."""

    id: str
    project: str
    name: str
    history: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None


def read_run(wandb_dir: str) -> OfflineRun:
    """The one offline run under ``wandb_dir`` (the ``dir`` given to ``wandb.init``)."""
    (path,) = glob.glob(os.path.join(wandb_dir, "**", "offline-run-*", "run-*.wandb"), recursive=True)
    run: OfflineRun | None = None
    config: dict[str, Any] = {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = OfflineRun(id=record.run.run_id, project=record.run.project, name=record.run.display_name)
            config.update(_items(record.run.config.update))
        elif kind == "config":
            config.update(_items(record.config.update))
        elif kind == "history":
            row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            assert run is not None
            run.history.append(row)
        elif kind == "artifact":
            assert run is not None
            artifact = record.artifact
            run.artifacts.append({
                "name": artifact.name, "type": artifact.type, "aliases": list(artifact.aliases),
                "metadata": json.loads(artifact.metadata) if artifact.metadata else {},
                "files": sorted(entry.path for entry in artifact.manifest.contents),
            })
        elif kind == "exit":
            assert run is not None
            run.exit_code = record.exit.exit_code
    assert run is not None, f"{path} has no run record"
    run.config = {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in config.items() if not k.startswith("_")}
    return run


def _items(update: Any) -> dict[str, Any]:
    return {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in update}
