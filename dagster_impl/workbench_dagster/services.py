"""Dagster's services for the demo, the benchmark and the daemon tests: a ``DAGSTER_HOME``
(SQLite storage, a bounded run queue, run monitoring, the core's log lines captured), the
webserver and the daemon on 127.0.0.1, and a small client of the webserver's GraphQL API.

Pure standard library plus ``pipelines_core``: the benchmark adapter (root environment, no
Dagster installed) imports it too and runs the servers from ``dagster_impl/.venv``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from pipelines_core.config import WorkbenchConfig
from pipelines_core.procs import free_port, pid_alive as _alive, port_open  # noqa: F401
from pipelines_core.spark import STEP_PRELOAD

IMPL = Path(__file__).resolve().parent.parent
BIN = IMPL / ".venv" / "bin"
LOCATION = "workbench"
REPOSITORY = "__repository__"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


# Dagster's default executor, one process per step, with its processes forked from a
# forkserver that has imported the code location and the Spark Connect client once (Dagster's
# documented way to cut the per-step start-up cost) instead of each importing them anew.
# The modules are named: a code location served by `dagster api grpc` gives the executor no
# module of its own to preload, and each step then paid about 5 s of imports: the definitions,
# pyspark's Connect client, and the SQLite storages (with alembic) the step's instance opens.
FORKSERVER_PRELOAD = [
    "workbench_dagster.definitions", *STEP_PRELOAD,
    "dagster._core.storage.runs.sqlite.sqlite_run_storage",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log",
    "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
    "dagster._core.storage.local_compute_log_manager", "alembic.command"]
MULTIPROCESS = {"execution": {"config": {"multiprocess": {"start_method": {
    "forkserver": {"preload_modules": FORKSERVER_PRELOAD}}}}}}


def in_process(enabled: bool = True) -> dict[str, Any]:
    """Run config choosing the in-process executor (or the multiprocess one, forkserver)."""
    return {"execution": {"config": {"in_process": {}}}} if enabled else copy.deepcopy(MULTIPROCESS)


def faults_config(plan: str) -> dict[str, Any]:
    """Run config carrying a fault plan to the steps of one run (through the resource)."""
    return {"resources": {"workbench": {"config": {"env": {"WORKBENCH_FAULTS": plan}}}}}


class DagsterServices:
    """A workbench-owned ``DAGSTER_HOME`` with its webserver and daemon.

    Args:
        config: The workbench configuration the steps run with (exported to the servers).
        home: The ``DAGSTER_HOME`` folder (created; ``dagster.yaml`` written into it).
        port: Webserver port on 127.0.0.1 (a free one when omitted).
        max_concurrent_runs: The run queue's bound on runs at once.
        backfill_runs: The bound on backfill runs at once (a ``dagster/backfill`` tag
            concurrency limit across all backfills): the parallelism of a backfill;
            ``max_concurrent_runs`` when omitted.
        automation: Whether the daemon evaluates automation conditions (the ML trigger).
        env: Extra environment for the servers and every run they launch.
    """

    def __init__(self, config: WorkbenchConfig, home: Path, *, port: int | None = None,
                 max_concurrent_runs: int = 2, backfill_runs: int | None = None,
                 automation: bool = True, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.home = Path(home)
        self.port = port or free_port()
        self.max_concurrent_runs = max_concurrent_runs
        self.backfill_runs = backfill_runs or max_concurrent_runs
        self.automation = automation
        self.extra_env = dict(env or {})
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- lifecycle -----------------------------------------------------------------------------

    def write_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "service_logs").mkdir(exist_ok=True)
        (self.home / "dagster.yaml").write_text(f"""\
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {self.max_concurrent_runs}
    tag_concurrency_limits:
      - key: dagster/backfill
        limit: {self.backfill_runs}
    dequeue_interval_seconds: 1
run_monitoring:
  enabled: true
  poll_interval_seconds: 10
python_logs:
  managed_python_loggers: [workbench]
  python_log_level: INFO
auto_materialize:
  enabled: {str(self.automation).lower()}
  use_sensors: true
telemetry:
  enabled: false
""")
        (self.home / "workspace.yaml").write_text(f"""\
load_from:
  - python_module:
      module_name: workbench_dagster.definitions
      location_name: {LOCATION}
      working_directory: {IMPL}
