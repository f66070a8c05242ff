"""``python -m workbench_airflow.service up|down|status|kill C|restart C``: Airflow 3's four
components over one ``AIRFLOW_HOME``, each started as Airflow's docs start it, in its own
process group, bound to 127.0.0.1.

Components, in start order, with the commands that start them:

- ``api-server``: ``airflow api-server --host 127.0.0.1 --port P`` (REST API v2, UI, the
  tasks' execution API); healthy when ``GET /api/v2/monitor/health`` says the metadata
  database is;
- ``scheduler``: ``airflow scheduler --skip-serve-logs`` (with the LocalExecutor, whose task
  processes are its children);
- ``dag-processor``: ``airflow dag-processor``;
- ``triggerer``: ``airflow triggerer --skip-serve-logs`` (runs the Deadline Alert's callback).

The last three are healthy when the same endpoint reports them healthy with a heartbeat sent
since their process started (a killed scheduler's last heartbeat stays fresh for 30 s). The
log servers stay off: finished tasks' logs are read from the shared home, and nothing listens
on another interface.

``up`` migrates the metadata database (``airflow db migrate``), writes the login and the
token secret, records the settings every component gets, and waits until both DAGs are
parsed. Settings: the workbench's (below), then the caller's ``AIRFLOW__*`` variables on top
(statsd, ``[scheduler] use_job_schedule``, a Postgres ``sql_alchemy_conn``). ``restart``
starts a component with the settings recorded by the last ``up``, so it joins the same
metadata database with the same secret whatever shell it is run from.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from pipelines_core.http import HttpClient, HttpError
from pipelines_core.procs import free_port, poll_until
from pipelines_core.service import (GENERATED, Component, Service, ServiceError, env_file,
                                    hide_password, main)
from pipelines_core.spec import PIPELINES

from workbench_airflow import DAGS_FOLDER, IMPL_DIR, ORCHESTRATOR

BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
SETTINGS_FOLDER = IMPL_DIR / "settings"  # airflow_local_settings.py (the scheduler's preload)
USERNAME = "workbench"
SECRET = "AIRFLOW__API_AUTH__JWT_SECRET"
READY_S = 300.0


#: The workbench's Airflow settings wherever Airflow runs, natively or in the compose stack
#: (``docker/airflow/airflow.env`` is written from them); where it listens, its database and
#: its secrets are the host's business.
SHARED_SETTINGS = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    "AIRFLOW__API__WORKERS": "1",
    # A small machine and short test delays: look for work often.
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "30",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
}


def migrate(env: Mapping[str, str], timeout_s: float = 600) -> None:
    """``airflow db migrate`` for the home of ``env`` (idempotent), skipped when this home's
    SQLite file was already migrated by this very Airflow installation (a stamp beside it):
    the benchmark restarts the services every round, and a migration that has nothing to do
    still costs a process start and a schema comparison."""
    conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    stamp = Path(env["AIRFLOW_HOME"]) / "airflow.db.migrated"
    installed = sorted(f"{d.metadata['Name']}=={d.version}"
                       for d in importlib.metadata.distributions()
                       if (d.metadata["Name"] or "").lower().startswith("apache-airflow"))
    wanted = f"{conn} {' '.join(installed)}"
    sqlite_file = Path(conn.removeprefix("sqlite:///")) if conn.startswith("sqlite:///") else None
    if sqlite_file and sqlite_file.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    proc = subprocess.run([AIRFLOW, "db", "migrate"], env=dict(env), capture_output=True,
                          text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ServiceError(f"airflow db migrate failed:\n{proc.stderr[-3000:]}")
    if sqlite_file:
        stamp.write_text(wanted)


#: Airflow 3.3's crash-detection settings at their defaults (``airflow/config_templates/
#: config.yml``). A task instance whose heartbeat stopped is failed (and retried, if it has
#: retries left) once the heartbeat timeout passed, looked for at the detection interval, but
#: only by the scheduler that queued it (``_find_task_instances_without_heartbeats``). The
#: tasks of a scheduler that died are reset (run again) by the next scheduler's orphan check,
#: at its start and then every orphan check interval, once the dead scheduler's own heartbeat
#: is older than the health threshold: so a killed scheduler's running task is taken up again
#: after the orphan check interval, whatever the heartbeat timeout. ``--detection tuned``
#: shortens both: a task's supervisor heartbeats every few seconds (``[workers]
#: min_heartbeat_interval`` 5), so 30 s is still several missed heartbeats.
DETECTION_DEFAULTS = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "300",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "10",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "300",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "30",
}
DETECTION_TUNED = {"AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
                   "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30"}


def masked(key: str, value: str) -> str:
    """A setting as status shows it: the token secret hidden, and the password of a
    ``scheme://user:password@host`` URL."""
    return "***" if key == SECRET else hide_password(value)


