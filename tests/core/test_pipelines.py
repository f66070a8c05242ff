"""Both pipelines end to end through the direct runner: classic local session and Spark Connect,
idempotent re-runs, a crash mid-write, the gates, retries and timeouts."""

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from pipelines_core import testing, verify
from pipelines_core.alerts import read_alerts
from pipelines_core.config import PROJECT_ROOT
from pipelines_core.ledger import Ledger
from pipelines_core.runner import run_pipeline
from pipelines_core.spec import CUSTOMER_DAILY_ETL, LEAD_SCORING_MLOPS, REGIONS

DAY = date(2026, 11, 2)
FIRST = date(2026, 11, 1)


def states(outcome):
    return {(s.step, s.map_key): s.state for s in outcome.steps}


def run_both(cfg, day):
    testing.generate_exports(cfg, [day])
    etl = run_pipeline(CUSTOMER_DAILY_ETL, day, cfg)
    ml = run_pipeline(LEAD_SCORING_MLOPS, day, cfg)
    return etl, ml


@pytest.fixture(scope="module")
def local_run(session_root, local_config):
    cfg = testing.make_config(session_root / "e2e", namespace="local")
    etl, ml = run_both(cfg, DAY)
    return cfg, etl, ml


def test_etl_end_to_end_outputs_are_consistent(local_run, spark):
    cfg, etl, _ = local_run
    assert etl.state == "success"
    assert states(etl)[("monthly_report", None)] == "skipped"
    assert states(etl)[("daily_report", None)] == "success"
    root = cfg.namespace_root()
    bronze = spark.read.parquet(str(root / f"bronze/customers_cdc/date={DAY}"))
    silver = spark.read.parquet(str(root / f"silver/customers/date={DAY}"))
    keys = bronze.where("customer_id is not null").select("customer_id").distinct().count()
    assert silver.count() == keys
    report = json.loads((root / f"reports/customer_daily/date={DAY}/data.json").read_text())
    active_with_region = silver.where("not is_deleted").count()
    assert report["totals"]["customers_touched"] == active_with_region
    assert [r["region"] for r in report["regions"]] == sorted(REGIONS)
    quality = json.loads((root / f"quality/customers/date={DAY}/data.json").read_text())
    assert quality["passed"] is True
    assert verify.outputs_present(cfg, CUSTOMER_DAILY_ETL.name, DAY)
    assert not verify.outputs_present(cfg, CUSTOMER_DAILY_ETL.name, FIRST)  # never run


def test_ml_end_to_end_trains_gates_deploys_and_scores(local_run, spark):
    cfg, _, ml = local_run
    assert ml.state == "success", ml.steps
    root = cfg.namespace_root()
    metrics = json.loads((root / f"models/lead_scoring_metrics/date={DAY}/metrics.json").read_text())
    assert metrics["auc"] >= 0.75
    latest = json.loads((root / "production/lead_scoring/latest/deployment.json").read_text())
    assert latest["date"] == DAY.isoformat()
    leads = spark.read.parquet(str(root / f"silver/leads/date={DAY}")).count()
    preds = spark.read.parquet(str(root / f"gold/lead_predictions/date={DAY}"))
    assert preds.count() == leads
    assert preds.where("score < 0 or score > 1").count() == 0


def test_same_date_twice_gives_identical_outputs(local_run):
    cfg, _, _ = local_run
    first = {p: verify.output_checksums(cfg, p, DAY) for p in verify.OUTPUTS}
    assert run_pipeline(CUSTOMER_DAILY_ETL, DAY, cfg).state == "success"
    assert run_pipeline(LEAD_SCORING_MLOPS, DAY, cfg).state == "success"
    second = {p: verify.output_checksums(cfg, p, DAY) for p in verify.OUTPUTS}
    assert second == first
    assert len(first["customer_daily_etl"]) == 9  # every output of a day that is not the 1st


def test_first_of_month_takes_the_monthly_branch(config):
    testing.generate_exports(config, [FIRST])
    out = run_pipeline(CUSTOMER_DAILY_ETL, FIRST, config)
    assert out.state == "success"
    assert states(out)[("daily_report", None)] == "skipped"
    report = json.loads((config.namespace_root() /
                         f"reports/customer_monthly/date={FIRST}/data.json").read_text())
    assert (report["kind"], report["month"], report["days_in_month"]) == ("monthly", "2026-10", 31)


