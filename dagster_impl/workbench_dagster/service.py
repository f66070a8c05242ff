"""Dagster's services over one ``DAGSTER_HOME``, as Dagster's deployment docs run them: a code
server for ``workbench_dagster.definitions``, the webserver and the daemon, each its own
process group on 127.0.0.1::

    python -m workbench_dagster.service [--home H] [--port 3000] [--json]
        [--code-server-port 4000] [--max-concurrent-runs N] [--backfill-runs N]
        [--automation | --no-automation]  up | down | status | kill C | restart C

``up`` writes ``dagster.yaml`` (SQLite storage on the default profile, ``dagster-postgres``
storage on the production profile, a bounded run queue, run monitoring, the
core's log lines captured) and a ``workspace.yaml`` naming the code server; the webserver
and the daemon load the code location from that server, and the code server launches each
run's worker (Dagster's ``DefaultRunLauncher``). ``status --json`` gives, besides each
component's health, the non-default Dagster settings, the run configs of the two executors
and the names of the steps behind Dagster's step keys.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pipelines_core.http import HttpClient, HttpUnreachable
from pipelines_core.service import GENERATED, Component, Service, main
from pipelines_core.spark import STEP_PRELOAD

from workbench_dagster import stepnames

IMPL = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFINITIONS = "workbench_dagster.definitions"
LOCATION = "workbench"
REPOSITORY = "__repository__"
CODE_SERVER_PORT = 4000
PASSWORD_VAR = "DAGSTER_DB_PASSWORD"

# The daemon evaluates the ML automation sensor as soon as it starts, whatever
# ``auto_materialize.enabled`` says; the definitions read this switch to declare it stopped.
AUTOMATION_SWITCH = "WORKBENCH_DAGSTER_AUTOMATION"

# Dagster's default executor, one process per step, with its processes forked from a
# forkserver that has imported the code location and the Spark Connect client once (Dagster's
# documented way to cut the per-step start-up cost) instead of each importing them anew.
# The modules are named: a run launched by a code server gives the executor no module of its
# own to preload, and each step then paid about 5 s of imports: the definitions, pyspark's
# Connect client, and the SQLite storages (with alembic) the step's instance opens.
FORKSERVER_PRELOAD = [
    DEFINITIONS, *STEP_PRELOAD,
    "dagster._core.storage.runs.sqlite.sqlite_run_storage",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log",
    "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
    "dagster_postgres.storage",  # the production profile's storages
    "dagster._core.storage.local_compute_log_manager", "alembic.command"]
RUN_CONFIG = {
    "multiprocess": {"execution": {"config": {"multiprocess": {"start_method": {
        "forkserver": {"preload_modules": FORKSERVER_PRELOAD}}}}}},
    "in_process": {"execution": {"config": {"in_process": {}}}},
}

# Dagster's own defaults of the settings ``dagster.yaml`` sets (1.13): what differs is listed
# as a non-default setting.
DEFAULTS = {"run_coordinator.module": "dagster.core.run_coordinator",
            "run_coordinator.class": "QueuedRunCoordinator",
            "run_coordinator.config.max_concurrent_runs": 10,
            "run_coordinator.config.tag_concurrency_limits": [],
            "run_coordinator.config.dequeue_interval_seconds": 5,
            "run_monitoring.enabled": False, "run_monitoring.poll_interval_seconds": 120,
            "python_logs.managed_python_loggers": [], "python_logs.python_log_level": None,
            "auto_materialize.enabled": True, "auto_materialize.use_sensors": True,
            "telemetry.enabled": True, "DAGSTER_GRPC_TIMEOUT_SECONDS": "60"}


#: Dagster 1.13's run monitoring is off by default in open source
#: (``dagster._core.instance``): a run whose worker process died stays STARTED. On, the daemon
#: looks at every run each poll, but the default run launcher cannot check a run worker's
#: health (``supports_check_run_worker_health`` is False) nor resume a run: a started run whose
#: worker is gone is failed only once it outlives its ``dagster/max_runtime`` tag.
#: ``--detection tuned`` turns it on as Dagster's deployment docs show, polling every 10 s
#: instead of 120.
DETECTION_DEFAULTS = {"run_monitoring.enabled": "False",
                      "run_monitoring.poll_interval_seconds": "120",
                      "run_monitoring.start_timeout_seconds": "180",
                      "run_monitoring.max_resume_run_attempts": "0",
                      "dead run worker": "not checked by the default run launcher: a started "
                                         "run ends only past its dagster/max_runtime, with "
                                         "run monitoring on"}
RUN_MONITORING_TUNED = {"enabled": True, "poll_interval_seconds": 10}
DETECTION_TUNED = {f"run_monitoring.{k}": str(v) for k, v in RUN_MONITORING_TUNED.items()}


def postgres_storage(url: str) -> dict[str, Any]:
    """``storage: postgres`` (``dagster-postgres``: runs, event log, schedules) for a
    ``postgresql://user:password@host:port/db`` URL; the password stays out of the file,
    read from ``DAGSTER_DB_PASSWORD`` (as in the compose stack)."""
    parts = urlsplit(url)
    return {"postgres": {"postgres_db": {
        "hostname": parts.hostname, "port": parts.port, "db_name": parts.path.lstrip("/"),
        "username": parts.username, "password": {"env": PASSWORD_VAR},
        # SQLAlchemy 2.1 takes a bare postgresql:// for psycopg 3; the driver installed with
        # dagster-postgres is psycopg2
        "scheme": parts.scheme}}}


def instance_settings(max_concurrent_runs: int, backfill_runs: int, automation: bool,
                      storage: dict[str, Any] | None = None, tuned: bool = False
                      ) -> dict[str, Any]:
    """The instance's ``dagster.yaml``: SQLite files in the home (Dagster's default) unless
    ``storage`` says otherwise; run monitoring when the crash detection is ``tuned``."""
    return {**({"storage": storage} if storage else {}),
        "run_coordinator": {
            "module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator",
            "config": {"max_concurrent_runs": max_concurrent_runs,
                       # the parallelism of backfills: runs at once across all of them
                       "tag_concurrency_limits": [{"key": "dagster/backfill",
                                                   "limit": backfill_runs}],
                       "dequeue_interval_seconds": 1}},
        **({"run_monitoring": dict(RUN_MONITORING_TUNED)} if tuned else {}),
        "python_logs": {"managed_python_loggers": ["workbench"], "python_log_level": "INFO"},
        "auto_materialize": {"enabled": automation, "use_sensors": True},
        "telemetry": {"enabled": False},
    }


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class DagsterService(Service):
    """Dagster's webserver, daemon and code server over one ``DAGSTER_HOME``.

    Options (``self.options``): ``max_concurrent_runs`` (the run queue's bound),
    ``backfill_runs`` (backfill runs at once, across all backfills: a ``dagster/backfill``
    tag concurrency limit), ``automation`` (whether the daemon evaluates the ML automation
    condition) and ``code_server_port``. Unset, each keeps what the home's files say (what the
    last ``up`` wrote), or else its default: 2, ``max_concurrent_runs``, on, 4000. Components
    this home runs keep their ports.
    """

    orchestrator = "dagster"
    default_port = 3000
    port_component = "webserver"
    detection_defaults = DETECTION_DEFAULTS
    detection_tuned = DETECTION_TUNED

    def __init__(self, home: Path | None = None, port: int | None = None, **kwargs: Any
                 ) -> None:
        super().__init__(home, port, **kwargs)
        web = self.record("webserver")
        if web and web.port and web.alive():
            self.port = web.port  # a running webserver keeps its port, whatever is asked
        written = self.written()
        queue = written.get("run_coordinator", {}).get("config", {})
        limit = (queue.get("tag_concurrency_limits") or [{}])[0].get("limit")
        self.max_concurrent_runs = self.choice("max_concurrent_runs",
                                               queue.get("max_concurrent_runs"), 2)
        self.backfill_runs = self.choice("backfill_runs", limit, self.max_concurrent_runs)
        self.automation = self.choice("automation", written.get("auto_materialize", {}).get(
            "enabled"), True)
        # A recorded code server keeps its port: the workspace of the webserver and the daemon
        # names it.
        rec = self.record("code-server")
        self.code_server_port = ((rec.port if rec else None)
                                 or self.choice("code_server_port", None, CODE_SERVER_PORT))

    def choice(self, name: str, written: Any, default: Any) -> Any:
        """An option as given, else as the home's files have it, else its default."""
        given = getattr(self.options, name, None)
        return given if given is not None else written if written is not None else default

    @classmethod
    def add_options(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--code-server-port", type=int,
                            help=f"the code server's gRPC port (default {CODE_SERVER_PORT})")
        parser.add_argument("--max-concurrent-runs", type=int,
                            help="the run queue's bound on runs at once (default 2)")
        parser.add_argument("--backfill-runs", type=int,
                            help="backfill runs at once, across all backfills (default: "
                                 "--max-concurrent-runs)")
        parser.add_argument("--automation", action=argparse.BooleanOptionalAction,
                            help="whether the daemon evaluates the ML assets' automation "
                                 "condition (default on)")

    # --- files -------------------------------------------------------------------------------

    @property
    def dagster_yaml(self) -> Path:
        return self.home / "dagster.yaml"

    @property
    def workspace_yaml(self) -> Path:
        return self.home / "workspace.yaml"

    def written(self) -> dict[str, Any]:
        """The home's ``dagster.yaml`` as the last ``up`` wrote it ({} when none)."""
        try:
            return yaml.safe_load(self.dagster_yaml.read_text()) or {}
        except (OSError, yaml.YAMLError):
            return {}

    def settings(self) -> dict[str, Any]:
        url = self.database_url("postgresql+psycopg2")
        return instance_settings(self.max_concurrent_runs, self.backfill_runs,
                                 self.automation, postgres_storage(url) if url else None,
                                 self.tuned)

    def prepare(self) -> None:
        self.dagster_yaml.write_text(yaml.safe_dump(self.settings(), sort_keys=False))
        self.workspace_yaml.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
            "host": "127.0.0.1", "port": self.code_server_port, "location_name": LOCATION}}]},
            sort_keys=False))

    def env(self) -> dict[str, str]:
        env = {**super().env(), "DAGSTER_HOME": str(self.home),
               "PATH": f"{BIN}:{super().env().get('PATH', '')}",
               AUTOMATION_SWITCH: "on" if self.automation else "off"}
        env.pop("VIRTUAL_ENV", None)
        url = self.database_url("postgresql+psycopg2")
        if url:
            env[PASSWORD_VAR] = urlsplit(url).password
        # Launching a run asks the code server to start its worker; on a loaded small machine
        # that took longer than the 60 s default and the daemon failed the queued run.
        env.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", "300")
        return env

    @classmethod
    def compose_files(cls) -> dict[str, str]:
        """The compose stack's ``dagster.yaml``: these settings, with the stack's Postgres
        (service ``postgres``; the password from ``DAGSTER_DB_PASSWORD``)."""
        settings = instance_settings(2, 2, True, postgres_storage(
            "postgresql+psycopg2://dagster@postgres:5432/dagster"))
        header = GENERATED.format(source="dagster_impl/workbench_dagster/service.py "
                                         "(instance_settings)")
        return {"docker/dagster/dagster.yaml": f"# {header}\n"
                + yaml.safe_dump(settings, sort_keys=False)}

    # --- components --------------------------------------------------------------------------

    def components(self) -> list[Component]:
        # In this order: the webserver creates a fresh SQLite storage before the daemon opens
        # it (two processes initialising one home at once stamp two schema heads), and the
        # code server opens none until it launches a run.
        workspace = str(self.workspace_yaml)
        return [
            Component("code-server", [
                str(BIN / "dagster"), "code-server", "start", "-m", DEFINITIONS,
                "-d", str(IMPL), "-h", "127.0.0.1", "-p", str(self.code_server_port),
                "--location-name", LOCATION], port=self.code_server_port, cwd=IMPL),
            Component("webserver", [
                str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.port),
                "-w", workspace], port=self.port, healthy=self.location_loaded, cwd=IMPL),
            Component("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace],
                      healthy=self.daemon_healthy, cwd=IMPL),
        ]

    def graphql(self, query: str) -> dict[str, Any]:
        answer = HttpClient(self.url, timeout_s=10, tries=1).post(
            "/graphql", {"query": query, "variables": {}})
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def location_loaded(self) -> bool:
        """The webserver answers GraphQL and has loaded the code location from the server."""
        entries = self.graphql("""{ workspaceOrError { ... on Workspace { locationEntries {
            name loadStatus locationOrLoadError { __typename } } } } }""")[
            "workspaceOrError"]["locationEntries"]
        return bool(entries) and all(
            e["loadStatus"] == "LOADED"
            and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
            for e in entries)

    def daemon_healthy(self) -> bool:
        """Every daemon the instance requires has sent a healthy heartbeat since this daemon
        process started (the webserver's ``instance { daemonHealth }``). Without a webserver
        to ask, a daemon that is alive is all there is to know."""
        try:
            statuses = self.graphql("""{ instance { daemonHealth { allDaemonStatuses {
                daemonType required healthy lastHeartbeatTime } } } }""")[
                "instance"]["daemonHealth"]["allDaemonStatuses"]
        except HttpUnreachable:
            return True
        started = self.record("daemon").started
        return all(s["healthy"] and (s["lastHeartbeatTime"] or 0) >= started
                   for s in statuses if s["required"])

    # --- what a person and the benchmark read ------------------------------------------------

    def info(self) -> dict[str, Any]:
        settings = flatten(self.settings())
        settings["DAGSTER_GRPC_TIMEOUT_SECONDS"] = self.env()["DAGSTER_GRPC_TIMEOUT_SECONDS"]
        changed = {k: v for k, v in settings.items()
                   if k not in DEFAULTS or DEFAULTS[k] != v}
        if not self.automation:
            changed["sensor lead_scoring_automation"] = "stopped"
        return {"dagster_home": str(self.home), "workspace": str(self.workspace_yaml),
                "code_location": LOCATION, "repository": REPOSITORY,
                "settings": changed, "run_config": copy.deepcopy(RUN_CONFIG),
                "step_names": {"renamed": {**stepnames.HELPER_OPS, **stepnames.CHECKS},
                               "auxiliary": sorted(stepnames.AUXILIARY)}}


if __name__ == "__main__":
    raise SystemExit(main(DagsterService))
