"""One contract, five adapters: each drives its orchestrator through real services and reports
runs, steps, attempts and errors that must agree with the run ledger (the ground truth every
step attempt writes, whoever runs it).

Per adapter, against its real services on 127.0.0.1 and the session's Spark Connect server, on
the production profile the benchmark uses (the orchestrator's metadata in its own database on
a PostgreSQL server of the adapter's own, started natively on a free port): a successful run
whose record is read back with ``psql`` from the orchestrator's own database, a successful run that retries a transient fault and skips a branch; a failed run whose
permanent fault exhausts the retries and stops everything downstream; the bad-input cases
(a date before the start, broken exports, a double trigger, a changed input re-run); the
crash scenario's smallest real case (the component whose death a running step shares, killed
mid-run with the crash-detection settings tuned); and after ``stop()``, no component of its
services left running.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timezone

import pytest

from benchmarks.adapters.base import Adapter, RunView
from benchmarks.harness import load_adapter
from benchmarks.crash import CrashCase, run_case
from benchmarks.plan import BenchPlan
from benchmarks.scenarios import Scenarios
from pipelines_core.contract import BRONZE_EXPORT, describe
from pathlib import Path

from pipelines_core import testing
from pipelines_core.ledger import Ledger
from pipelines_core.postgres import PostgresServer
from pipelines_core.procs import free_port
from pipelines_core.spec import get_pipeline, required_steps, retry_policy

ETL = "customer_daily_etl"
OK_DAY = date(2026, 11, 2)     # not the 1st: monthly_report is skipped
FAIL_DAY = date(2026, 11, 3)
CRASH_DAY = date(2026, 11, 6)
# What the crash case kills, per adapter, where the tuned detection answers within a test's
# time: Airflow's scheduler (its orphan check takes the task up again), Prefect's worker
# (its flow run goes on in a session of its own), luigid, and the step's own process
# elsewhere. The kills that wait for a timer (Dagster's code server: its run's max runtime,
# 405 s here; Prefect's worker with the flow run's process: the zombie automation, 90 s
# after the last heartbeat) are the benchmark's.
CRASH_TARGETS = {"airflow": "scheduler", "prefect": "worker", "dagster": "step process",
                 "luigi": "luigid", "direct": "step process"}
ADAPTERS = ["direct", "airflow", "prefect", "dagster", "luigi"]
DOWNSTREAM_OF_SUMMARY = ["choose_report", "monthly_report", "daily_report", "notify"]
DOWNSTREAM_OF_INGEST = set(get_pipeline(ETL).downstream_of("ingest_cdc"))


def faults(plan: dict) -> dict[str, str]:
    return {"WORKBENCH_FAULTS": json.dumps(plan)}


@pytest.fixture(scope="module", params=ADAPTERS)
def adapter(request, connect_config):
    # a folder the postgres user may pass through: the server runs as that user under root
    with testing.traversable_root(f"wb-contract-{request.param}-") as root:
        cfg = connect_config.replace(lake_root=root / "lake", state_dir=root / "state",
                                     postgres_port=free_port())
        adapter = load_adapter(request.param, cfg)
        testing.generate_exports(adapter.config, [OK_DAY, FAIL_DAY])
        adapter.use_profile("production")
        adapter.use_detection("tuned")  # the crash case's; the others do not depend on it
        try:
            adapter.start()
            yield adapter
        finally:
            adapter.stop()
            PostgresServer(adapter.config).stop()  # started by the services' up


@pytest.fixture(scope="module")
def ok_run(adapter) -> RunView:
    return adapter.run_date(ETL, OK_DAY, env=faults(
        {"ingest_cdc": {"kind": "raise", "times": 1, "dates": [OK_DAY.isoformat()]}}))


@pytest.fixture(scope="module")
def failed_run(adapter) -> RunView:
    return adapter.run_date(ETL, FAIL_DAY, env=faults(
        {"gold_summary": {"kind": "permanent", "dates": [FAIL_DAY.isoformat()]}}))


def ledger(adapter: Adapter, day: date) -> dict[tuple[str, str | None], list]:
    """The ledger's attempts of ``day`` in the adapter's namespace, per (step, map key)."""
    out: dict[tuple[str, str | None], list] = {}
    for rec in Ledger(adapter.config.ledger_path).read_attempts(
            pipeline=ETL, date=day.isoformat(), namespace=adapter.config.namespace):
        out.setdefault((rec.step, rec.map_key), []).append(rec)
    return out


def assert_steps_match_ledger(adapter: Adapter, run: RunView, day: date) -> None:
    """Every step the ledger saw is reported with the same attempts, in order, with the same
    outcome and (for failures) the ledger's error; nothing the ledger did not see ran."""
    truth = ledger(adapter, day)
    assert truth, f"the ledger has no attempt of {day} in namespace {adapter.config.namespace}"
    for (step, key), records in truth.items():
        view = run.step(step, key)
        assert view is not None, f"{adapter.name} reports no {step}[{key}]; ledger has it"
        assert [a.state for a in view.attempts] == [r.status for r in records], (
            f"{step}[{key}]: {adapter.name} reports {[a.state for a in view.attempts]}, "
            f"ledger {[r.status for r in records]}")
        assert view.state == records[-1].status
        for seen, rec in zip(view.attempts, records):
            if rec.status == "failed":
                assert seen.error and rec.error.splitlines()[0][:60] in seen.error, (
                    f"{step} attempt {rec.attempt}: error {seen.error!r}, ledger {rec.error!r}")
    ran = {step for step, _ in truth}
    for view in run.steps:
        if view.step not in ran:
            assert view.state in ("skipped", "upstream_failed"), (
                f"{view.step} reported {view.state} but never ran")
            assert not [a for a in view.attempts if a.state in ("success", "failed")]


