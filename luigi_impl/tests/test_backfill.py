"""A 3-day backfill through Luigi's own ``RangeDaily``: partitions identical to the direct
runner's, complete dates skipped, and an immediate re-run (with the plain ``luigi`` command
line, as Luigi's docs show it) executes no step."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest

from pipelines_core import testing
from pipelines_core.ledger import Ledger
from pipelines_core.verify import output_checksums

from workbench_luigi.settings import write_luigi_cfg
from conftest import ETL_DAY, IMPL_ROOT, clean_env, copy_lake, run_luigi

pytestmark = pytest.mark.connect
DAYS = [ETL_DAY + timedelta(days=n) for n in range(3)]


def test_range_daily_backfill_equals_direct_and_rerun_runs_nothing(etl_done, config, reference):
    source, rc, _ = etl_done
    assert rc == 0
    copy_lake(source, config)  # the first date is already done
    testing.generate_exports(config, DAYS[1:])

    rc, summary = run_luigi(config, "backfill", "--pipeline", "customer_daily_etl",
                            "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat(),
                            "--workers", "2", timeout=600)
    assert rc == 0 and summary["status"] == "SUCCESS", summary["details"]

    attempts = Ledger(config.ledger_path).read_attempts(namespace="luigi")
    assert {r.date for r in attempts} == {d.isoformat() for d in DAYS[1:]}  # day 1 skipped
    assert all(r.status == "success" for r in attempts)
    # both dates were in flight at once: Luigi ran their tasks side by side on 2 workers
    spans = {d: (min(r.start for r in attempts if r.date == d),
                 max(r.end for r in attempts if r.date == d)) for d in {r.date for r in attempts}}
    (a0, a1), (b0, b1) = spans.values()
    assert a0 < b1 and b0 < a1

    for day in DAYS:
        ours = output_checksums(config, "customer_daily_etl", day)
        assert ours == reference(day), day
        assert len(ours) == 9  # silver, quality, 4 regions, summary, report, notification

    # an immediate re-run through the `luigi` command itself: every date is complete
    cfg_path = write_luigi_cfg(config, config.state_dir / "luigi.cfg")
    before = len(Ledger(config.ledger_path).read_attempts())
    proc = subprocess.run(
        [str(IMPL_ROOT / ".venv" / "bin" / "luigi"), "--module",
         "workbench_luigi.customer_daily_etl", "RangeDaily", "--of", "customer_daily_etl.notify",
         "--start", DAYS[0].isoformat(), "--stop", (DAYS[-1] + timedelta(days=1)).isoformat(),
         "--days-back", "3650", "--task-limit", "100", "--workers", "2", "--local-scheduler"],
        cwd=IMPL_ROOT, env=clean_env(config, {"LUIGI_CONFIG_PATH": str(cfg_path)}),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Did not run any tasks" in proc.stderr or "complete ones were encountered" in proc.stderr
    assert len(Ledger(config.ledger_path).read_attempts()) == before
