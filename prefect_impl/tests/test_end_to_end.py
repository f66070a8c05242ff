"""Both flows end to end against a real Prefect server: outputs identical to the direct
runner's, small results passed as task return values, artifacts published."""

from __future__ import annotations

import json

from pipelines_core import lake
from pipelines_core.verify import output_checksums

from conftest import E2E_DAY, E2E_NAMESPACE


def test_etl_outputs_equal_direct_runner(stack, e2e):
    assert e2e.etl_state == "COMPLETED"
    ours = output_checksums(stack.in_namespace(E2E_NAMESPACE), "customer_daily_etl", E2E_DAY)
    ref = stack.reference("customer_daily_etl", E2E_DAY, namespace="reference_e2e")
    assert "reports/customer_monthly/date=2026-11-01" in ours
    assert ours == ref


def test_ml_outputs_equal_direct_runner(stack, e2e):
    assert e2e.ml_state == "COMPLETED"
    ours = output_checksums(stack.in_namespace(E2E_NAMESPACE), "lead_scoring_mlops", E2E_DAY)
    ref = stack.reference("lead_scoring_mlops", E2E_DAY, namespace="reference_e2e")
    assert "gold/lead_predictions/date=2026-11-01" in ours
    assert ours == ref


def test_results_and_artifacts_recorded_by_prefect(stack, e2e):
    etl, ml = stack.flow_runs([e2e.etl_run_id, e2e.ml_run_id])
    assert etl["name"] == "customer_daily_etl 2026-11-01"
    artifacts = stack.api.post("/artifacts/filter", {"artifacts": {"flow_run_id": {
        "any_": [e2e.etl_run_id, e2e.ml_run_id]}}})
    by_key = {a["key"]: a for a in artifacts}
    assert {"customer-quality", "customer-daily-etl", "lead-scoring-metrics"} <= set(by_key)
    checks = by_key["customer-quality"]["data"]
    checks = checks if isinstance(checks, list) else json.loads(checks)
    assert checks and all(c["passed"] for c in checks)
    metrics = by_key["lead-scoring-metrics"]["data"]
    metrics = metrics if isinstance(metrics, list) else json.loads(metrics)
    auc = next(m["value"] for m in metrics if m["metric"] == "auc")
    on_disk = lake.read_json(lake.Partition(stack.in_namespace(E2E_NAMESPACE).namespace_root(),
                                            "models", "lead_scoring_metrics", "2026-11-01"),
                             "metrics.json")
    assert auc == on_disk["auc"] >= 0.75
    assert ml["state"]["type"] == "COMPLETED"