def test_successful_run_retries_a_transient_fault_and_skips_the_other_branch(adapter, ok_run):
    assert ok_run.state == "success"
    assert (ok_run.pipeline, ok_run.date) == (ETL, OK_DAY.isoformat())
    assert_steps_match_ledger(adapter, ok_run, OK_DAY)
    ingest = ok_run.step("ingest_cdc")
    assert [a.state for a in ingest.attempts] == ["failed", "success"]
    assert "injected raise fault" in ingest.attempts[0].error
    assert ok_run.step("daily_report").state == "success"
    monthly = ok_run.step("monthly_report")
    assert monthly is None or monthly.state == "skipped", monthly
    regions = {s.map_key for s in ok_run.steps if s.step == "gold_region_aggregates"}
    assert regions == {"amer", "apac", "emea", "latam"}
    for step in ok_run.steps:
        for attempt in step.attempts:
            if attempt.state in ("success", "failed"):
                assert attempt.duration_s is not None and attempt.duration_s > 0, (
                    step.step, attempt)


def test_failed_run_exhausts_retries_and_stops_downstream(adapter, failed_run):
    assert failed_run.state == "failed"
    assert_steps_match_ledger(adapter, failed_run, FAIL_DAY)
    retries = retry_policy(get_pipeline(ETL), adapter.config).retries
    summary = failed_run.step("gold_summary")
    assert [a.state for a in summary.attempts] == ["failed"] * (retries + 1)
    assert all("injected permanent fault" in a.error for a in summary.attempts)
    truth = ledger(adapter, FAIL_DAY)
    for step in DOWNSTREAM_OF_SUMMARY:
        assert (step, None) not in truth, f"{step} ran after its upstream failed"
        view = failed_run.step(step)
        assert view is None or view.state in ("upstream_failed", "skipped"), (step, view)
    assert any(failed_run.step(s) is not None and failed_run.step(s).state == "upstream_failed"
               for s in DOWNSTREAM_OF_SUMMARY) or adapter.name in UNREPORTED_DOWNSTREAM, (
        f"{adapter.name} reports no downstream step as upstream_failed")


def test_runs_are_read_back_by_date(adapter, ok_run, failed_run):
    by_day = {d: [r.run_id for r in adapter.read_runs(ETL, d)] for d in (OK_DAY, FAIL_DAY)}
    assert ok_run.run_id in by_day[OK_DAY] and failed_run.run_id not in by_day[OK_DAY]
    assert failed_run.run_id in by_day[FAIL_DAY] and ok_run.run_id not in by_day[FAIL_DAY]
    again = next(r for r in adapter.read_runs(ETL, FAIL_DAY) if r.run_id == failed_run.run_id)
    assert again.state == "failed"


# What each orchestrator's own store says of a run (its state, then its steps' records), read
# straight from its database with psql: ``{run_id}`` is the adapter's run id.
STORE_QUERIES = {
    "airflow": ("SELECT state FROM dag_run WHERE run_id = '{run_id}'",
                "SELECT task_id FROM task_instance WHERE run_id = '{run_id}' "
                "AND state = 'success'"),
    "prefect": ("SELECT state_type FROM flow_run WHERE id = '{run_id}'",
                "SELECT name FROM task_run WHERE flow_run_id = '{run_id}' "
                "AND state_type = 'COMPLETED'"),
    "dagster": ("SELECT status FROM runs WHERE run_id = '{run_id}'",
                "SELECT DISTINCT step_key FROM event_logs WHERE run_id = '{run_id}' "
                "AND dagster_event_type = 'STEP_SUCCESS'"),
    # luigid keeps tasks, not runs: a task per step, with its DONE events
    "luigi": (None, "SELECT t.name FROM tasks t JOIN task_events e ON e.task_id = t.id "
                    "WHERE t.name LIKE '" + ETL + ".%' AND e.event_name = 'DONE'"),
}
RUN_DONE = {"airflow": "success", "prefect": "COMPLETED", "dagster": "SUCCESS"}


