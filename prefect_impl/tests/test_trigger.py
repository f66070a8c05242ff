"""The data-aware trigger: customer_daily_etl emits an event when silver customers are
written, and the lead_scoring_mlops deployment's trigger turns such an event into a run of
the deployment for that date."""

from __future__ import annotations

import time

from pipelines_core.procs import poll_until
from pipelines_core.runner import date_range

from conftest import BACKFILL_DAYS


def test_etl_runs_emitted_silver_events(stack, backfill):
    from workbench_prefect.etl import SILVER_EVENT, silver_resource

    page = stack.api.post("/events/filter",
                          {"filter": {"event": {"name": [SILVER_EVENT]}}, "limit": 50})
    mine = [e for e in page["events"]
            if e["resource"]["prefect.resource.id"] == silver_resource("prefect")]
    assert sorted(e["payload"]["date"] for e in mine) == [
        d.isoformat() for d in date_range(*BACKFILL_DAYS)]


def test_silver_event_starts_ml_deployment_run(stack, backfill):
    """The trigger is created disabled for the benchmark (so ETL runs do not start ML runs
    behind its back); here it is enabled, the work pool paused so the triggered run stays
    scheduled, and one silver event is emitted the way the ETL flow emits it."""
    from workbench_prefect.etl import announce_silver

    api = stack.api
    automation = next(a for a in api.post("/automations/filter", {})
                      if "fresh silver" in a["name"])
    assert automation["enabled"] is False
    api.patch("/work_pools/workbench-process", {"is_paused": True})
    api.patch(f"/automations/{automation['id']}", {"enabled": True})
    time.sleep(2)  # the triggers service reloads automations on change
    announce_silver("prefect", "2026-10-05", {"rows_out": 1, "outputs": []})

    deployment = api.get("/deployments/name/lead_scoring_mlops/daily")
    runs = poll_until(lambda: api.post("/flow_runs/filter", {
        "deployments": {"id": {"any_": [deployment["id"]]}}}, idempotent=True),
        timeout_s=60, interval_s=1.0, what="a run of the ML deployment")
    assert [r["parameters"] for r in runs] == [{"day": "2026-10-05"}]
    assert runs[0]["state"]["type"] == "SCHEDULED"
    api.patch(f"/automations/{automation['id']}", {"enabled": False})
    for r in runs:
        api.delete(f"/flow_runs/{r['id']}")
    api.patch("/work_pools/workbench-process", {"is_paused": False})
