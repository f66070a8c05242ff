"""The deployments on the real server (schedule, tags, docs, the ML trigger), the asset
materialisation events of a run, and the server's Prometheus metrics endpoint."""

from __future__ import annotations

from pipelines_core.spec import CUSTOMER_DAILY_ETL, LEAD_SCORING_MLOPS

from workbench_prefect import etl, ml

from conftest import E2E_DAY


def test_deployments_carry_schedule_tags_and_docs(stack):
    for spec, module in ((CUSTOMER_DAILY_ETL, etl), (LEAD_SCORING_MLOPS, ml)):
        dep = stack.api.get(f"/deployments/name/{spec.name}/daily")
        assert [s["schedule"]["cron"] for s in dep["schedules"]] == ["0 2 * * *"]
        assert set(dep["tags"]) == set(spec.tags)
        assert dep["description"] == module.__doc__
        assert dep["work_pool_name"] == "workbench-process"
    automations = stack.api.post("/automations/filter", {})
    trigger = next(a for a in automations if "fresh silver" in a["name"])
    assert trigger["trigger"]["expect"] == [etl.SILVER_EVENT]
    assert trigger["actions"][0]["parameters"] == {"day": "{{ event.payload.date }}"}


def test_prometheus_metrics_endpoint(stack, e2e):
    text = stack.api.request("GET", "/metrics", raw=True)
    assert "# TYPE" in text
    assert any(line.startswith("prefect_") for line in text.splitlines()), text[:2000]


def test_each_written_table_is_an_asset_materialised_with_its_partition(stack, e2e):
    """The end-to-end run's asset materialisation events: one per lake table the run wrote
    (a file:// URI of the table folder), with the date, the region and the partition written
    as payload."""
    day = E2E_DAY.isoformat()
    page = stack.api.post("/events/filter", {
        "filter": {"event": {"name": ["prefect.asset.materialization.succeeded"]},
                   "related": {"id": [f"prefect.flow-run.{e2e.etl_run_id}"]}},
        "limit": 50})
    events = page["events"]
    succeeded = {"/".join(e["resource"]["prefect.resource.id"].rsplit("/", 2)[-2:])
                 for e in events if e["payload"]["date"] == day}
    assert succeeded == {"silver/customers", "quality/customers", "gold/customer_region_daily",
                         "gold/customer_daily_summary", "reports/customer_monthly",
                         "reports/customer_daily_etl_notifications"}
    silver = next(e for e in events if e["resource"]["prefect.resource.id"].endswith(
        "/silver/customers"))
    assert silver["resource"]["prefect.resource.id"].startswith("file:///")
    [written] = silver["payload"]["outputs"]
    assert written.endswith(f"/prefect_e2e/silver/customers/date={day}")
    regions = sorted(e["payload"]["region"] for e in events
                     if e["resource"]["prefect.resource.id"].endswith("/customer_region_daily"))
    assert regions == ["amer", "apac", "emea", "latam"]
