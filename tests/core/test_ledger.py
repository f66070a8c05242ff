"""The ledger under concurrent writers in separate processes, and attempts whose process died."""

import multiprocessing as mp
import os
import signal
import time

from pipelines_core.ledger import Ledger

WRITERS, ATTEMPTS = 4, 150


def _write(path, worker):
    ledger = Ledger(path)
    for n in range(ATTEMPTS):
        rec = ledger.start(pipeline="p", step=f"s{worker}", date="2026-11-02", namespace="ns",
                           orchestrator="test", attempt=n + 1)
        ledger.finish(rec, status="success", rows=n, metrics={"blob": "x" * 2000})


def test_concurrent_writers_never_interleave(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write, args=(path, w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    records = Ledger(path).read_attempts()
    assert len(records) == WRITERS * ATTEMPTS
    assert all(r.status == "success" and r.end for r in records)
    for w in range(WRITERS):
        mine = [r for r in records if r.step == f"s{w}"]
        assert sorted(r.rows for r in mine) == list(range(ATTEMPTS))
        assert len({r.pid for r in mine}) == 1


def _start_and_die(path):
    Ledger(path).start(pipeline="p", step="s", date="2026-11-02", namespace="ns",
                       orchestrator="test", attempt=1)
    os.kill(os.getpid(), signal.SIGKILL)


def test_attempt_of_a_killed_process_reads_as_lost(tmp_path):
    path = tmp_path / "ledger.jsonl"
    p = mp.get_context("spawn").Process(target=_start_and_die, args=(path,))
    p.start()
    p.join(60)
    assert p.exitcode == -signal.SIGKILL
    [rec] = Ledger(path).read_attempts(step="s")
    assert (rec.status, rec.end) == ("lost", None)


def test_filtering_and_duration(tmp_path):
    ledger = Ledger(tmp_path / "l.jsonl")
    t0 = time.monotonic()
    a = ledger.start(pipeline="p", step="a", date="d", namespace="x", orchestrator="o", attempt=1)
    ledger.finish(a, status="failed", error="boom")
    b = ledger.start(pipeline="q", step="a", date="d", namespace="x", orchestrator="o", attempt=1)
    ledger.finish(b, status="success")
    [only] = ledger.read_attempts(pipeline="p")
    assert (only.status, only.error) == ("failed", "boom")
    assert 0 <= only.duration_s <= time.monotonic() - t0
