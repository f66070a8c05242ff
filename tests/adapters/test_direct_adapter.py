"""The direct adapter implements the benchmark's interface over real runs."""

import json
from datetime import date

from benchmarks.adapters.base import RunView
from benchmarks.adapters.direct import DirectAdapter
from pipelines_core import testing


def test_run_date_and_backfill_are_read_back_in_the_normalised_shape(connect_config, tmp_path):
    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    days = [date(2026, 11, 3), date(2026, 11, 4)]
    adapter = DirectAdapter(cfg)
    testing.generate_exports(adapter.config, days)

    faults = {"WORKBENCH_FAULTS": json.dumps({"ingest_cdc": {"kind": "raise", "times": 1}})}
    run = adapter.run_date("customer_daily_etl", days[0], env=faults)
    assert isinstance(run, RunView) and run.state == "success"
    ingest = run.step("ingest_cdc")
    assert [a.state for a in ingest.attempts] == ["failed", "success"]
    assert "injected raise fault" in ingest.attempts[0].error
    assert run.step("monthly_report").state == "skipped"
    assert {s.map_key for s in run.steps if s.step == "gold_region_aggregates"} == {
        "amer", "apac", "emea", "latam"}

    bf = adapter.backfill("customer_daily_etl", days[0], days[1], parallelism=2)
    assert [r.state for r in bf.runs] == ["success", "success"]
    assert bf.dates == ["2026-11-03", "2026-11-04"]
    assert len(adapter.read_runs("customer_daily_etl", days[0])) == 2
