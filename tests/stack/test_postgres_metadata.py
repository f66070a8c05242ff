"""The production profile: every orchestrator's metadata in its own database on the
workbench's PostgreSQL (Debian's package, started natively on 127.0.0.1 in a temporary state
folder), proven by reading each store back with ``psql`` after a real run, and by finding no
SQLite file in any home.

Each orchestrator runs one floor run (no-op steps: the graph, the branch, the records; no
Spark) of ``customer_daily_etl`` through its adapter and service command, as the benchmark
runs it.
"""

from __future__ import annotations

import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from benchmarks.harness import load_adapter
from pipelines_core import testing
from pipelines_core.ledger import Ledger
from pipelines_core.postgres import DATABASES, SUPERUSER, PostgresServer, pg_bin
from pipelines_core.procs import free_port, port_open

DAY = date(2026, 11, 2)
PIPELINE = "customer_daily_etl"
BRANCHES = ("monthly_report", "daily_report")

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """A configuration whose state folder holds its own PostgreSQL on a free port."""
    with testing.traversable_root("wb-production-") as root:
        cfg = testing.make_config(root, noop=True, postgres_port=free_port())
        server = PostgresServer(cfg)
        t0 = time.monotonic()
        server.start()
        print(f"PostgreSQL initialised and ready in {time.monotonic() - t0:.1f} s")
        try:
            yield cfg, server
        finally:
            server.stop()
    assert not port_open(server.port), "postgres still listens"


def test_one_database_and_role_per_orchestrator_each_with_its_own_password(production):
    _, server = production
    rows = server.query("SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
                        "WHERE datname <> 'postgres' AND NOT datistemplate ORDER BY 1")
    assert rows == [[name, name] for name in sorted(DATABASES)]
    assert server.query("SELECT current_user", user="dagster", database="dagster") \
        == [["dagster"]]
    creds = server.credentials()
    wrong = subprocess.run([str(pg_bin() / "psql"), "-X", "-d", "dagster", "-c", "SELECT 1"],
                           env={**server.env("dagster"), "PGPASSWORD": creds["prefect"]},
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    # it listens on 127.0.0.1 only, with PostgreSQL's defaults otherwise (fsync on)
    assert server.query("SHOW listen_addresses") == [["127.0.0.1"]]
    assert server.query("SHOW fsync") == [["on"]]
    # a second start finds it running and changes nothing
    pid = server.status()["pid"]
    assert server.start()["pid"] == pid
    assert len(server.query("SELECT 1 FROM pg_roles WHERE rolname = 'luigi'")) == 1
    assert Path(server.credentials_path).stat().st_mode & 0o077 == 0
    assert SUPERUSER in creds


def ledger_steps(cfg, namespace: str) -> list[str]:
    """The steps (with their map keys) a run executed, as the steps themselves recorded."""
    return sorted({a.step if a.map_key is None else f"{a.step}[{a.map_key}]"
                   for a in Ledger(cfg.ledger_path).read_attempts(date=DAY.isoformat())
                   if a.namespace == namespace})


def sqlite_files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*")
            if p.suffix in (".db", ".sqlite", ".sqlite3") or p.name.endswith(".db-wal")]


# What each orchestrator's own store says of the run: its run state and its steps' records,
# read straight from its database with psql.
STORE_QUERIES = {
    "airflow": ("SELECT state FROM dag_run WHERE dag_id = '{pipeline}'",
                "SELECT task_id, state FROM task_instance WHERE dag_id = '{pipeline}'"),
    "prefect": ("SELECT fr.state_type FROM flow_run fr JOIN flow f ON f.id = fr.flow_id "
                "WHERE f.name = '{pipeline}'",
                "SELECT tr.name, tr.state_type FROM task_run tr JOIN flow_run fr "
                "ON fr.id = tr.flow_run_id JOIN flow f ON f.id = fr.flow_id "
                "WHERE f.name = '{pipeline}'"),
    "dagster": ("SELECT status FROM runs WHERE pipeline_name LIKE '{pipeline}%'",
                "SELECT DISTINCT step_key, dagster_event_type FROM event_logs "
                "WHERE dagster_event_type = 'STEP_SUCCESS'"),
    "luigi": ("SELECT count(*) FROM tasks WHERE name LIKE '{pipeline}.%'",
              "SELECT t.name, e.event_name FROM tasks t JOIN task_events e "
              "ON e.task_id = t.id WHERE t.name LIKE '{pipeline}.%' AND e.event_name = 'DONE'"),
}
RUN_DONE = {"airflow": [["success"]], "prefect": [["COMPLETED"]], "dagster": [["SUCCESS"]]}


@pytest.mark.parametrize("name", ["airflow", "prefect", "dagster", "luigi"])
def test_each_orchestrator_keeps_its_runs_in_its_postgres_database(production, name):
    cfg, server = production
    adapter = load_adapter(name, cfg)
    adapter.use_profile("production")
    adapter.start()
    try:
        run = adapter.run_date(PIPELINE, DAY, timeout_s=600)
        home = Path(adapter.service.status()["home"])
    finally:
        adapter.stop()
    assert run.state == "success", [(s.step, s.state, s.error) for s in run.steps]
    assert adapter.profile == "production"

    run_sql, steps_sql = (q.format(pipeline=PIPELINE) for q in STORE_QUERIES[name])
    runs = server.query(run_sql, user=name, database=name)
    steps = server.query(steps_sql, user=name, database=name)
    executed = ledger_steps(cfg, adapter.config.namespace)
    assert executed, "the run executed no step"
    if name == "luigi":
        # luigid records a task per step (the fan-out's map keys are parameters)
        assert int(runs[0][0]) >= len({s.split("[")[0] for s in executed})
        done = {row[0].split(".", 1)[1] for row in steps}
        assert {s.split("[")[0] for s in executed} <= done | {"bronze_export"}
    else:
        assert runs == RUN_DONE[name]
        recorded = {row[0] for row in steps}
        # every step the ledger saw is a record in the orchestrator's own store (Dagster's
        # step keys name assets; the fan-out's keys carry the region)
        for step in {s.split("[")[0] for s in executed} - set(BRANCHES):
            assert any(step in r for r in recorded), (step, sorted(recorded))
    # nothing went to the quickstart's SQLite
    assert sqlite_files(home) == [], sqlite_files(home)
