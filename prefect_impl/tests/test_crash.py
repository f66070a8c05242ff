"""A crash under the process worker: the flow-run process is killed mid-step, Prefect marks
the run Crashed, and the flow's ``on_crashed`` hook (run by the worker in a fresh process)
delivers one alert to the core's sink."""

from __future__ import annotations

import json
from datetime import date

from pipelines_core import testing
from pipelines_core.alerts import read_alerts
from pipelines_core.ledger import Ledger

CRASH_DAY = date(2026, 10, 16)


def test_crash_under_worker_is_crashed_and_alerts_once(stack, backfill):
    # After the backfill, which leaves no deployment concurrency limit behind: while one is
    # set, Prefect 3.8.8's server answers the worker's Crashed proposal with a 500 (it cannot
    # release the run's concurrency lease), the run stays Running and no hook runs.
    config = stack.adapter.config  # the worker's namespace
    testing.generate_exports(config, [CRASH_DAY])
    plan = json.dumps({"ingest_cdc": {"kind": "crash", "times": 1, "dates": [CRASH_DAY.isoformat()]}})
    run = stack.adapter.run_date("customer_daily_etl", CRASH_DAY,
                                 env={"WORKBENCH_FAULTS": plan}, timeout_s=600)
    assert run.state == "failed"
    raw = stack.adapter._api("GET", f"/flow_runs/{run.run_id}")
    assert raw["state"]["type"] == "CRASHED", raw["state"]

    attempts = Ledger(config.ledger_path).read_attempts(
        namespace=config.namespace, date=CRASH_DAY.isoformat(), step="ingest_cdc")
    assert [r.status for r in attempts][-1] != "success"
    alerts = read_alerts(config, kind="failure", namespace=config.namespace,
                         date=CRASH_DAY.isoformat())
    assert len(alerts) == 1, alerts
    assert alerts[0]["orchestrator"] == "prefect" and alerts[0]["state"] == "Crashed"
    assert alerts[0]["flow_run_id"] == run.run_id
    logs = stack.adapter._api("POST", "/logs/filter",
                              {"logs": {"flow_run_id": {"any_": [run.run_id]}}, "limit": 200})
    assert any("failure alert sent (Crashed)" in lg["message"] for lg in logs)
