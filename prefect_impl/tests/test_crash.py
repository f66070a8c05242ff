"""A crash under the process worker: the flow-run process is killed mid-step, Prefect marks
the run Crashed, and the flow's ``on_crashed`` hook (run by the worker in a fresh process)
delivers one alert to the core's sink."""

from __future__ import annotations

import json
from datetime import date

from pipelines_core import testing
from pipelines_core.alerts import read_alerts
from pipelines_core.ledger import Ledger
from pipelines_core.procs import poll_until

from workbench_prefect.common import HOOK_DONE

CRASH_DAY = date(2026, 10, 16)


def test_crash_under_worker_is_crashed_and_alerts_once(stack, backfill):
    # After the backfill, which leaves no deployment concurrency limit behind: while one is
    # set, Prefect 3.8.8's server answers the worker's Crashed proposal with a 500 (it cannot
    # release the run's concurrency lease), the run stays Running and no hook runs.
    from prefect.deployments import run_deployment

    config = stack.config  # the worker's namespace
    testing.generate_exports(config, [CRASH_DAY])
    plan = json.dumps({"ingest_cdc": {"kind": "crash", "times": 1,
                                      "dates": [CRASH_DAY.isoformat()]}})
    run = run_deployment("customer_daily_etl/daily", parameters={"day": CRASH_DAY.isoformat()},
                         job_variables={"env": {"WORKBENCH_FAULTS": plan}}, timeout=0)
    [ended] = stack.wait_runs([str(run.id)], timeout_s=600)
    assert ended["state"]["type"] == "CRASHED", ended["state"]

    # The worker runs the on_crashed hook in a new process after proposing Crashed: its log
    # line says when it has run.
    poll_until(lambda: any(f"{HOOK_DONE}: failure alert sent (Crashed)" in lg["message"]
                           for lg in stack.logs(flow_run_id=[str(run.id)])),
               timeout_s=120, what="the on_crashed hook's log line")

    attempts = Ledger(config.ledger_path).read_attempts(
        namespace=config.namespace, date=CRASH_DAY.isoformat(), step="ingest_cdc")
    # the killed attempt started and never ended: its process is gone
    assert [(r.attempt, r.status) for r in attempts] == [(1, "lost")]
    alerts = read_alerts(config, kind="failure", namespace=config.namespace,
                         date=CRASH_DAY.isoformat())
    assert len(alerts) == 1, alerts
    assert alerts[0]["orchestrator"] == "prefect" and alerts[0]["state"] == "Crashed"
    assert alerts[0]["flow_run_id"] == str(run.id)
