"""A floor run (``WORKBENCH_NOOP``): the same Luigi graph, every step recorded, no data touched;
its results are kept apart so a floor run never makes a real date look complete."""

from __future__ import annotations

from datetime import date

from pipelines_core.ledger import Ledger
from pipelines_core.spec import get_pipeline
from pipelines_core.testing import make_config

from workbench_luigi.base import results_root
from conftest import run_luigi


def test_floor_run_follows_the_graph_without_data(tmp_path):
    cfg = make_config(tmp_path, namespace="luigi")  # no export, no Spark server
    rc, summary = run_luigi(cfg, "run", "--pipeline", "customer_daily_etl",
                            "--date", "2026-12-02", env={"WORKBENCH_NOOP": "true"}, timeout=120)
    assert rc == 0 and summary["status"] == "SUCCESS", summary["details"]
    ran = sorted((r.step, r.map_key) for r in Ledger(cfg.ledger_path).read_attempts())
    spec = get_pipeline("customer_daily_etl")
    assert [s for s, _ in ran if s != "gold_region_aggregates"] == sorted(
        s for s in spec.step_names
        if s not in ("wait_for_export", "monthly_report", "gold_region_aggregates"))
    assert sorted(k for s, k in ran if s == "gold_region_aggregates") == [
        "amer", "apac", "emea", "latam"]
    lake = cfg.namespace_root()
    assert sorted(p.name for p in lake.iterdir()) == ["reports"]
    assert sorted(p.name for p in (lake / "reports").iterdir()) == ["_luigi_noop"]
    assert not results_root(cfg).exists()
    assert results_root(cfg.replace(noop=True)).exists()



def test_a_date_whose_outputs_exist_is_reported_skipped_until_forced(tmp_path):
    """Luigi judges a date done from its outputs, not its inputs: asked again, it says that
    it ran nothing and how to force it; forced, every step runs again."""
    cfg = make_config(tmp_path, namespace="luigi")
    args = ("run", "--pipeline", "customer_daily_etl", "--date", "2026-12-01")
    noop = {"WORKBENCH_NOOP": "true"}
    assert run_luigi(cfg, *args, env=noop, timeout=120)[1]["status"] == "SUCCESS"
    first = len(Ledger(cfg.ledger_path).read_attempts())
    rc, again = run_luigi(cfg, *args, env=noop, timeout=120)
    assert rc == 0 and again["status"] == "SKIPPED" and again["skipped"] == "outputs exist"
    assert again["force"] == ("python -m workbench_luigi run --pipeline customer_daily_etl "
                              "--date 2026-12-01 --force")
    assert len(Ledger(cfg.ledger_path).read_attempts()) == first  # nothing ran
    rc, forced = run_luigi(cfg, *args, "--force", env=noop, timeout=120)
    assert rc == 0 and forced["status"] == "SUCCESS"
    assert len(Ledger(cfg.ledger_path).read_attempts()) == 2 * first  # every step again
