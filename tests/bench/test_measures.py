"""The ledger measures on hand-made attempts with known times: the longest wait between steps
and the delays between retries, to the millisecond."""

import json
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

import pytest

from benchmarks.measures import ledger_attempts, max_gap_s, median, retry_delays, step_seconds
from pipelines_core import testing
from pipelines_core.ledger import AttemptRecord, Ledger

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)
ETL = "customer_daily_etl"


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def attempt(step: str, start: float, end: float | None, status: str = "success", n: int = 1,
            key: str | None = None) -> AttemptRecord:
    return AttemptRecord(attempt_id=f"{step}-{key}-{n}", pipeline=ETL, step=step,
                         date="2026-11-02", namespace="n", orchestrator="o", attempt=n, pid=1,
                         start=at(start), end=None if end is None else at(end), status=status,
                         map_key=key)


# --- max_gap_s -----------------------------------------------------------------------------

def test_the_largest_gap_between_an_upstream_end_and_a_step_start():
    attempts = [attempt("wait_for_export", 0, 1), attempt("ingest_cdc", 1.5, 3),
                attempt("quality_gate", 5, 6),  # 2 s after ingest_cdc ended: the largest
                attempt("gold_region_aggregates", 6.2, 7, key="amer"),
                attempt("gold_region_aggregates", 6.4, 8, key="emea"),
                attempt("gold_summary", 8.75, 9)]
    assert max_gap_s(attempts) == 2.0
    # Fan-in waits for the last mapped instance (8 s), fan-out starts at the first (6.2 s).
    assert max_gap_s([a for a in attempts if a.step != "quality_gate"]) == 0.75


def test_no_gap_is_zero():
    assert max_gap_s([]) == 0.0
    # No step has an upstream success to wait for.
    assert max_gap_s([attempt("wait_for_export", 0, 1)]) == 0.0
    assert max_gap_s([attempt("ingest_cdc", 0, 1), attempt("gold_summary", 3, 4)]) == 0.0
    # Back to back.
    assert max_gap_s([attempt("wait_for_export", 0, 1), attempt("ingest_cdc", 1, 2)]) == 0.0


def test_overlaps_give_a_negative_gap():
    """A step that starts before its upstream's success ended (an overlap) waits a negative
    time; when every step overlaps, the largest is the least negative."""
    attempts = [attempt("wait_for_export", 0, 2), attempt("ingest_cdc", 1.5, 4),
                attempt("quality_gate", 3.75, 5)]
    assert max_gap_s(attempts) == -0.25
    assert max_gap_s(attempts + [attempt("gold_region_aggregates", 5.5, 6, key="amer")]) == 0.5


def test_a_retried_step_waits_from_its_first_attempt_and_failures_end_nothing():
    attempts = [attempt("wait_for_export", 0, 1),
                attempt("ingest_cdc", 1.1, 2, status="failed", n=1),
                attempt("ingest_cdc", 4, 5, n=2),
                attempt("quality_gate", 5.1234, 6)]
    # ingest_cdc waited 0.1 s for its first attempt; the retry's delay is no gap; the
    # quality gate waits from the success (5 s), rounded to the millisecond.
    assert max_gap_s(attempts) == 0.123
    # The upstream never succeeded: nothing to wait from.
    assert max_gap_s([attempt("ingest_cdc", 0, 1, status="failed"),
                      attempt("quality_gate", 9, 10)]) == 0.0


# --- retry_delays --------------------------------------------------------------------------

def test_retry_delays_between_attempts_in_start_order():
    attempts = [attempt("gold_summary", 5, 6, n=3), attempt("gold_summary", 0, 1, "failed", 1),
                attempt("gold_summary", 2, 3.5, "failed", 2)]
    assert retry_delays(attempts) == [1.0, 1.5]
    assert retry_delays(attempts[:1]) == []


def test_a_killed_attempt_ends_where_the_orchestrator_saw_it_end():
    lost = attempt("ingest_cdc", 0, None, status="lost", n=1)
    retry = attempt("ingest_cdc", 10, 12, n=2)
    # The ledger has no end for the killed attempt: the orchestrator's record stands in.
    assert retry_delays([lost, retry], [at(7.5), at(12)]) == [2.5]
    # Without it that delay is unknown, and left out rather than guessed.
    assert retry_delays([lost, retry]) == []
    assert retry_delays([lost, retry], []) == []
    assert retry_delays([lost, retry], [None, at(12)]) == []
    # A ledger end wins over the orchestrator's.
    assert retry_delays([attempt("ingest_cdc", 0, 1, "failed"), retry], [at(7.5)]) == [9.0]


def test_a_crashed_attempt_read_back_from_the_ledger_is_lost(tmp_path):
    """The ledger as a killed step process leaves it: a start event and no end, from a
    process that is gone. It reads back ``lost`` without an end, and its retry's delay
    comes from the orchestrator's end."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    ledger = Ledger(tmp_path / "ledger.jsonl")
    killed = attempt("ingest_cdc", 0, None, status="running", n=1)
    killed.pid = int(gone.stdout)
    retry = attempt("ingest_cdc", 4, None, status="running", n=2)
    retry.pid = int(gone.stdout)
    lines = [{"event": "start", **asdict(killed)}, {"event": "start", **asdict(retry)},
             {"event": "end", "attempt_id": retry.attempt_id, "end": at(6),
              "status": "success", "error": None, "rows": 10, "metrics": {}}]
    ledger.path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    read = ledger.read_attempts(step="ingest_cdc")
    assert [(a.status, a.end) for a in read] == [("lost", None), ("success", at(6))]
    assert retry_delays(read, [at(1.75), at(6)]) == [2.25]
    assert step_seconds(read) == 2.0  # the lost attempt has no duration to add


# --- the rest ------------------------------------------------------------------------------

def test_ledger_attempts_of_one_run_start_at_its_own_start(tmp_path):
    cfg = testing.make_config(tmp_path)
    ledger = Ledger(cfg.ledger_path)
    lines = [{"event": "start", **asdict(attempt("ingest_cdc", s, None, n=n))}
             for n, s in ((1, 0), (2, 9.6), (3, 20))]
    for line in lines:
        line["namespace"] = "n"
    ledger.path.parent.mkdir(parents=True, exist_ok=True)
    ledger.path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    since = (T0 + timedelta(seconds=10)).timestamp()
    # Half a second of clock slack: the attempt at 9.6 s counts, the one at 0 s does not.
    assert [a.attempt for a in ledger_attempts(cfg, "n", T0.date(), since)] == [2, 3]
    assert ledger_attempts(cfg, "other", T0.date(), since) == []


def test_median_to_the_millisecond():
    assert median([3.0, 1.0, 2.00049]) == 2.0
    assert median([1.0, 2.0]) == 1.5
    assert median([]) is None


@pytest.mark.parametrize("ends, expected", [((1, 3.5), 2.5), ((None, 3.5), 1.5)])
def test_step_seconds_sums_durations(ends, expected):
    first, second = ends
    assert step_seconds([attempt("a", 0, first), attempt("b", 2, second)]) == expected