def test_classic_session_in_a_process_with_a_connect_url_in_its_environment(tmp_path):
    """Spark's launcher leaves the classic SQL classes off a JVM started while SPARK_REMOTE
    is set; a classic session still gets them, with no SPARK_HOME and run from elsewhere."""
    code = ("from pyspark.sql import functions as F\n"
            "from pipelines_core import spark, testing\n"
            f"session = spark.get_session(testing.make_config({str(tmp_path)!r}))\n"
            "print(session.range(4).select(F.sum(F.col('id'))).collect()[0][0])\n")
    env = {k: v for k, v in os.environ.items() if k != "SPARK_HOME"}
    env.update({"SPARK_REMOTE": "sc://127.0.0.1:9", "PYTHONPATH": str(PROJECT_ROOT)})
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, text=True,
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-1] == "6"


@pytest.mark.connect
def test_a_process_with_a_classic_session_opens_a_connect_one_too(connect_config, tmp_path):
    """pyspark's generic builder refuses a Connect session once a classic one exists
    (SESSION_ALREADY_EXIST); both kinds compute in one process, classic first."""
    code = ("from pyspark.sql import functions as F\n"
            "from pipelines_core import spark, testing\n"
            f"cfg = testing.make_config({str(tmp_path)!r})\n"
            "classic = spark.get_session(cfg)\n"
            "print(classic.range(5).select(F.sum(F.col('id'))).collect()[0][0])\n"
            # pyspark picks Connect or classic columns by a process-wide switch, which
            # get_session keeps in step with the session it returns: use each after getting it
            f"remote = spark.get_session(cfg.replace(spark_mode='connect', "
            f"spark_connect_port={connect_config.spark_connect_port}))\n"
            "assert type(classic).__module__ != type(remote).__module__\n"
            "print(remote.range(5).select(F.sum(F.col('id'))).collect()[0][0])\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, text=True,
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-2:] == ["10", "10"]


@pytest.mark.connect
def test_connect_gives_the_same_outputs_as_the_classic_session(local_run, connect_config):
    cfg, _, _ = local_run
    etl, ml = run_both(connect_config, DAY)
    assert (etl.state, ml.state) == ("success", "success")
    for p in verify.OUTPUTS:
        assert verify.output_checksums(connect_config, p, DAY) == verify.output_checksums(cfg, p, DAY)


