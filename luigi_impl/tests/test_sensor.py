"""The bronze export as an ExternalTask: the worker keeps re-checking it every retry_delay and
the scheduler gives up after the sensor timeout (``disable_hard_timeout``); nothing
downstream runs."""

from __future__ import annotations

from datetime import date

from pipelines_core.ledger import Ledger
from pipelines_core.testing import make_config

from conftest import run_luigi


def test_missing_export_is_waited_for_then_given_up(tmp_path):
    cfg = make_config(tmp_path, namespace="luigi", sensor_timeout_s=4.0)  # no Spark needed
    rc, summary = run_luigi(cfg, "run", "--pipeline", "customer_daily_etl",
                            "--date", date(2026, 10, 9).isoformat(), timeout=120)
    assert rc == 1 and summary["status"] == "FAILED", summary["details"]
    assert "customer_daily_etl.wait_for_export(date=2026-10-09)" in summary["details"]
    # it waited for the timeout (checks every 1 s), not just one look
    assert summary["wall_s"] >= 4.0
    log = open(summary["log"]).read()
    assert log.count("running   customer_daily_etl.wait_for_export(date=2026-10-09)") >= 3
    assert "disabled" in log.lower()
    assert Ledger(cfg.ledger_path).read_attempts() == []  # no step ran
