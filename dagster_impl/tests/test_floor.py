"""The benchmark's floor: the same job with no-op steps (WORKBENCH_NOOP) runs to success, every
step recording its attempt and nothing touching Spark or the lake."""

from __future__ import annotations

from pipelines_core.ledger import Ledger


def test_noop_run_succeeds(instance, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_NOOP", "true")
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("WORKBENCH_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("WORKBENCH_NAMESPACE", "dagster_floor")
    from workbench_dagster.definitions import defs

    result = defs.resolve_job_def("customer_daily_etl").execute_in_process(
        partition_key="2026-10-12", instance=instance, raise_on_error=False)
    assert result.success
    steps = sorted((r.step, r.map_key) for r in Ledger(tmp_path / "state" / "ledger.jsonl")
                   .read_attempts(namespace="dagster_floor"))
    assert ("gold_region_aggregates", "emea") in steps and ("notify", None) in steps
    assert not (tmp_path / "lake" / "dagster_floor" / "gold").exists()
