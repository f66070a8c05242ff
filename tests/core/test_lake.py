"""Atomic partition writes: stage, then swap; a failure before the swap changes nothing."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines_core import lake


def part(tmp_path):
    return lake.Partition(tmp_path / "ns", "silver", "t", "2026-11-02")


def test_write_replaces_the_partition_and_collects_the_old_version_after_its_retention(
        spark, tmp_path):
    p = part(tmp_path)
    lake.write_parquet(spark.range(5), p)
    old = os.path.realpath(p.path)
    lake.write_parquet(spark.range(7), p)
    assert spark.read.parquet(p.uri()).count() == 7
    assert p.path.is_symlink()
    # the replaced version stays for readers that resolved it before the swap...
    assert len(list(p.versions_path.iterdir())) == 2 and os.path.isdir(old)
    assert spark.read.parquet(old).count() == 5
    assert lake.collect(p) == []  # ...for VERSION_RETENTION_S from the swap
    # ...and goes once its retention is over; the current version never does
    assert [str(v) for v in lake.collect(p, retention_s=0)] == [old]
    assert len(list(p.versions_path.iterdir())) == 1
    assert spark.read.parquet(p.uri()).count() == 7


def test_failure_before_the_swap_leaves_the_last_good_state(spark, tmp_path, monkeypatch):
    p = part(tmp_path)
    lake.write_parquet(spark.range(3), p)
    before = lake.checksum_spark(spark.read.parquet(p.uri()))

    def boom():
        raise RuntimeError("crash between stage and swap")

    token = lake.before_swap.set(boom)
    try:
        with pytest.raises(RuntimeError):
            lake.write_parquet(spark.range(100), p)
    finally:
        lake.before_swap.reset(token)
    assert lake.checksum_spark(spark.read.parquet(p.uri())) == before
    monkeypatch.setattr(lake, "VERSION_RETENTION_S", 0.0)
    lake.write_parquet(spark.range(100), p)  # the next write collects the orphaned stage
    assert spark.read.parquet(p.uri()).count() == 100
    assert len(list(p.versions_path.iterdir())) == 1


def test_checksum_ignores_row_order_and_partitioning_but_not_content(spark):
    a = spark.range(1000).repartition(7)
    b = spark.range(1000).orderBy("id", ascending=False).coalesce(1)
    c = spark.range(1001)
    assert lake.checksum_spark(a) == lake.checksum_spark(b)
    assert lake.checksum_spark(a) != lake.checksum_spark(c)


def test_json_partitions_are_swapped_too(tmp_path):
    p = lake.Partition(tmp_path / "ns", "reports", "r", "2026-11-02")
    lake.write_json({"a": 1}, p)
    lake.write_json({"a": 2}, p)
    assert lake.read_json(p) == {"a": 2}


# Two writers swap versions of one partition as fast as they can while a reader reads it,
# each in its own process, all starting together. With versions removed at each swap, a
# writer's fully written version vanished before its own swap (its link then pointed at
# nothing) and the reader met folders removed under it.
RACER = """
import json, sys, time
from pathlib import Path
from pipelines_core import lake
role, root, go, rounds = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
p = lake.Partition(root, "silver", "t", "2026-11-02")
while not go.exists():
    time.sleep(0.001)
errors, seen = [], set()
if role == "reader":
    deadline = time.time() + 60
    while not (root / "done-a").exists() or not (root / "done-b").exists():
        linked = p.path.is_symlink()  # before the read: the writers only replace the link
        try:
            doc = lake.read_json(p)
            assert doc["rows"] == list(range(doc["n"])), doc
            seen.add(doc["writer"])
        except FileNotFoundError:
            if linked:  # a link to a version that is gone: the partition is lost
                errors.append("partition points at nothing")
        except Exception as exc:
            errors.append(repr(exc))
        if time.time() > deadline:
            errors.append("writers did not finish")
            break
else:
    for i in range(rounds):
        lake.write_json({"writer": role, "n": 200, "rows": list(range(200))}, p)
    (root / f"done-{role}").touch()
print(json.dumps({"errors": errors[:5], "count": len(errors), "seen": sorted(seen)}))
"""


def test_two_writers_and_a_reader_race_on_one_partition_and_lose_nothing(tmp_path):
    root, go = tmp_path / "ns", tmp_path / "go"
    root.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(lake.__file__).parent.parent)}
    procs = {role: subprocess.Popen([sys.executable, "-c", RACER, role, str(root), str(go),
                                     "300"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=env)
             for role in ("reader", "a", "b")}
    time.sleep(1.0)  # all three started and waiting
    go.touch()
    out = {}
    for role, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{role} failed:\n{stderr[-2000:]}"
        out[role] = json.loads(stdout)
    assert out["reader"]["count"] == 0, out["reader"]["errors"]
    assert out["reader"]["seen"], "the reader never read the partition"
    # the partition is whole: one writer's version, with all its rows
    p = lake.Partition(root, "silver", "t", "2026-11-02")
    doc = lake.read_json(p)
    assert doc["writer"] in ("a", "b") and doc["rows"] == list(range(200))
