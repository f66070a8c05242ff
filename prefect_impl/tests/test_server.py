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
