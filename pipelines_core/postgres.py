"""The production profile's PostgreSQL: one native server per state folder, started by the
workbench from Debian's ``postgresql`` package on 127.0.0.1, with one role, one database and
one generated password per orchestrator.

    workbench postgres start | stop | status

Layout under ``<state_dir>/postgres/``: ``data/`` (the cluster, owned by the ``postgres`` user
when the workbench runs as root: ``initdb`` refuses root), ``credentials.json`` (the generated
passwords, readable by the owner only), ``server.json`` (the pid record), ``postgres.log``.
The roles and databases are made by ``docker/postgres/init-databases.sh``, the script the
compose stack's Postgres image runs on a fresh volume: one definition for both.

The server runs with PostgreSQL's defaults except where it listens (127.0.0.1 and the
configured port, no Unix socket): fsync stays on, as in production. Nothing supervises it:
``stop`` (or ``make down``) ends it, and a server that died is started again only by the next
``start``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from pipelines_core.config import PROJECT_ROOT, WorkbenchConfig
from pipelines_core.errors import WorkbenchError
from pipelines_core.procs import (ProcessRecord, locked, poll_until, port_open,
                                  start_recorded, stop_group)

#: The roles and databases, one per orchestrator, the init script creates.
DATABASES = ("airflow", "prefect", "dagster", "luigi")
SUPERUSER = "workbench"
INIT_SCRIPT = PROJECT_ROOT / "docker" / "postgres" / "init-databases.sh"
OS_USER = "postgres"
#: The server settings that differ from PostgreSQL's defaults (recorded with the results).
SETTINGS = {"listen_addresses": "127.0.0.1", "unix_socket_directories": ""}


class PostgresError(WorkbenchError):
    """PostgreSQL is missing, would not start, or refused a command; the message says why."""


def pg_bin() -> Path:
    """The ``bin`` folder of the newest installed PostgreSQL (Debian's layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not found:
        raise PostgresError("PostgreSQL is not installed: `make setup` installs Debian's "
                            "postgresql package (or run `apt-get install postgresql`)")
    return found[-1].parent


def version() -> str:
    """``initdb --version``'s number, e.g. ``15.18``."""
    out = subprocess.run([str(pg_bin() / "initdb"), "--version"], capture_output=True,
                         text=True, timeout=30)
    found = re.search(r"\b\d+(?:\.\d+)+\b", out.stdout)
    return found.group(0) if out.returncode == 0 and found else "unknown"


class PostgresServer:
    """The workbench's PostgreSQL server of one state folder (``config.postgres_port``)."""

    def __init__(self, config: WorkbenchConfig) -> None:
        self.config = config
        self.root = config.state_dir / "postgres"
        self.data = self.root / "data"
        self.port = config.postgres_port
        self.record_path = self.root / "server.json"
        self.log = self.root / "postgres.log"
        self.credentials_path = self.root / "credentials.json"

    # --- who runs it ---------------------------------------------------------------------------

    @staticmethod
    def as_owner(cmd: list[str]) -> list[str]:
        """``cmd`` run as the ``postgres`` user when we are root (``initdb`` and ``postgres``
        refuse root), else as ourselves."""
        return ["runuser", "-u", OS_USER, "--", *cmd] if os.geteuid() == 0 else cmd

    @staticmethod
    def give_to_owner(path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, OS_USER, OS_USER)

    # --- credentials ---------------------------------------------------------------------------

    def credentials(self) -> dict[str, str]:
        """``{role: password}`` for the superuser and every orchestrator, made once."""
        try:
            known = json.loads(self.credentials_path.read_text())
        except (OSError, ValueError):
            known = {}
        wanted = (SUPERUSER, *DATABASES)
        if all(name in known for name in wanted):
            return known
        known.update({name: secrets.token_urlsafe(18) for name in wanted if name not in known})
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.credentials_path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps(known, indent=1))
        tmp.replace(self.credentials_path)
        return known

    def url(self, database: str, driver: str = "postgresql") -> str:
        """The SQLAlchemy-style URL of ``database`` as its own role, e.g. ``driver`` =
        ``postgresql+psycopg2``."""
        if database not in DATABASES:
            raise PostgresError(f"no database {database!r}; the workbench makes "
                                f"{', '.join(DATABASES)}")
        password = self.credentials()[database]
        return f"{driver}://{database}:{password}@127.0.0.1:{self.port}/{database}"

    def env(self, user: str = SUPERUSER) -> dict[str, str]:
        """libpq's variables for ``psql`` as ``user``."""
        return {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.port),
                "PGUSER": user, "PGPASSWORD": self.credentials()[user],
                "PGCONNECT_TIMEOUT": "5"}

    # --- state ---------------------------------------------------------------------------------

    def record(self) -> ProcessRecord | None:
        return ProcessRecord.load(self.record_path)

    def running(self) -> bool:
        rec = self.record()
        return bool(rec and rec.alive() and port_open(self.port))

    def status(self) -> dict[str, Any]:
        rec = self.record()
        alive = bool(rec and rec.alive())
        return {"pid": rec.pid if alive else None, "port": self.port,
                "listening": port_open(self.port), "data": str(self.data),
                "log": str(self.log), "url": f"postgresql://127.0.0.1:{self.port}",
                "databases": list(DATABASES)}

    def locked(self):
        """One ``start`` or ``stop`` at a time per state folder (four service commands may
        ask for the server at once)."""
        return locked(self.root / "lock")

    # --- commands ------------------------------------------------------------------------------

    def start(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Initialise the cluster when it does not exist, start the server when it does not
        run, make the orchestrators' roles and databases; idempotent."""
        with self.locked():
            if not self.running():
                if port_open(self.port):
                    raise PostgresError(
                        f"port {self.port} on 127.0.0.1 is taken by a process the workbench "
                        f"did not start; stop it or set WORKBENCH_POSTGRES_PORT")
                if not (self.data / "PG_VERSION").exists():
                    self.initdb()
                self.launch(timeout_s)
            self.make_databases()
        return self.status()

    def initdb(self) -> None:
        bin_dir = pg_bin()
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and subprocess.run(["runuser", "-u", OS_USER, "--", "test", "-x",
                                                 str(self.root)]).returncode != 0:
            raise PostgresError(
                f"the {OS_USER} user, which runs PostgreSQL, cannot reach {self.root}: a "
                f"folder above it is closed to other users; open them for traversal "
                f"(chmod o+x) or set WORKBENCH_STATE_DIR to a folder under one that is open")
        shutil.rmtree(self.data, ignore_errors=True)
        self.data.mkdir(parents=True, mode=0o700)
        self.give_to_owner(self.data)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.credentials()[SUPERUSER] + "\n")
        self.give_to_owner(pwfile)
        try:
            out = subprocess.run(self.as_owner([
                str(bin_dir / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                "--pwfile", str(pwfile), "--auth", "scram-sha-256", "-E", "UTF8",
                "--locale", "C"]), capture_output=True, text=True, timeout=120)
        finally:
            pwfile.unlink(missing_ok=True)
        if out.returncode != 0:
            raise PostgresError(f"initdb failed in {self.data}:\n{out.stderr[-2000:]}")

    def launch(self, timeout_s: float) -> None:
        cmd = [str(pg_bin() / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        for key, value in SETTINGS.items():
            cmd += ["-c", f"{key}={value}"]
        proc, _ = start_recorded("postgres", self.as_owner(cmd), record=self.record_path,
                                 log=self.log, port=self.port)

        def ready() -> bool:
            return port_open(self.port) and self.query("SELECT 1", check=False) == [["1"]]

        try:
            poll_until(ready, timeout_s=timeout_s, interval_s=0.2, what="postgres ready",
                       fail=lambda: (f"exited with code {proc.returncode}; see {self.log}"
                                     if proc.poll() is not None else None),
                       error=PostgresError)
        except RuntimeError as exc:
            raise PostgresError(str(exc)) from None

    def make_databases(self) -> None:
        """The compose stack's init script, run as the Postgres image runs it (idempotent)."""
        creds = self.credentials()
        env = {**self.env(), "POSTGRES_USER": SUPERUSER,
               "PATH": f"{pg_bin()}:{os.environ.get('PATH', '')}",
               **{f"{name.upper()}_DB_PASSWORD": creds[name] for name in DATABASES}}
        out = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            raise PostgresError(f"{INIT_SCRIPT.name} failed:\n{out.stderr[-2000:]}")

    def query(self, sql: str, *, database: str = "postgres", user: str = SUPERUSER,
              check: bool = True) -> list[list[str]] | None:
        """Rows of ``sql`` through ``psql`` (tab-separated, no headers); None when ``psql``
        failed and ``check`` is False."""
        out = subprocess.run([str(pg_bin() / "psql"), "-X", "-A", "-t", "-F", "\t",
                              "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
                             env=self.env(user), capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            if check:
                raise PostgresError(f"psql -d {database}: {out.stderr.strip()[-1000:]}")
            return None
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def stop(self, grace_s: float = 30.0) -> bool:
        """A fast shutdown (``pg_ctl stop -m fast``), then the process group; True if one
        ran."""
        with self.locked():
            rec = self.record()
            if rec is None:
                return False
            ran = rec.alive()
            if ran:
                subprocess.run(self.as_owner([str(pg_bin() / "pg_ctl"), "stop", "-D",
                                              str(self.data), "-m", "fast", "-w",
                                              "-t", str(int(grace_s))]),
                               capture_output=True, timeout=grace_s + 30)
                stop_group(rec.pgid, grace_s=5)
            deadline = time.monotonic() + 10
            while port_open(self.port) and time.monotonic() < deadline:
                time.sleep(0.2)
            self.record_path.unlink(missing_ok=True)
            return ran
