"""Orchestrator metadata on Postgres instead of SQLite, proven natively: Debian's PostgreSQL
started by the test on 127.0.0.1 (a temporary cluster), the compose stack's own database
init script run against it, and a Prefect server on that database running one date of
``customer_daily_etl``; the run and its task runs are then read from Postgres itself.

Prefect is the orchestrator whose locked environment already carries a Postgres driver
(asyncpg); Airflow's and Dagster's locks do not yet (psycopg2, dagster-postgres).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import pytest

from pipelines_core import testing
from pipelines_core.config import PROJECT_ROOT
from pipelines_core.procs import free_port, port_open, start_group, stop_group, wait_for_port

DAY = date(2026, 11, 2)
PIPELINE = "customer_daily_etl"
INIT_SCRIPT = PROJECT_ROOT / "docker" / "postgres" / "init-databases.sh"
PREFECT_PYTHON = PROJECT_ROOT / "prefect_impl" / ".venv" / "bin" / "python"
SUPERUSER = "workbench"

pytestmark = pytest.mark.timeout(600)


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if not found:
        pytest.fail("PostgreSQL is missing: `make test-tools` installs Debian's postgresql")
    return Path(found[-1]).parent


class TempPostgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1: ``initdb`` into a temporary folder,
    ``postgres`` in its own process group (as the ``postgres`` user when running as root,
    since initdb refuses root), password authentication for every connection."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="wb-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.pgid: int | None = None

    def _as_owner(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def start(self) -> "TempPostgres":
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(pwfile, "postgres")
        subprocess.run(self._as_owner([str(self.bin / "initdb"), "-D", str(self.data),
                                       "-U", SUPERUSER, "--pwfile", str(pwfile),
                                       "--auth", "scram-sha-256", "-E", "UTF8",
                                       "--locale", "C"]),
                       check=True, capture_output=True, timeout=120)
        log = self.root / "postgres.log"
        if os.geteuid() == 0:
            log.touch()
            shutil.chown(log, "postgres")
        proc = start_group(self._as_owner([
            str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
            "-c", "fsync=off"]), log=log)
        self.pgid = proc.pid
        wait_for_port(self.port, proc, timeout_s=60, what="postgres", log=log)
        return self

    def env(self, user: str = SUPERUSER, password: str | None = None) -> dict[str, str]:
        return {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.port),
                "PGUSER": user, "PGPASSWORD": password or self.password}

    def psql(self, sql: str, *, user: str = SUPERUSER, password: str | None = None,
             db: str = "postgres") -> list[list[str]]:
        out = subprocess.run([str(self.bin / "psql"), "-X", "-A", "-t", "-F", "\t",
                              "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                             env=self.env(user, password), capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def stop(self) -> None:
        if self.pgid is not None:
            subprocess.run(self._as_owner([str(self.bin / "pg_ctl"), "stop", "-D",
                                           str(self.data), "-m", "fast", "-w", "-t", "30"]),
                           capture_output=True, timeout=60)
            stop_group(self.pgid, grace_s=10)
            self.pgid = None
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres():
    pg = TempPostgres()
    try:
        yield pg.start()
    finally:
        pg.stop()
        assert not port_open(pg.port), "postgres still listens"


@pytest.fixture(scope="module")
def databases(postgres):
    """The compose stack's init script, run as the Postgres image runs it on a fresh volume."""
    passwords = {f"{n.upper()}_DB_PASSWORD": secrets.token_urlsafe(16)
                 for n in ("airflow", "prefect", "dagster")}
    out = subprocess.run(["bash", str(INIT_SCRIPT)], capture_output=True, text=True,
                         timeout=120, env={**postgres.env(), **passwords,
                                           "POSTGRES_USER": SUPERUSER,
                                           "PATH": f"{postgres.bin}:{os.environ['PATH']}"})
    assert out.returncode == 0, out.stderr
    return passwords


def test_init_script_creates_one_database_and_role_per_orchestrator(postgres, databases):
    rows = postgres.psql("SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
                         "WHERE datname IN ('airflow', 'prefect', 'dagster') ORDER BY 1")
    assert rows == [["airflow", "airflow"], ["dagster", "dagster"], ["prefect", "prefect"]]
    # each role logs in with its own password, and only with it
    assert postgres.psql("SELECT current_user", user="dagster",
                         password=databases["DAGSTER_DB_PASSWORD"], db="dagster") == [["dagster"]]
    wrong = subprocess.run([str(postgres.bin / "psql"), "-X", "-d", "dagster", "-c", "SELECT 1"],
                           env=postgres.env("dagster", databases["PREFECT_DB_PASSWORD"]),
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr


@pytest.mark.skipif(not PREFECT_PYTHON.exists(), reason="prefect_impl environment not set up")
def test_prefect_records_its_runs_in_postgres(postgres, databases, tmp_path):
    from benchmarks.adapters.prefect import PrefectAdapter

    password = databases["PREFECT_DB_PASSWORD"]
    url = f"postgresql+asyncpg://prefect:{password}@127.0.0.1:{postgres.port}/prefect"
    # A floor run (noop steps: the graph, branches and records, no Spark) keeps this quick;
    # what is measured here is where Prefect keeps its metadata.
    cfg = testing.make_config(tmp_path, noop=True)
    home = tmp_path / "prefect-home"
    adapter = PrefectAdapter(cfg, port=free_port(), home=home)
    # Prefect's own setting, passed to the service command's server through its environment
    adapter.service.env["PREFECT_API_DATABASE_CONNECTION_URL"] = url
    adapter.start()
    try:
        # recorded among the settings the benchmark applied, its password hidden
        assert adapter.settings["PREFECT_API_DATABASE_CONNECTION_URL"] == url.replace(
            password, "***")
        run = adapter.run_date(PIPELINE, DAY, timeout_s=300)
    finally:
        adapter.stop()
    assert not port_open(adapter.port)
    assert run.state == "success", [(s.step, s.state) for s in run.steps]

    as_prefect = {"user": "prefect", "password": password, "db": "prefect"}
    rows = postgres.psql(
        "SELECT fr.id, f.name, fr.state_type, fr.parameters->>'day' FROM flow_run fr "
        "JOIN flow f ON f.id = fr.flow_id", **as_prefect)
    assert rows == [[run.run_id, PIPELINE, "COMPLETED", DAY.isoformat()]]
    tasks = postgres.psql(
        f"SELECT name, state_type FROM task_run WHERE flow_run_id = '{run.run_id}' ORDER BY name",
        **as_prefect)
    # Every step the run executed (the ledger, written by the steps themselves) is a task run
    # in Postgres; the adapter's view is read the moment the flow ends and can lag by a task.
    from pipelines_core.ledger import Ledger

    names = sorted({a.step if a.map_key is None else f"{a.step}[{a.map_key}]"
                    for a in Ledger(cfg.ledger_path).read_attempts(date=DAY.isoformat())})
    assert [t[0] for t in tasks] == names
    assert {t[1] for t in tasks if not t[0].startswith(("monthly_report", "daily_report"))} \
        == {"COMPLETED"}
    assert ["notify", "COMPLETED"] in tasks
    # nothing went to Prefect's default SQLite database
    assert not list(home.glob("*.db"))
