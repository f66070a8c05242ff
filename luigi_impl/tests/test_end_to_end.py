"""One date of each pipeline end to end through ``luigi.build(local_scheduler=True)``: the
outputs equal the direct runner's, every step ran once, the branch ran only the monthly
report, and the ML pipeline found the ETL's silver target done."""

from __future__ import annotations

import json

import pytest

from pipelines_core.ledger import Ledger
from pipelines_core.spec import get_pipeline
from pipelines_core.verify import output_checksums

from workbench_luigi.base import results_root
from conftest import ETL_DAY, copy_lake, run_luigi

pytestmark = pytest.mark.connect


def test_etl_outputs_equal_the_direct_runner(etl_done, reference):
    cfg, rc, summary = etl_done
    assert rc == 0 and summary["status"] == "SUCCESS", summary["details"]
    assert summary["scheduler_url"] == "local"

    ours = output_checksums(cfg, "customer_daily_etl", ETL_DAY)
    assert ours == reference(ETL_DAY)
    assert "reports/customer_monthly/date=2026-10-01" in ours  # the 1st: monthly branch
    assert "reports/customer_daily/date=2026-10-01" not in ours

    # every step but the native sensor and the branch not taken ran exactly once, via run_step
    ledger = Ledger(cfg.ledger_path).read_attempts(namespace="luigi", orchestrator="luigi")
    ran = sorted((r.step, r.map_key) for r in ledger)
    spec = get_pipeline("customer_daily_etl")
    expected = sorted([(s, None) for s in spec.step_names
                       if s not in ("wait_for_export", "daily_report", "gold_region_aggregates")]
                      + [("gold_region_aggregates", r) for r in ("amer", "apac", "emea", "latam")])
    assert ran == expected
    assert all(r.status == "success" for r in ledger)


def test_small_results_are_json_targets(etl_done):
    cfg, _, _ = etl_done
    results = results_root(cfg) / "customer_daily_etl"
    branch = json.loads((results / "choose_report" / "date=2026-10-01" / "result.json").read_text())
    assert branch["next_step"] == "monthly_report"
    ingest = json.loads((results / "ingest_cdc" / "date=2026-10-01" / "result.json").read_text())
    ledger = Ledger(cfg.ledger_path).read_attempts(namespace="luigi", step="ingest_cdc")
    assert ingest["rows_out"] == ledger[-1].rows > 0
    regions = sorted(p.name for p in (results / "gold_region_aggregates" / "date=2026-10-01").iterdir())
    assert regions == ["amer.json", "apac.json", "emea.json", "latam.json"]


def test_ml_outputs_equal_the_direct_runner(etl_done, config, reference):
    """The ML pipeline requires the ETL's silver target: with the ETL done, only ML steps run."""
    source, rc, _ = etl_done
    assert rc == 0
    copy_lake(source, config)
    rc, summary = run_luigi(config, "run", "--pipeline", "lead_scoring_mlops",
                            "--date", ETL_DAY.isoformat())
    assert rc == 0 and summary["status"] == "SUCCESS", summary["details"]
    assert "customer_daily_etl.ingest_cdc(date=2026-10-01)" in summary["details"]  # found done

    ours = output_checksums(config, "lead_scoring_mlops", ETL_DAY)
    assert ours == reference(ETL_DAY, "lead_scoring_mlops")
    assert len(ours) == 4  # leads, metrics, predictions, notification
    ran = [r.step for r in Ledger(config.ledger_path).read_attempts(namespace="luigi")]
    assert ran == get_pipeline("lead_scoring_mlops").step_names
    latest = config.namespace_root() / "production" / "lead_scoring" / "latest" / "deployment.json"
    assert json.loads(latest.read_text())["date"] == ETL_DAY.isoformat()