@pytest.mark.connect
def test_crash_mid_write_keeps_the_last_good_partition_and_rerun_completes(connect_config):
    cfg = connect_config.replace(namespace="crash")
    testing.generate_exports(cfg, [DAY])
    assert run_pipeline(CUSTOMER_DAILY_ETL, DAY, cfg).state == "success"
    good = verify.output_checksums(cfg, "customer_daily_etl", DAY)
    silver = cfg.namespace_root() / f"silver/customers/date={DAY}"
    target_before = os.path.realpath(silver)

    env = {**os.environ, **cfg.to_env(),
           "WORKBENCH_FAULTS": json.dumps({"ingest_cdc": {"kind": "crash", "times": 1}})}
    cmd = [sys.executable, "-m", "pipelines_core.cli", "run", "--pipeline",
           "customer_daily_etl", "--date", DAY.isoformat()]
    crashed = subprocess.run(cmd, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert os.path.realpath(silver) == target_before  # the swap never happened
    assert verify.output_checksums(cfg, "customer_daily_etl", DAY) == good
    lost = Ledger(cfg.ledger_path).read_attempts(namespace="crash", step="ingest_cdc")
    assert [r.status for r in lost] == ["success", "lost"]

    rerun = subprocess.run(cmd, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert verify.output_checksums(cfg, "customer_daily_etl", DAY) == good


def test_bad_day_trips_the_quality_gate_and_stops_downstream(tmp_path, spark):
    cfg = testing.make_config(tmp_path, namespace="bad", bad_days=(DAY,))
    testing.generate_exports(cfg, [DAY])
    out = run_pipeline(CUSTOMER_DAILY_ETL, DAY, cfg)
    st = states(out)
    assert out.state == "failed" and out.failed_step == "quality_gate"
    assert st[("quality_gate", None)] == "failed"
    assert st[("gold_region_aggregates", None)] == "upstream_failed"
    assert st[("notify", None)] == "upstream_failed"
    assert next(s for s in out.steps if s.step == "quality_gate").attempts == 1  # not retried
    quality = json.loads((cfg.namespace_root() /
                          f"quality/customers/date={DAY}/data.json").read_text())
    failed = {c["name"] for c in quality["checks"] if not c["passed"]}
    assert failed == {"null_keys", "referential_region"}
    assert not (cfg.namespace_root() / f"gold/customer_daily_summary/date={DAY}").exists()
    assert not verify.outputs_present(cfg, CUSTOMER_DAILY_ETL.name, DAY)  # stopped early
    [alert] = read_alerts(cfg, kind="failure")
    assert alert["step"] == "quality_gate" and "null_keys" in alert["error"]


def test_non_separable_leads_trip_the_auc_gate(tmp_path, spark):
    cfg = testing.make_config(tmp_path, namespace="noisy", noisy_lead_days=(DAY,))
    etl, ml = run_both(cfg, DAY)
    assert etl.state == "success"
    assert ml.state == "failed" and ml.failed_step == "auc_gate"
    assert states(ml)[("deploy", None)] == "upstream_failed"
    assert not (cfg.namespace_root() / "production/lead_scoring/latest").exists()
    [alert] = read_alerts(cfg, kind="failure")
    assert "AUC gate failed" in alert["error"]


def test_transient_fault_is_retried_with_the_configured_backoff(config, monkeypatch):
    testing.generate_exports(config, [DAY])
    monkeypatch.setenv("WORKBENCH_FAULTS", json.dumps({"gold_summary": {"kind": "raise",
                                                                          "times": 2}}))
    slept = []
    out = run_pipeline(CUSTOMER_DAILY_ETL, DAY, config, sleep=slept.append)
    assert out.state == "success"
    assert slept == [1.0, 2.0]  # TEST_RETRY: base 1 s, factor 2
    tries = Ledger(config.ledger_path).read_attempts(step="gold_summary")
    assert [(r.attempt, r.status) for r in tries] == [(1, "failed"), (2, "failed"), (3, "success")]
    assert "injected raise fault" in tries[0].error
    assert read_alerts(config, kind="failure") == []


def test_hang_past_the_timeout_is_cut_and_retried(config, monkeypatch):
    testing.generate_exports(config, [DAY])
    cfg = config.replace(step_timeout_s=2.0)
    monkeypatch.setenv("WORKBENCH_FAULTS", json.dumps({"daily_report": {"kind": "hang",
                                                                          "times": 1}}))
    out = run_pipeline(CUSTOMER_DAILY_ETL, DAY, cfg, sleep=lambda s: None)
    assert out.state == "success"
    tries = Ledger(cfg.ledger_path).read_attempts(step="daily_report")
    assert [r.status for r in tries] == ["failed", "success"]
    assert tries[0].error.startswith("StepTimeout")
    assert 1.5 < tries[0].duration_s < 8  # cut near the 2 s timeout, not the 9 s hang


def test_permanent_failure_exhausts_retries_and_alerts_once(config, monkeypatch):
    testing.generate_exports(config, [DAY])
    monkeypatch.setenv("WORKBENCH_FAULTS", json.dumps({"ingest_cdc": {"kind": "permanent"}}))
    out = run_pipeline(CUSTOMER_DAILY_ETL, DAY, config, sleep=lambda s: None)
    assert out.state == "failed"
    assert next(s for s in out.steps if s.step == "ingest_cdc").attempts == 3
    assert states(out)[("quality_gate", None)] == "upstream_failed"
    assert len(read_alerts(config, kind="failure")) == 1


def test_missing_export_fails_the_sensor_after_its_timeout(config):
    cfg = config.replace(sensor_timeout_s=1.0, sensor_poke_s=0.2)
    out = run_pipeline(CUSTOMER_DAILY_ETL, DAY, cfg)
    assert out.failed_step == "wait_for_export"
    assert "bronze export of" in out.steps[0].error and ": not within 1 s" in out.steps[0].error


def test_noop_run_follows_the_graph_without_touching_data(tmp_path):
    cfg = testing.make_config(tmp_path, namespace="floor", noop=True)
    out = run_pipeline(CUSTOMER_DAILY_ETL, FIRST, cfg)  # no export exists: the sensor passes
    assert out.state == "success"
    assert states(out)[("daily_report", None)] == "skipped"  # the branch still decides
    assert len([s for s in out.steps if s.state == "success"]) == 11
    assert not (cfg.namespace_root()).exists()
    assert len(Ledger(cfg.ledger_path).read_attempts(namespace="floor")) == 11