def test_the_run_is_kept_in_the_orchestrator_s_own_postgres_database(adapter, ok_run):
    """The production profile: every step the ledger saw succeed is a record in the
    orchestrator's own database, read with psql; nothing went to a quickstart SQLite file."""
    if adapter.name == "direct":
        assert adapter.profile == "production"  # and nothing else: it keeps no metadata
        return
    server = PostgresServer(adapter.config)
    run_sql, steps_sql = (q and q.format(run_id=ok_run.run_id)
                          for q in STORE_QUERIES[adapter.name])
    if run_sql:
        assert server.query(run_sql, user=adapter.name, database=adapter.name) == [
            [RUN_DONE[adapter.name]]]
    recorded = {row[0] for row in server.query(steps_sql, user=adapter.name,
                                               database=adapter.name)}
    executed = {step for (step, _), records in ledger(adapter, OK_DAY).items()
                if any(r.status == "success" for r in records)}
    # Dagster's step keys name assets, Luigi's tasks carry the pipeline: matched by name
    for step in executed:
        assert any(step in r for r in recorded), (step, sorted(recorded))
    home = Path(adapter.service.status()["home"])
    assert [p for p in home.rglob("*")
            if p.suffix in (".db", ".sqlite", ".sqlite3") or p.name.endswith(".db-wal")] == []


# --- bad input: the benchmark's scenario, asserted case by case on every adapter -----------

@pytest.fixture(scope="module")
def direct_reference(connect_config, tmp_path_factory):
    """The direct runner in a lake of its own: the outputs a double trigger must equal."""
    root = tmp_path_factory.mktemp("contract-reference")
    return load_adapter("direct", connect_config.replace(lake_root=root / "lake",
                                                         state_dir=root / "state"))


@pytest.fixture(scope="module")
def bad_input(adapter, direct_reference, ok_run, failed_run) -> dict:
    """Each case of the bad-input scenario on ``adapter``; the double trigger is two runs at
    once on Prefect (and on the direct runner, in its own test), one run elsewhere."""
    plan = BenchPlan([adapter.name], double_trigger=adapter.name == "prefect")
    days = list(plan.bad_input_dates())
    testing.generate_exports(adapter.config, days)
    testing.generate_exports(direct_reference.config, days)
    return Scenarios(plan, progress=lambda _: None).bad_input(adapter, direct_reference)


def test_a_date_before_the_start_is_refused_with_one_line(adapter, bad_input):
    case = bad_input["before_start"]
    assert case["verdict"] == "refused before anything started"
    assert case["error"] == ("2026-09-30 is before the start date of customer_daily_etl "
                             "(2026-10-01): it has no run for that date")
    assert case["steps_run"] == []


@pytest.mark.parametrize("case, says", [
    ("unreadable_export", "the export of 2026-10-26 cannot be read: "),
    ("missing_column", "the export of 2026-10-26 lacks column op_ts (in "),
])
def test_a_broken_export_stops_at_the_contract_once_with_one_alert(adapter, bad_input, case,
                                                                   says):
    x = bad_input[case]
    attempts = contract_attempts(adapter)
    assert x["state"] == "failed" and x["verdict"] == (
        "stopped at the contract, not retried" if attempts == 1
        else f"failed after {attempts} attempt(s) of ingest_cdc"), x
    assert says in (x["error"] or "") and f"(expected: {describe(BRONZE_EXPORT)})" in x["error"], x
    assert (x["ingest_attempts"], x["alerts"]) == (attempts, 1)
    assert "ingest_cdc" in x["steps_run"] and not set(x["steps_run"]) & DOWNSTREAM_OF_INGEST
    assert x["outputs_before"] == 0 and x["downstream_untouched"]  # nothing written


def test_a_double_trigger_ends_with_the_data_of_one_run(adapter, bad_input):
    x = bad_input["double_trigger"]
    triggers = 2 if adapter.name == "prefect" else 1
    assert x["states"] == ["success"] * triggers, x
    assert x["summary_successes"] == triggers  # the ledger shows every run
    assert x["identical_to_direct"] is (None if adapter.name == "direct" else True)


