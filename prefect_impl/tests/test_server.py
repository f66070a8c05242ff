"""The deployments on the real server (schedule, tags, docs, the ML trigger) and the server's
Prometheus metrics endpoint."""

from __future__ import annotations

from pipelines_core.spec import CUSTOMER_DAILY_ETL, LEAD_SCORING_MLOPS

from workbench_prefect import etl, ml


def test_deployments_carry_schedule_tags_and_docs(stack):
    api = stack.adapter._api
    for spec, module in ((CUSTOMER_DAILY_ETL, etl), (LEAD_SCORING_MLOPS, ml)):
        dep = api("GET", f"/deployments/name/{spec.name}/daily")
        assert [s["schedule"]["cron"] for s in dep["schedules"]] == ["0 2 * * *"]
        assert set(dep["tags"]) == set(spec.tags)
        assert dep["description"] == module.__doc__
        assert dep["work_pool_name"] == "workbench-process"
    automations = api("POST", "/automations/filter", {})
    trigger = next(a for a in automations if "fresh silver" in a["name"])
    assert trigger["trigger"]["expect"] == [etl.SILVER_EVENT]
    assert trigger["actions"][0]["parameters"] == {"day": "{{ event.payload.date }}"}


def test_prometheus_metrics_endpoint(stack, e2e):
    text = stack.adapter.metrics()
    assert "# TYPE" in text
    assert any(line.startswith("prefect_") for line in text.splitlines()), text[:2000]


def test_probes_read_assets_artifacts_and_metrics(stack, e2e):
    """The benchmark adapter's probes against the real server: the end-to-end run's asset
    materialisation events (one per lake table, with the date), its quality artifact, and
    what the Prometheus endpoint counts."""
    from conftest import E2E_DAY

    day = E2E_DAY.isoformat()
    events = [e for e in stack.adapter.asset_events(e2e.etl_run_id)
              if e["event"] == "prefect.asset.materialization.succeeded"]
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

    lineage = stack.adapter.lineage_probe(e2e.etl_run_id, day)
    assert lineage["passed"] is True, lineage
    quality = stack.adapter.quality_probe(e2e.etl_run_id, None)
    assert quality["passed"] is True and "passed" in quality["evidence"], quality
    metrics = stack.adapter.metrics_probe()
    # Prefect 3.8's /api/metrics has no series counting flow or task runs
    assert metrics["passed"] is False and "metric families" in metrics["evidence"]