""")

    def env(self) -> dict[str, str]:
        env = {**os.environ, **self.config.to_env(), **self.extra_env,
               "DAGSTER_HOME": str(self.home), "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
               # ``auto_materialize.enabled`` does not stop an automation condition sensor
               # that is running by default: the definitions read this switch.
               "WORKBENCH_DAGSTER_AUTOMATION": "on" if self.automation else "off"}
        env.pop("VIRTUAL_ENV", None)
        # Launching a run asks the code server to start its worker; on a loaded small machine
        # that took longer than the 60 s default and the daemon failed the queued run.
        env.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", "300")
        return env

    def start(self, *, webserver: bool = True, daemon: bool = True,
              timeout_s: float = 180.0) -> None:
        """Start the services in their own process groups and wait until the code loads."""
        self.write_home()
        workspace = str(self.home / "workspace.yaml")
        # One process creates the SQLite storage first: processes that initialise a fresh
        # DAGSTER_HOME at the same time stamp two schema heads and fail to load.
        if webserver:
            self._spawn("webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1",
                                      "-p", str(self.port), "-w", workspace])
            self.wait_ready(timeout_s)
        else:
            subprocess.run([str(BIN / "dagster"), "instance", "migrate"], cwd=IMPL,
                           env=self.env(), check=True, capture_output=True, timeout=timeout_s)
        if daemon:
            self._spawn("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace])

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = (self.home / "service_logs" / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(cmd, cwd=IMPL, env=self.env(), stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        (self.home / f"{name}.pid").write_text(str(self.procs[name].pid))

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"dagster {name} exited with {proc.returncode}; see "
                                       f"{self.home / 'service_logs' / (name + '.log')}")
            if port_open(self.port):
                try:
                    data = self.graphql("""{ workspaceOrError { __typename ... on Workspace {
                        locationEntries { name loadStatus
                          locationOrLoadError { __typename } } } } }""")
                    entries = data["workspaceOrError"]["locationEntries"]
                    if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                        kinds = {e["locationOrLoadError"]["__typename"] for e in entries}
                        if kinds != {"RepositoryLocation"}:
                            raise RuntimeError(f"code location failed to load: {entries}")
                        return
                except OSError:
                    pass
            time.sleep(1)
        raise TimeoutError(f"dagster webserver not ready within {timeout_s:.0f} s")

    def stop(self, grace_s: float = 20.0) -> None:
        """TERM each process group, wait, then KILL what is left; the port ends up free."""
        for proc in self.procs.values():
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs.values():
            _signal_group(proc.pid, signal.SIGKILL)  # the group may hold code servers too
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for name in self.procs:
            (self.home / f"{name}.pid").unlink(missing_ok=True)
        self.procs.clear()

    # --- GraphQL -------------------------------------------------------------------------------

    def graphql(self, query: str, variables: dict[str, Any] | None = None,
                timeout_s: float = 60) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            payload = json.loads(resp.read())
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def launch_run(self, job: str, partition: str, run_config: dict | None = None) -> str:
        data = self.graphql("""
            mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
              ... on LaunchRunSuccess { run { runId } }
              ... on PythonError { message }
              ... on RunConfigValidationInvalid { errors { message } } } }""",
            {"p": {"selector": {"repositoryLocationName": LOCATION,
                                "repositoryName": REPOSITORY, "jobName": job},
                   "runConfigData": run_config or {},
                   "executionMetadata": {"tags": [{"key": "dagster/partition",
                                                   "value": partition}]}}})
        result = data["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launchRun failed: {result}")
        return result["run"]["runId"]

    def launch_backfill(self, job: str, partitions: list[str],
                        run_config: dict | None = None, title: str | None = None) -> str:
        """A backfill of ``job`` over ``partitions``, submitted by the daemon's backfill loop
        and bounded by the run queue's ``max_concurrent_runs``."""
        data = self.graphql("""
            mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
              __typename ... on LaunchBackfillSuccess { backfillId }
              ... on PythonError { message } ... on PartitionSetNotFoundError { message } } }""",
            {"p": {"selector": {"partitionSetName": f"{job}_partition_set",
                                "repositorySelector": {"repositoryLocationName": LOCATION,
                                                       "repositoryName": REPOSITORY}},
                   "partitionNames": partitions, "runConfigData": run_config or {},
                   **({"title": title} if title else {})}})
        result = data["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"launchPartitionBackfill failed: {result}")
        return result["backfillId"]

    def partition_statuses(self, job: str) -> dict[str, str | None]:
        """The status of the latest run of every partition of ``job``'s partition set (what
        the UI's partitions view and its "failed and missing" backfill filter show)."""
        data = self.graphql("""
            query($r: RepositorySelector!, $n: String) {
              partitionSetOrError(repositorySelector: $r, partitionSetName: $n) { __typename
                ... on PartitionSet { partitionStatusesOrError { __typename
                  ... on PartitionStatuses { results { partitionName runStatus } }
                  ... on PythonError { message } } } } }""",
            {"r": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY},
             "n": f"{job}_partition_set"})
        statuses = data["partitionSetOrError"]["partitionStatusesOrError"]
        if statuses["__typename"] != "PartitionStatuses":
            raise RuntimeError(f"partition statuses of {job}: {statuses}")
        return {r["partitionName"]: r["runStatus"] for r in statuses["results"]}

    def runs(self, job: str | None = None, tags: dict[str, str] | None = None,
             limit: int = 200) -> list[dict[str, Any]]:
        """Runs, newest first: id, status, start/end (epoch s), tags."""
        flt: dict[str, Any] = {}
        if job:
            flt["pipelineName"] = job
        if tags:
            flt["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        data = self.graphql("""
            query($f: RunsFilter, $n: Int) { runsOrError(filter: $f, limit: $n) { __typename
              ... on Runs { results { runId jobName status startTime endTime
                                      tags { key value } } } } }""", {"f": flt, "n": limit})
        runs = data["runsOrError"]["results"]
        for run in runs:
            run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        return runs

    def wait_runs(self, tags: dict[str, str], count: int, timeout_s: float) -> list[dict]:
        """Wait until ``count`` runs carrying ``tags`` have all finished."""
        deadline = time.monotonic() + timeout_s
        while True:
            runs = self.runs(tags=tags)
            if len(runs) >= count and all(r["status"] in TERMINAL for r in runs):
                return runs
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs {tags} not finished within {timeout_s:.0f} s: "
                                   f"{[(r['runId'], r['status']) for r in runs]}")
            time.sleep(1)

    def wait_run(self, run_id: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            data = self.graphql("""query($id: ID!) { runOrError(runId: $id) { __typename
                ... on Run { runId status startTime endTime tags { key value } } } }""",
                                {"id": run_id})
            run = data["runOrError"]
            if run.get("status") in TERMINAL:
                run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} not finished within {timeout_s:.0f} s")
            time.sleep(0.5)

    def terminate(self, run_id: str) -> str:
        """Ask Dagster to terminate a run (its run worker gets SIGTERM)."""
        data = self.graphql("""mutation($id: String!) { terminateRun(runId: $id) {
            __typename } }""", {"id": run_id})
        return data["terminateRun"]["__typename"]

    def materializations(self, run_id: str) -> list[dict[str, Any]]:
        """The asset materialisations a run recorded: asset key, partition, step, the path
        entries of its metadata (the lake partition, and the IO manager's pickle)."""
        data = self.graphql("""query($id: ID!) { runOrError(runId: $id) { __typename
            ... on Run { assetMaterializations { assetKey { path } partition stepKey timestamp
              metadataEntries { label ... on PathMetadataEntry { path } } } } } }""",
                            {"id": run_id})
        out = []
        for m in data["runOrError"].get("assetMaterializations") or []:
            paths = [e["path"] for e in m["metadataEntries"] if e.get("path")]
            out.append({"asset": "/".join(m["assetKey"]["path"]), "partition": m["partition"],
                        "step_key": m["stepKey"], "time": int(m["timestamp"]) / 1000.0,
                        "paths": paths})
        return out

    def check_executions(self, asset: list[str], check: str, partition: str | None = None,
                         limit: int = 10) -> list[dict[str, Any]]:
        """Executions of an asset check (newest first): run, status, verdict, description."""
        data = self.graphql("""
            query($k: AssetKeyInput!, $c: String!, $p: String, $n: Int!) {
              assetCheckExecutions(assetKey: $k, checkName: $c, partition: $p, limit: $n) {
                runId status partition timestamp
                evaluation { success description metadataEntries { label } } } }""",
                            {"k": {"path": asset}, "c": check, "p": partition, "n": limit})
        return [{"run_id": e["runId"], "status": e["status"], "partition": e["partition"],
                 "passed": (e["evaluation"] or {}).get("success"),
                 "description": (e["evaluation"] or {}).get("description"),
                 "metadata": [m["label"] for m in (e["evaluation"] or {}).get(
                     "metadataEntries") or []]}
                for e in data["assetCheckExecutions"]]

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """Every event of a run: type, step key, time (epoch s), message, error, retry wait."""
        out, cursor = [], None
        while True:
            data = self.graphql("""
                query($id: ID!, $c: String) { logsForRun(runId: $id, afterCursor: $c) {
                  __typename ... on EventConnection { cursor hasMore events { __typename
                    ... on MessageEvent { message timestamp level stepKey }
                    ... on ExecutionStepFailureEvent { error { message
                        cause { message cause { message } } } }
                    ... on ExecutionStepUpForRetryEvent { secondsToWait error { message
                        cause { message cause { message } } } }
                    ... on AssetCheckEvaluationEvent { evaluation { checkName success
                        description } } } } } }""",
                                {"id": run_id, "c": cursor})
            conn = data["logsForRun"]
            for ev in conn["events"]:
                out.append({"type": ev["__typename"], "step_key": ev.get("stepKey"),
                            "time": int(ev["timestamp"]) / 1000.0, "message": ev.get("message"),
                            "level": ev.get("level"), "error": _error(ev.get("error")),
                            "seconds_to_wait": ev.get("secondsToWait"),
                            "check": ev.get("evaluation")})
            cursor = conn["cursor"]
            if not conn["hasMore"]:
                return out


def _error(info: dict | None) -> str | None:
    if not info:
        return None
    while info.get("cause"):
        info = info["cause"]
    message = (info.get("message") or "").strip()
    return re.sub(r"^(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*): ", r"\1: ", message)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_recorded(home: Path, grace_s: float = 20.0) -> list[int]:
    """Stop services recorded by pid files in ``home`` (their process groups)."""
    stopped = []
    for pid_file in sorted(home.glob("*.pid")):
        pid = int(pid_file.read_text())
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        _signal_group(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)
        stopped.append(pid)
    return stopped


def main(argv: list[str] | None = None) -> int:
    """``python -m workbench_dagster.services up|down|backfill`` over the workbench's home."""
    import argparse

    from pipelines_core.config import load_config
    from pipelines_core.runner import date_range
    from pipelines_core.config import parse_date

    parser = argparse.ArgumentParser(prog="workbench_dagster.services")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the webserver (port 3000) and the daemon")
    up.add_argument("--port", type=int, default=3000)
    up.add_argument("--max-concurrent-runs", type=int, default=2)
    sub.add_parser("down", help="stop what `up` started")
    bf = sub.add_parser("backfill", help="backfill a date range through the running webserver")
    bf.add_argument("--pipeline", default="customer_daily_etl")
    bf.add_argument("--start", required=True)
    bf.add_argument("--end", required=True)
    bf.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)

    config = load_config()
    if not os.environ.get("WORKBENCH_NAMESPACE"):
        config = config.replace(namespace="dagster")
    config = config.replace(orchestrator="dagster")
    home = config.state_dir / "dagster" / "home"
    if args.cmd == "down":
        print(f"stopped {_stop_recorded(home) or 'nothing'}")
        return 0
    services = DagsterServices(config, home, port=args.port,
                               max_concurrent_runs=getattr(args, "max_concurrent_runs", 2))
    if args.cmd == "up":
        if port_open(args.port):
            print(f"port {args.port} is taken (already up?)")
            return 1
        services.start()
        print(f"Dagster UI: {services.url}  (DAGSTER_HOME={home}); stop with `down`")
        return 0
    days = [d.isoformat() for d in date_range(parse_date(args.start), parse_date(args.end))]
    backfill_id = services.launch_backfill(args.pipeline, days)
    print(f"backfill {backfill_id}: {services.url}/runs/b/{backfill_id}")
    runs = services.wait_runs({"dagster/backfill": backfill_id}, len(days), timeout_s=3600)
    for run in sorted(runs, key=lambda r: r["tags"].get("dagster/partition", "")):
        print(run["tags"].get("dagster/partition"), run["status"], run["runId"])
    return 0 if all(r["status"] == "SUCCESS" for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