def test_a_changed_input_is_recomputed_or_said_skipped(adapter, bad_input):
    """Re-exported without a column while the date's outputs exist: the orchestrators that run
    the date again stop at the contract and leave the outputs as they were; Luigi, which
    judges a date done from its outputs, says it ran nothing and how to force it."""
    x = bad_input["changed_input_rerun"]
    assert x["outputs_before"] > 0 and x["downstream_untouched"], x
    if adapter.name == "luigi":
        assert (x["state"], x["steps_run"], x["alerts"]) == ("skipped", [], 0), x
        assert x["error"].startswith("skipped: outputs exist; to recompute: ")
        assert x["error"].endswith("--date 2026-10-27 --force")
    else:
        assert x["verdict"] == "stopped at the contract, not retried", x
        assert "the export of 2026-10-27 lacks column op_ts" in x["error"]
        assert (x["ingest_attempts"], x["alerts"]) == (1, 1)


def contract_attempts(adapter: Adapter) -> int:
    """How many attempts a contract violation gets: one, except where the orchestrator
    cannot tell it from a failure worth retrying (``RETRIES_A_VERDICT``)."""
    if adapter.name in RETRIES_A_VERDICT:
        return retry_policy(get_pipeline(ETL), adapter.config).retries + 1
    return 1


# --- crash: the benchmark's scenario, its smallest real case on every adapter -------------

def test_a_kill_mid_run_gets_the_verdict_the_ledger_gives(adapter, direct_reference):
    """The component a running step dies with (the direct runner: the step's own process)
    SIGKILLed while ingest_cdc runs and started again 3 s later through the service command,
    with the crash-detection settings tuned: the planned kill is no incident, every component
    is healthy afterwards, nothing is half-written, and the verdict is the one the ledger's
    attempts give (a success with nothing run twice recovered by itself; otherwise a human's
    re-run ends well with the direct runner's outputs)."""
    target = CRASH_TARGETS[adapter.name]
    for cfg in (adapter.config, direct_reference.config):
        testing.generate_exports(cfg, [CRASH_DAY])
    t0 = time.time()
    x = run_case(adapter, direct_reference, CrashCase(target, pause_s=3.0), CRASH_DAY,
                 bound_s=240, progress=lambda _: None)
    why = json.dumps(x, default=str)
    assert x["detection"]["mode"] == ("none" if adapter.name == "direct" else "tuned"), why
    if adapter.name == "prefect":  # tuned: the docs' zombie automation is on the server
        names = [a["name"] for a in adapter.api.post("/automations/filter", {})]
        assert names.count("Crash zombie flows") == 1, names
    assert x["took_down"] and x["half_written"] == [], why
    assert adapter.incidents == [] and adapter.planned_down == set()
    service = getattr(adapter, "service", None)
    if service is not None:
        assert service.status()["healthy"], why
    since = datetime.fromtimestamp(t0 - 1, timezone.utc).isoformat()
    attempts = [a for records in ledger(adapter, CRASH_DAY).values() for a in records
                if a.start >= since]
    assert x["lost_attempts"] == sorted({a.step + (f"[{a.map_key}]" if a.map_key else "")
                                         for a in attempts if a.status == "lost"}), why
    done = [(a.step, a.map_key) for a in attempts if a.status == "success"]
    twice = sorted({step + (f"[{key}]" if key else "") for step, key in done
                    if done.count((step, key)) > 1})
    if x["end_state"] == "success":  # nobody else ran it: the ledger is the orchestrator's
        assert all({step for step, _ in done}.intersection(group)
                   for group in required_steps(get_pipeline(ETL))), why
        assert x["duplicated_steps"] == twice, why
        assert x["verdict"] == ("duplicated work" if twice else "recovered by itself"), why
        assert x["identical_to_direct"] is True and x["human"] is None, why
    else:
        assert x["verdict"] == "needs a human", why
        assert x["human"]["state"] == "success" and x["human"]["identical_to_direct"], why


def test_stop_leaves_no_component_running(adapter, ok_run, failed_run):
    """Last of the module's tests on each adapter: the fixture's own stop finds nothing."""
    service = getattr(adapter, "service", None)
    adapter.stop()
    if service is None:
        assert adapter.name == "direct"  # runs in the caller's process: no services
        return
    status = service.status()
    assert status["components"], status
    assert [c["health"] for c in status["components"]] == ["down"] * len(status["components"])


# Orchestrators that do not create a record for a task that never started, with the reason.
UNREPORTED_DOWNSTREAM: dict[str, str] = {
    "prefect": "the flow calls its tasks directly, so the failed task's exception ends the flow "
               "run before any later task is called: Prefect creates no task run (and so no "
               "NotReady state) for the steps downstream",
}

# Orchestrators that retry a contract violation like any failure, with the reason.
RETRIES_A_VERDICT: dict[str, str] = {
    "luigi": "luigid counts every failure against the task's retry_count and has no retry by "
             "exception type, so a broken export is tried again (the same error each time)",
}
