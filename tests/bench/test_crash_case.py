"""One crash case end to end over an orchestrator that only records: a real step process
writes its attempt to the ledger and is killed with SIGKILL; the orchestrator's record then
shows the run failed while the adapter's own wait goes on (Prefect's waits for the on_crashed
hook that no worker runs when its automation crashed the run). The case takes the run's end
from the record, says what the wait was still doing, and has a human run the date again."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date, datetime, timezone

from benchmarks.adapters.base import RunView
from benchmarks.crash import STEP_PROCESS, CrashCase, run_case
from pipelines_core import testing
from pipelines_core.ledger import Ledger
from pipelines_core.procs import pid_alive

DAY = date(2026, 11, 20)
PIPELINE = "customer_daily_etl"
SHOWS_FAILED_AFTER_S = 1.5  # how long after the kill the record shows the run failed

STEP = """
import sys, time
from pathlib import Path
from pipelines_core.ledger import Ledger
Ledger(Path(sys.argv[1])).start(pipeline=sys.argv[2], step="ingest_cdc", date=sys.argv[3],
                                namespace=sys.argv[4], orchestrator="prefect", attempt=1)
time.sleep(600)
"""


class RecordOnly:
    """Duck-typed adapter: the first run's process is a real one that records its attempt
    and sleeps; its wait never ends by itself. The record shows the run running until its
    step's process is gone, then failed. The human's run succeeds at once."""

    name = "prefect"

    def __init__(self, config) -> None:
        self.config = config
        self.planned_down: set[str] = set()
        self.released = threading.Event()
        self.started = time.time()
        self.step: subprocess.Popen | None = None
        self.gone_at: float | None = None
        self.runs = 0

    def detection(self):
        return {"mode": "tuned", "settings": {}, "tuned": {}}

    def forget(self, pipeline, days):
        pass

    def give_up(self, pipeline, day):
        return []

    def checked(self, run: RunView) -> RunView:
        return run

    def run_date(self, pipeline, day, *, env=None, timeout_s=900.0) -> RunView:
        self.runs += 1
        if self.runs > 1:  # the human's run
            return RunView("human", pipeline, day.isoformat(), "success")
        self.started = time.time()
        self.step = subprocess.Popen([sys.executable, "-c", STEP, str(self.config.ledger_path),
                                      pipeline, day.isoformat(), self.config.namespace])
        self.released.wait(timeout_s)  # the wait that goes on past the end
        return RunView("first", pipeline, day.isoformat(), "failed")

    def read_runs(self, pipeline, day) -> list[RunView]:
        if self.step is None:
            return []
        state = "running"
        if not pid_alive(self.step.pid) or self.step.poll() is not None:
            self.gone_at = self.gone_at or time.time()
            if time.time() - self.gone_at >= SHOWS_FAILED_AFTER_S:
                state = "failed"
        start = datetime.fromtimestamp(self.started, timezone.utc).isoformat()
        return [RunView("first", pipeline, day.isoformat(), state, start=start)]


class Direct:
    name = "direct"

    def __init__(self, config) -> None:
        self.config = config

    def run_date(self, pipeline, day, **_):
        return RunView("direct", pipeline, day.isoformat(), "success")


def test_the_end_comes_from_the_record_while_the_adapter_s_wait_goes_on(tmp_path):
    adapter = RecordOnly(testing.make_config(tmp_path / "prefect", namespace="crash"))
    direct = Direct(testing.make_config(tmp_path / "direct", namespace="crash"))
    try:
        result = run_case(adapter, direct, CrashCase(STEP_PROCESS, pause_s=1.0), DAY,
                          bound_s=8.0, progress=lambda _: None)
    finally:
        adapter.released.set()
        if adapter.step is not None and adapter.step.poll() is None:
            adapter.step.kill()

    assert not pid_alive(adapter.step.pid)  # the step's own process, killed by the case
    (attempt,) = Ledger(adapter.config.ledger_path).read_attempts(date=DAY.isoformat())
    assert attempt.status == "lost" and result["lost_attempts"] == ["ingest_cdc"]
    assert result["end_state"] == "failed" and result["detected_as"] == "run failed"
    # the end is when the record first showed it, within the bound, not "did not end"
    assert SHOWS_FAILED_AFTER_S <= result["ended_after_s"] < 8.0
    assert result["detected_s"] == result["ended_after_s"]
    assert result["adapter_wait"].startswith("still waiting ")
    assert result["adapter_wait"].endswith(" s after the record showed the run failed")
    assert result["human"]["state"] == "success" and result["verdict"] == "needs a human"
    assert result["took_down"] and "ingest_cdc" in result["took_down"][0]
    assert adapter.runs == 2
