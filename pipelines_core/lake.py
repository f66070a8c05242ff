"""The local lake: where each output lives, how it is written atomically, and how it is compared.

Layout: ``<lake_root>/<namespace>/<layer>/<table>/date=<YYYY-MM-DD>[/<key>]``. A partition path
is a symbolic link to an immutable version folder under ``<table>/.versions/``. A write stages
a new version, then swaps the link with one ``os.replace`` (atomic on POSIX), so a reader sees
the old partition or the new one, never half of one, and a crash mid-write leaves the last
good state.

Versions are collected late, the way Delta Lake's vacuum protects concurrent readers: a swap
stamps the version it replaces with the time it stopped being current, and removes only the
versions that are not the current one and were stamped or last changed more than
``VERSION_RETENTION_S`` ago. A reader still scanning the version it resolved, and a
second writer's version fully written but not yet swapped in (two runs of one date at once),
stay whole; whichever writer swaps last wins, with data of its own, never a link to nothing.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

LAYERS = ("bronze", "silver", "gold", "models", "production", "reports", "quality")

# How long a version that is no longer current stays (seconds since it last changed) before a
# later swap of its partition removes it: longer than any read of one partition or write of
# one version takes.
VERSION_RETENTION_S = 3600.0

# Called after an output is staged and before it is swapped in: the fault plan's crash hook.
before_swap: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "before_swap", default=None)


@dataclass(frozen=True)
class Partition:
    """One date partition (optionally sub-keyed, e.g. ``region=emea``) of one table."""

    namespace_root: Path
    layer: str
    table: str
    date: str
    key: str | None = None

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"unknown lake layer {self.layer!r}")

    @property
    def table_path(self) -> Path:
        return self.namespace_root / self.layer / self.table

    @property
    def relative(self) -> str:
        tail = f"date={self.date}" + (f"/{self.key}" if self.key else "")
        return f"{self.layer}/{self.table}/{tail}"

    @property
    def path(self) -> Path:
        return self.namespace_root / self.relative

    @property
    def versions_path(self) -> Path:
        tail = f"date={self.date}" + (f"__{self.key.replace('=', '-')}" if self.key else "")
        return self.table_path / ".versions" / tail

    def exists(self) -> bool:
        return self.path.exists()

    def uri(self) -> str:
        return str(self.path)


def new_version(part: Partition) -> Path:
    """A fresh, empty-named version folder for ``part`` (not yet created)."""
    part.versions_path.mkdir(parents=True, exist_ok=True)
    return part.versions_path / uuid.uuid4().hex


def swap_in(part: Partition, version: Path) -> Path:
    """Point ``part`` at ``version`` atomically, then collect its expired versions."""
    hook = before_swap.get()
    if hook is not None:
        hook()
    part.path.parent.mkdir(parents=True, exist_ok=True)
    if part.path.exists() and not part.path.is_symlink():
        shutil.rmtree(part.path)  # a plain folder left by hand; replace it
    previous = os.path.realpath(part.path) if part.path.is_symlink() else None
    tmp = part.path.parent / f".{part.path.name}.{uuid.uuid4().hex}.tmp"
    os.symlink(os.path.relpath(version, part.path.parent), tmp)
    os.replace(tmp, part.path)
    if previous and previous != os.path.realpath(version):
        try:  # its retention runs from now, when it stopped being current (a tombstone)
            os.utime(previous)
        except FileNotFoundError:
            pass
    collect(part)
    return part.path


def collect(part: Partition, retention_s: float | None = None) -> list[Path]:
    """Remove the versions of ``part`` that are not its current one and have not changed for
    ``retention_s`` (``VERSION_RETENTION_S`` when None); returns what was removed."""
    retention = VERSION_RETENTION_S if retention_s is None else retention_s
    current = os.path.realpath(part.path) if part.path.is_symlink() else None
    cutoff = time.time() - retention
    removed = []
    try:
        versions = list(part.versions_path.iterdir())
    except FileNotFoundError:
        return removed
    for other in versions:
        try:
            stale = other.lstat().st_mtime < cutoff
        except FileNotFoundError:  # another swap collected it first
            continue
        if stale and os.path.realpath(other) != current:
            shutil.rmtree(other, ignore_errors=True)
            removed.append(other)
    return removed


def drop_partition(part: Partition) -> bool:
    """Remove ``part`` and its versions, as if it had never been written. True if it existed."""
    existed = part.path.exists() or part.path.is_symlink()
    if part.path.is_symlink():
        part.path.unlink()
    elif part.path.exists():
        shutil.rmtree(part.path)
    shutil.rmtree(part.versions_path, ignore_errors=True)
    if part.key:  # ``date=<d>/region=<r>``: the date folder goes once it is empty
        try:
            part.path.parent.rmdir()
        except OSError:
            pass
    return existed


def write_parquet(df: Any, part: Partition) -> Path:
    """Write a Spark DataFrame as ``part``, atomically."""
    version = new_version(part)
    df.write.mode("error").parquet(str(version))
    return swap_in(part, version)


def write_json(obj: Any, part: Partition, name: str = "data.json") -> Path:
    """Write a small JSON document as ``part`` (a folder holding ``name``), atomically."""
    version = new_version(part)
    version.mkdir()
    (version / name).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    return swap_in(part, version)


def read_json(part: Partition, name: str = "data.json") -> Any:
    return json.loads((part.path / name).read_text())


def stage_dir(part: Partition) -> Path:
    """A version folder to fill by other means (a Spark ML ``save``); publish with ``swap_in``."""
    return new_version(part)


def checksum_spark(df: Any) -> str:
    """Order-independent content checksum of a DataFrame: row count and the sum of row hashes."""
    from pyspark.sql import functions as F

    cols = sorted(df.columns)
    h = F.xxhash64(*[F.col(c) for c in cols]).cast("decimal(38,0)")
    row = df.select(h.alias("h")).agg(F.count("*").alias("n"), F.sum("h").alias("s")).first()
    schema = ",".join(f"{f.name}:{f.dataType.simpleString()}"
                      for f in sorted(df.schema.fields, key=lambda f: f.name))
    digest = hashlib.sha256(f"{schema}|{row['n']}|{row['s']}".encode()).hexdigest()
    return digest[:16]


def checksum_files(folder: Path) -> str:
    """Checksum of the data files (not Spark's markers) of a folder, by name and bytes."""
    h = hashlib.sha256()
    for f in sorted(Path(folder).rglob("*")):
        if f.is_file() and not f.name.startswith(("_", ".")) and not f.name.endswith(".crc"):
            h.update(f.relative_to(folder).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]
