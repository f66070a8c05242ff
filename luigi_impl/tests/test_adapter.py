"""The benchmark's Luigi adapter reads back what luigid, its history, /metrics and the worker
log recorded: here a permanent failure in the pipeline's tail (see test_retries for why the
test starts from a finished date's lake)."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from pipelines_core.faults import plan_to_env
from pipelines_core.ledger import Ledger
from pipelines_core.testing import free_port

from workbench_luigi.base import results_root
from conftest import ETL_DAY, IMPL_ROOT, copy_lake

sys.path.insert(0, str(IMPL_ROOT.parent))
from benchmarks.adapters.luigi import LuigiAdapter  # noqa: E402
from workbench_luigi import server  # noqa: E402

pytestmark = [pytest.mark.connect, pytest.mark.luigid]


def test_adapter_reports_attempts_states_logs_and_metrics(etl_done, config):
    source, rc, _ = etl_done
    assert rc == 0
    copy_lake(source, config)
    for step in ("choose_report", "monthly_report", "notify"):
        shutil.rmtree(results_root(config) / "customer_daily_etl" / step)

    port = free_port()
    adapter = LuigiAdapter(config, port=port)
    assert not adapter.capabilities.exponential_backoff
    assert not adapter.capabilities.max_retry_delay
    adapter.start()
    try:
        run = adapter.run_date("customer_daily_etl", ETL_DAY,
                               env=plan_to_env({"choose_report": {"kind": "permanent"}}))
        assert run.state == "failed"
        branch = run.step("choose_report")
        assert branch.state == "failed"
        ledger = Ledger(config.ledger_path).read_attempts(namespace="luigi", step="choose_report")
        assert [a.state for a in branch.attempts] == [r.status for r in ledger] == ["failed"] * 3
        assert all("injected permanent fault" in a.error for a in branch.attempts)
        for attempt, rec in zip(branch.attempts, ledger):
            assert f"(pid {rec.pid})" in attempt.log_excerpt  # the attempt's own process
            assert attempt.duration_s is not None and attempt.duration_s >= 0
        assert run.step("monthly_report").state == "upstream_failed"
        assert run.step("notify").state == "upstream_failed"
        # gold_summary was found complete, so Luigi did not look further upstream
        assert run.step("gold_summary").state == "skipped"
        assert run.step("ingest_cdc") is None
        assert [s.step for s in run.steps] == ["gold_summary", "choose_report",
                                               "monthly_report", "notify"]

        metrics = adapter.read_metrics()
        labels = frozenset({("family", "customer_daily_etl.choose_report"),
                            ("date", ETL_DAY.isoformat())})
        assert metrics[("luigi_task_disabled_total", labels)] == 1
        [again] = adapter.read_runs("customer_daily_etl", ETL_DAY)
        assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(run.to_dict(),
                                                                         sort_keys=True)

        # after the fix: luigid still holds choose_report DISABLED; the adapter re-enables it
        fixed = adapter.run_date("customer_daily_etl", ETL_DAY)
        assert fixed.state == "success"
        assert [a.state for a in fixed.step("choose_report").attempts] == ["success"]
        assert fixed.step("notify").state == "success"
    finally:
        adapter.stop()
    assert not server.port_open(port)