class AirflowService(Service):
    """Scheduler, dag-processor, triggerer and api-server over ``<home>``: the metadata
    database is SQLite inside it on the default profile, Postgres on the production profile
    (a caller's ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` wins over both)."""

    orchestrator = ORCHESTRATOR
    default_port = 8080
    port_component = "api-server"
    detection_defaults = DETECTION_DEFAULTS
    detection_tuned = DETECTION_TUNED

    def __init__(self, home: Path | None = None, port: int | None = None, **kwargs: Any) -> None:
        super().__init__(home, port, **kwargs)
        self._monitor: tuple[float, dict[str, Any]] | None = None

    # --- settings ------------------------------------------------------------------------

    def defaults(self) -> dict[str, str]:
        """The workbench's Airflow settings for this home and port."""
        url = f"http://127.0.0.1:{self.port}"
        return {
            **SHARED_SETTINGS,
            **(DETECTION_TUNED if self.tuned else {}),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            # the production profile's Postgres database, else the quickstart's SQLite file
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (self.database_url("postgresql+psycopg2")
                                                    or f"sqlite:///{self.home / 'airflow.db'}"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": url,
            # One secret for every component: the tasks' tokens are signed by the scheduler
            # and checked by the api-server.
            SECRET: self.secret(),
            # Nothing serves logs (--skip-serve-logs); ports nobody else listens on keep the
            # api-server from asking a stranger for a running task's log.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }

    def compose(self) -> dict[str, str]:
        """The settings of a fresh ``up``: the configuration's ``WORKBENCH_*`` variables, the
        workbench's Airflow settings, and the caller's ``AIRFLOW__*`` variables over them."""
        workbench = {k: v for k, v in super().env().items() if k.startswith("WORKBENCH_")}
        callers = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW__")}
        return {**workbench, **self.defaults(), **callers}

    @property
    def applied_file(self) -> Path:
        return self.record_dir / "environment.json"

    def applied(self) -> dict[str, str] | None:
        """The settings recorded by the last ``up``."""
        try:
            return json.loads(self.applied_file.read_text())
        except (OSError, ValueError):
            return None

    def env(self) -> dict[str, str]:
        """A component's environment: the caller's (without its Airflow and workbench
        variables), the recorded settings, this home, the environment's ``bin`` on PATH, and
        this folder and the local settings' on the import path (the DAG processor, the tasks
        and the triggerer import ``workbench_airflow``)."""
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("AIRFLOW", "WORKBENCH_"))}
        path = [str(IMPL_DIR), str(SETTINGS_FOLDER)] + (
            [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
        return {**base, **(self.applied() or self.compose()), "AIRFLOW_HOME": str(self.home),
                "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
                "PYTHONPATH": os.pathsep.join(path)}

    @property
    def passwords_file(self) -> Path:
        return self.home / "passwords.json"

    def password(self) -> str | None:
        try:
            return json.loads(self.passwords_file.read_text())[USERNAME]
        except (OSError, ValueError, KeyError):
            return None

    def secret(self) -> str:
        path = self.home / "jwt_secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(os.urandom(24).hex())
        return path.read_text().strip()

    def info(self) -> dict[str, Any]:
        applied = self.applied() or {}
        return {"url": self.url, "username": USERNAME, "password": self.password(),
                "dags_folder": str(DAGS_FOLDER),
                "settings": {k: masked(k, v) for k, v in sorted(applied.items())
                             if k.startswith("AIRFLOW__")}}

    @classmethod
    def compose_files(cls) -> dict[str, str]:
        return {"docker/airflow/airflow.env": env_file(SHARED_SETTINGS, GENERATED.format(
            source="airflow_impl/workbench_airflow/service.py (SHARED_SETTINGS)"))}

    # --- components ----------------------------------------------------------------------

    def components(self) -> list[Component]:
        return [
            Component("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1",
                                     "--port", str(self.port)],
                      port=self.port, healthy=lambda: self.part_healthy("metadatabase"),
                      ready_timeout_s=READY_S),
            Component("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"],
                      healthy=lambda: self.beating("scheduler", "scheduler"),
                      ready_timeout_s=READY_S),
            Component("dag-processor", [AIRFLOW, "dag-processor"],
                      healthy=lambda: self.beating("dag_processor", "dag-processor"),
                      ready_timeout_s=READY_S),
            Component("triggerer", [AIRFLOW, "triggerer", "--skip-serve-logs"],
                      healthy=lambda: self.beating("triggerer", "triggerer"),
                      ready_timeout_s=READY_S),
        ]

    def monitor(self) -> dict[str, Any]:
        """``GET /api/v2/monitor/health`` (no login needed), asked at most once a second."""
        now = time.monotonic()
        if self._monitor is None or now - self._monitor[0] > 1.0:
            health = HttpClient(self.url, timeout_s=5, tries=1).get("/api/v2/monitor/health")
            self._monitor = (now, health)
        return self._monitor[1]

    def part_healthy(self, part: str) -> bool:
        return (self.monitor().get(part) or {}).get("status") == "healthy"

    def beating(self, part: str, name: str) -> bool:
        """Whether Airflow reports ``part`` healthy on a heartbeat sent since the component's
        process started."""
        rec = self.record(name)
        beat = (self.monitor().get(part) or {}).get(f"latest_{part}_heartbeat")
        if rec is None or not beat or not self.part_healthy(part):
            return False
        at = datetime.fromisoformat(beat)
        at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        return at.timestamp() >= rec.started - 1

    # --- up ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """The login, the settings of this ``up``, a migrated metadata database."""
        if self.password() is None:
            self.passwords_file.write_text(json.dumps({USERNAME: os.urandom(12).hex()}))
        self.record_dir.mkdir(parents=True, exist_ok=True)
        self.applied_file.write_text(json.dumps(self.compose(), indent=1, sort_keys=True))
        migrate(self.env())

    def api(self) -> HttpClient:
        """The REST API with a token from ``POST /auth/token``."""
        body = HttpClient(self.url).post("/auth/token", {"username": USERNAME,
                                                         "password": self.password()})
        return HttpClient(self.url, headers={"Authorization": f"Bearer {body['access_token']}"})

    def after_up(self, timeout_s: float = READY_S) -> None:
        """Wait until the DAG processor has parsed both DAGs."""
        api = self.api()

        def parsed() -> bool:
            try:
                found = {d["dag_id"] for d in api.get("/api/v2/dags", limit=100)["dags"]}
            except HttpError:
                return False
            return set(PIPELINES) <= found

        try:
            poll_until(parsed, timeout_s=timeout_s, interval_s=1, what="both DAGs parsed",
                       error=ServiceError)
        except ServiceError as exc:
            errors = api.get("/api/v2/importErrors")["import_errors"]
            raise ServiceError(f"{exc}; import errors: {errors}") from None


if __name__ == "__main__":
    sys.exit(main(AirflowService))
