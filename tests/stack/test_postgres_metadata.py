"""The workbench's PostgreSQL (Debian's package, started natively on 127.0.0.1 in a temporary
state folder): one database, role and password per orchestrator, PostgreSQL's defaults
otherwise. That each orchestrator keeps its runs there on the production profile is read back
with ``psql`` in the adapters' contract suite (tests/adapters/test_contract.py), which runs on
that profile.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from pipelines_core import testing
from pipelines_core.postgres import DATABASES, SUPERUSER, PostgresServer, pg_bin
from pipelines_core.procs import free_port, port_open


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
