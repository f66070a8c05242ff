"""The Airflow 3 adapter: a real api-server, scheduler, dag-processor and triggerer over a
workbench-owned AIRFLOW_HOME (SQLite, or Postgres when AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is
set), started and stopped through Airflow's service command
(``python -m workbench_airflow.service`` in ``airflow_impl/.venv``).

Runs are triggered and backfills created through the REST API v2 (``POST .../dagRuns``,
``POST /api/v2/backfills``), executed by Airflow's scheduler and LocalExecutor, and read back
from the same API: DAG runs, task instances, every try (``.../tries``) and each try's log.

By default the harness triggers every run itself, so the scheduler's own clock is off
(``[scheduler] use_job_schedule = False``): each ETL run's asset event would otherwise start
a second, unrequested ML run. The asset events are still recorded (they show in the UI);
``asset_triggers=True`` turns the data-aware trigger on (the adapter tests do).
Fault plans reach the tasks through a file named by ``WORKBENCH_FAULTS``, rewritten before
each run, so the services need not restart.

Nothing supervises the components: while it waits for runs the adapter looks whether each
component's process group still runs, and one found dead (on SQLite the scheduler can die of
a write conflict with the API) is recorded in ``incidents`` with its log's tail, and the wait
ends: the run counts as failed, and nothing restarts the component.

Airflow's metrics are pushed with statsd to a listener the adapter runs on 127.0.0.1 (UDP)
for as long as the services run; ``probes`` compares its counters with the ledger, reads
the lake outputs' asset events and the quality gate's checks (an XCom) through the API.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from datetime import date as Date
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable, Mapping
from urllib.parse import quote

from benchmarks.adapters.base import (Adapter, AttemptView, BackfillView, Capabilities,
                                      ComponentDied, Probe, RunView, StepView)
from benchmarks.adapters.service import ServiceCommand
from pipelines_core import lake
from pipelines_core.http import (Conflict, HttpClient, HttpError, HttpStatusError, NotFound,
                                 HttpUnreachable)
from pipelines_core.ledger import Ledger
from pipelines_core.procs import free_port, poll_until
from pipelines_core.runner import date_range
from pipelines_core.steps.etl import SILVER_TABLE, regions
from pipelines_core.verify import outputs_present

STATES = {"success": "success", "failed": "failed", "skipped": "skipped",
          "upstream_failed": "upstream_failed", "up_for_retry": "failed",
          "running": "running", "queued": "running", "scheduled": "running",
          "up_for_reschedule": "running", "deferred": "running", "restarting": "running"}
# Settings that change per run without a restart: the fault plan (a file the tasks read) and
# the floor switch (the DAGs' ``noop`` run parameter). Anything else in a run's ``env``
# restarts the services with it.
PER_RUN = ("WORKBENCH_FAULTS", "WORKBENCH_NOOP")
RUN_STATES = {"success": "success", "failed": "failed", "running": "running",
              "queued": "queued"}
ENDED = ("success", "failed")
# Refusals that asking again can cure: SQLite's write lock held by another component (503
# from the API's own check, 500 when the lock hit its audit-log insert).
CONTENTION = frozenset({500, 503})
WATCH_S = 5.0  # how often a wait looks whether every component still runs


def logical_date(day: Date) -> str:
    """The logical date of ``day``'s scheduled run (the spec's cron: 02:00 UTC)."""
    return f"{day.isoformat()}T02:00:00Z"


class AirflowApi:
    """Airflow's REST API v2, logged in with a token from ``POST /auth/token``.

    Reads that time out or meet a busy server (502/503/504) are asked again by the client;
    writes are asked again while SQLite is contended (:meth:`write`).
    """

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url.rstrip("/")
        self._login = {"username": username, "password": password}
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()
        self.http = HttpClient(self.url, headers=self._auth)

    def _auth(self) -> dict[str, str]:
        with self._token_lock:
            if self._token is None or time.monotonic() - self._token[1] > 600:
                body = HttpClient(self.url).post("/auth/token", self._login)
                self._token = (body["access_token"], time.monotonic())
            return {"Authorization": f"Bearer {self._token[0]}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.http.get(path, **params)

    def write(self, method: str, path: str, body: Any = None, *, settled: tuple[int, ...] = (),
              timeout_s: float = 300) -> Any:
        """A write asked again while SQLite is contended (runs going on at once keep the
        scheduler writing) or its answer was lost, for up to ``timeout_s``. An answer in
        ``settled`` means the write has nothing left to do (None is returned)."""
        last: list[HttpError] = []

        def attempt() -> tuple[Any] | None:
            try:
                return (self.http.request(method, path, body, tries=1),)
            except HttpStatusError as exc:
                if exc.status in settled:
                    return (None,)
                if exc.status not in CONTENTION:
                    raise
                last[:] = [exc]
            except HttpUnreachable as exc:
                last[:] = [exc]
            return None

        try:
            return poll_until(attempt, timeout_s=timeout_s, interval_s=2,
                              what=f"{method} {path}")[0]
        except TimeoutError:
            if last:
                raise last[0] from None
            raise

    def unpause(self, dag_id: str) -> None:
        self.write("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self.write("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})

    def trigger(self, dag_id: str, logical_date: str, conf: dict | None = None,
                run_id: str | None = None) -> dict:
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        try:
            return self.write("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
        except Conflict as conflict:
            if run_id:  # an earlier ask got through before its answer was lost
                try:
                    return self.dag_run(dag_id, run_id)
                except NotFound:
                    pass  # another run holds the logical date: Airflow's own refusal
            raise conflict

    def delete_run(self, dag_id: str, run_id: str) -> None:
        # 404: gone already (an earlier ask got through before its answer was lost).
        self.write("DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}", settled=(404,))

    def dag_runs(self, dag_id: str, **params: Any) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100, order_by="logical_date",
                        **params)["dag_runs"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances",
                        limit=100)["task_instances"]

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict]:
        base = f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}"
        path = f"{base}/{map_index}/tries" if map_index >= 0 else f"{base}/tries"
        return self.get(path)["task_instances"]

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int,
            map_index: int = -1) -> list[Any]:
        """A try's log: structured entries (``timestamp``, ``level``, ``event``, and
        ``error_detail`` where Airflow caught an exception), or lines of text."""
        path = (f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}/logs/"
                f"{try_number}")
        content = self.get(path, full_content="true", map_index=map_index).get("content", "")
        return content if isinstance(content, list) else str(content).splitlines()

    def wait_for_runs(self, dag_id: str, run_ids: list[str], timeout_s: float,
                      watch: Callable[[], None] = lambda: None) -> list[dict]:
        """Every run's final record, once all have ended; ``watch`` is called before each
        look."""
        seen: list[dict] = []

        def ended() -> list[dict] | None:
            watch()
            seen[:] = [self.dag_run(dag_id, r) for r in run_ids]
            return seen if all(r["state"] in ENDED for r in seen) else None

        try:
            return poll_until(ended, timeout_s=timeout_s, interval_s=1,
                              what=f"{dag_id} runs ended")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}: {[(r['dag_run_id'], r['state']) for r in seen]}") \
                from None

    def create_backfill(self, dag_id: str, from_date: str, to_date: str, *,
                        max_active_runs: int = 2, reprocess_behavior: str = "none",
                        conf: dict | None = None) -> dict:
        body = {"dag_id": dag_id, "from_date": from_date, "to_date": to_date,
                "max_active_runs": max_active_runs, "reprocess_behavior": reprocess_behavior,
                "run_backwards": False, "dag_run_conf": conf or {}}
        try:
            return self.write("POST", "/api/v2/backfills", body)
        except Conflict:
            # A request whose answer was lost may still have created the backfill: then the
            # next one is refused (one active backfill per DAG), and the backfill is the
            # DAG's active one for the same range.
            found = self._active_backfill(dag_id, from_date, to_date)
            if found is None:
                raise
            return found

    def close_backfill(self, backfill_id: int) -> None:
        """Mark a backfill whose runs have all ended complete at once.

        The scheduler marks it on a fixed 30 s sweep, and until then the DAG's next backfill
        is refused. ``PUT .../cancel`` pauses the backfill, fails its queued runs (there are
        none left) and sets ``completed_at``; 409 means the sweep got there first.
        """
        self.write("PUT", f"/api/v2/backfills/{backfill_id}/cancel", settled=(409,))

    def _active_backfill(self, dag_id: str, from_date: str, to_date: str) -> dict | None:
        day = from_date[:10], to_date[:10]
        for backfill in self.get("/api/v2/backfills", dag_id=dag_id, limit=100)["backfills"]:
            if not backfill.get("completed_at") and \
                    (backfill["from_date"][:10], backfill["to_date"][:10]) == day:
                return backfill
        return None


class StatsdListener:
    """A small statsd receiver on 127.0.0.1 (UDP): what Airflow pushes with
    ``[metrics] statsd_on``. Counters are summed and timers counted per metric name, over
    every time it was open; with ``statsd_influxdb_enabled`` the tags (``dag_id``,
    ``task_id``, ``state``) are part of the name: ``airflow.ti.finish,dag_id=...,state=...``.
    """

    def __init__(self) -> None:
        self.counters: dict[str, float] = {}
        self.timers: dict[str, int] = {}
        self.lines = 0
        self.port: int | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def env(self, prefix: str = "airflow") -> dict[str, str]:
        """Airflow's configuration that sends its metrics here."""
        assert self.port is not None, "open() first"
        return {"AIRFLOW__METRICS__STATSD_ON": "True",
                "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
                "AIRFLOW__METRICS__STATSD_PORT": str(self.port),
                "AIRFLOW__METRICS__STATSD_PREFIX": prefix,
                "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True"}

    def open(self) -> None:
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        self._sock, self.port = sock, sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                        name="statsd-listener")
        self._thread.start()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if sock is not None:
            sock.close()

    def _serve(self, sock: socket.socket) -> None:
        while self._sock is sock:
            try:
                data = sock.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            for line in data.decode(errors="replace").splitlines():
                self.record(line)

    def record(self, line: str) -> None:
        """One statsd line: ``name:value|c[|@rate]`` or ``name:value|ms``."""
        name, sep, rest = line.strip().rpartition(":")
        if not sep or "|" not in rest:
            return
        value, kind, *extra = rest.split("|")
        try:
            amount = float(value)
        except ValueError:
            return
        rate = next((float(e[1:]) for e in extra if e.startswith("@")), 1.0)
        with self._lock:
            self.lines += 1
            if kind == "c":
                self.counters[name] = self.counters.get(name, 0.0) + amount / (rate or 1.0)
            elif kind == "ms":
                self.timers[name] = self.timers.get(name, 0) + 1

    def _sum(self, table: Mapping[str, float], metric: str, tags: dict[str, str]) -> float:
        want = {f"{k}={v}" for k, v in tags.items()}
        with self._lock:
            return sum(v for n, v in table.items()
                       if n.split(",")[0] == metric and want <= set(n.split(",")[1:]))

    def counter(self, metric: str, **tags: str) -> float:
        """The sum of ``metric`` over every name carrying all of ``tags``."""
        return self._sum(self.counters, metric, tags)

    def timer_count(self, metric: str, **tags: str) -> int:
        return int(self._sum(self.timers, metric, tags))


class AirflowAdapter(Adapter):
    name = "airflow"
    mode = "LocalExecutor (a process per task, forked by the scheduler)"
    namespace = "airflow"
    capabilities = Capabilities(
        exponential_backoff=True, max_retry_delay=True, retry_jitter=True,
        attempt_timeout=True, attempt_number_in_task=True, native_backfill=True,
        metrics_endpoint=True,
        notes={
            "retry_jitter": "deterministic: a hash of dag, task, date and try adds up to one "
                            "more base delay; not configurable",
            "backfill": "POST /api/v2/backfills, run by the scheduler, max_active_runs bounds "
                        "parallelism; the scheduler marks a backfill complete on a fixed 30 s "
                        "sweep and refuses the DAG's next backfill until then, so the adapter "
                        "closes one whose runs have all ended (PUT .../cancel) and times it "
                        "to its last run's end",
            "metrics_endpoint": "pushed with statsd (or OpenTelemetry) to a collector, here a "
                                "UDP listener of the adapter; no endpoint to scrape",
            "gates": "an ExceptionRetryPolicy fails a gate at once (no retry of a verdict)",
        })

    def __init__(self, config, home=None, api_port: int | None = None,
                 namespace: str | None = None, sql_alchemy_conn: str | None = None,
                 asset_triggers: bool = False, task_env: Mapping[str, str] | None = None) -> None:
        """``sql_alchemy_conn``: the metadata DB; by default ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``
        when set (Postgres, say), else SQLite in the home (also when ``""``). ``task_env``:
        environment for every component and task, on top of the configuration's (the tests
        set a short deadline). ``api_port``: a free port when None."""
        if namespace:
            self.namespace = namespace
        super().__init__(config)
        self.sql_alchemy_conn = (sql_alchemy_conn if sql_alchemy_conn is not None
                                 else os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ""))
        base = self.config.state_dir / "airflow"
        self.home = home or base / "home"
        self.fault_file = base / "fault_plan.json"
        self.asset_triggers = asset_triggers
        self.task_env = dict(task_env or {})
        self.service = ServiceCommand("airflow", self.home, port=api_port or free_port())
        self.api: AirflowApi | None = None
        self.metrics = StatsdListener()
        self.metrics_since: str | None = None  # when the listener first listened
        self._env: dict[str, str] | None = None
        self._watched = 0.0
        self._lock = threading.Lock()
        self._watch_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.service.port}"

    # --- lifecycle -------------------------------------------------------------------------

    def _wanted(self, env: dict[str, str] | None) -> dict[str, str]:
        """What the services run with, besides the statsd listener's address."""
        extra = {k: v for k, v in (env or {}).items() if k not in PER_RUN}
        wanted = {**self.config.to_env(), **self.task_env, **extra,
                  "WORKBENCH_FAULTS": str(self.fault_file),
                  "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(self.asset_triggers)}
        if self.sql_alchemy_conn:
            wanted["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.sql_alchemy_conn
        return wanted

    def start(self, env: dict[str, str] | None = None) -> None:
        """``up`` with the settings of ``env`` (a restart when they changed). The caller's own
        Airflow settings are not passed on: they may describe another home."""
        wanted = self._wanted(env)
        if self.api is not None and wanted == self._env:
            return
        self.stop()
        self.fault_file.parent.mkdir(parents=True, exist_ok=True)
        self.fault_file.write_text("{}")
        self.metrics.open()
        self.metrics_since = self.metrics_since or datetime.now(timezone.utc).isoformat()
        self.service.env = {**{k: v for k, v in os.environ.items()
                               if not k.startswith("AIRFLOW")},
                            **wanted, **self.metrics.env()}
        status = self.service.up()
        info = status["info"]
        self.api = AirflowApi(status["url"], info["username"], info["password"])
        self.settings = dict(info["settings"])
        self._env = wanted

    def stop(self) -> None:
        """``down``: every component of the home, whoever started it."""
        self.service.down()
        self.api, self._env = None, None
        self.metrics.close()  # its counts stay; a restart listens on a new port

    def _ready(self) -> AirflowApi:
        if self.api is None:
            self.start()
        assert self.api is not None
        return self.api

    def watch(self, force: bool = False) -> None:
        """Look (at most every ``WATCH_S``) whether each component's process group still
        runs; one that does not is recorded in ``incidents`` (when, which, its log's tail)
        and the wait ends with :class:`ComponentDied`: nothing restarts it."""
        with self._watch_lock:
            if not force and time.monotonic() - self._watched < WATCH_S:
                return
            self._watched = time.monotonic()
            died = self.components_died()
            if died:
                raise ComponentDied.of(died)

    def _prepare(self, pipeline: str, env: dict[str, str] | None) -> AirflowApi:
        """Start (or restart, when the tasks' environment changes), write the fault plan,
        unpause the DAG. Runs going on at once share the plan: each fault names its date."""
        with self._lock:
            self.start(env)
            self.watch(force=True)
            plan = (env or {}).get("WORKBENCH_FAULTS") or "{}"
            if not plan.lstrip().startswith("{"):
                with open(plan) as f:
                    plan = f.read()
            if not self.fault_file.exists() or self.fault_file.read_text() != plan:
                # Atomically: a task of a running run may read it at any moment.
                tmp = self.fault_file.with_suffix(".tmp")
                tmp.write_text(plan)
                tmp.replace(self.fault_file)
            api = self._ready()
            api.unpause(pipeline)
            return api

    @staticmethod
    def _conf(env: dict[str, str] | None) -> dict[str, Any]:
        """The run's ``conf``: the DAG's ``noop`` parameter from ``WORKBENCH_NOOP``."""
        noop = (env or {}).get("WORKBENCH_NOOP", "").lower() in ("1", "true", "yes")
        return {"noop": True} if noop else {}

    # --- runs ------------------------------------------------------------------------------

    def _runs_at(self, api: AirflowApi, pipeline: str, day: Date) -> list[dict]:
        return api.dag_runs(pipeline, logical_date_gte=logical_date(day),
                            logical_date_lte=logical_date(day))

    def run_date(self, pipeline, day, *, env=None, timeout_s=900):
        self.refuse_out_of_range(pipeline, day)
        api = self._prepare(pipeline, env)
        # Airflow keeps one run per logical date: a repeat replaces the earlier run once it
        # has ended; one still queued or running is left alone (a double trigger meets
        # Airflow's own answer).
        for run in self._runs_at(api, pipeline, day):
            if run["state"] in ("success", "failed"):
                api.delete_run(pipeline, run["dag_run_id"])
        run_id = f"workbench__{day.isoformat()}__{time.time_ns()}"
        api.trigger(pipeline, logical_date(day), conf=self._conf(env), run_id=run_id)
        run = api.wait_for_runs(pipeline, [run_id], timeout_s, watch=self.watch)[0]
        return self._run_view(pipeline, run)

    def give_up(self, pipeline: str, day: Date) -> list[str]:
        """Airflow keeps one run per logical date: a run left running (its task's process
        gone with a dead component) is marked failed through the REST API, as from the UI."""
        api = self._ready()
        stuck = [r["dag_run_id"] for r in self._runs_at(api, pipeline, day)
                 if r["state"] not in ("success", "failed")]
        for run_id in stuck:
            api.write("PATCH", f"/api/v2/dags/{pipeline}/dagRuns/{_q(run_id)}",
                      {"state": "failed"})
        return stuck

    def forget(self, pipeline: str, days: list[Date]) -> None:
        """Delete the runs of dates whose outputs are gone from the lake.

        Airflow judges a date done by its own record, not by the data: a backfill skips a
        date with a successful run even when its partitions were deleted since. Removing the
        stale record (as an operator would, from the UI) lets the backfill run it again.
        """
        api = self._ready()
        for day in days:
            if not outputs_present(self.config, pipeline, day):
                for run in self._runs_at(api, pipeline, day):
                    api.delete_run(pipeline, run["dag_run_id"])

    def backfill(self, pipeline, start, end, *, parallelism=2, env=None, timeout_s=1800):
        self.refuse_out_of_range(pipeline, start, end)
        api = self._prepare(pipeline, env)
        days = date_range(start, end)
        t0 = time.time()
        self.forget(pipeline, days)
        # Airflow's own choice of what to run: dates without a run and dates whose run
        # failed; a date that succeeded is skipped (so a re-run after fixing a bad day runs
        # that day only, and an immediate re-run of a good range runs nothing).
        backfill = api.create_backfill(
            pipeline, f"{start.isoformat()}T00:00:00Z", logical_date(end),
            max_active_runs=parallelism, reprocess_behavior="failed", conf=self._conf(env))

        def ended() -> tuple[list[dict]] | None:
            # The backfill's runs exist once the POST returns (queued, or a failed one
            # cleared); a date that needs no run has none.
            self.watch()
            runs = [r for r in api.dag_runs(pipeline, logical_date_gte=logical_date(start),
                                            logical_date_lte=logical_date(end))
                    if r.get("run_type") == "backfill"]
            return (runs,) if all(r["state"] in ENDED for r in runs) else None

        (runs,) = poll_until(ended, timeout_s=timeout_s, interval_s=1,
                             what=f"backfill {backfill['id']} of {pipeline} done")
        wall = time.time() - t0
        # Every run has ended: close the backfill now rather than wait for the scheduler's
        # 30 s sweep, which would hold the DAG's next backfill.
        api.close_backfill(backfill["id"])
        views = [self._run_view(pipeline, r) for r in runs]
        return BackfillView(pipeline, [d.isoformat() for d in days], parallelism, wall, views,
                            mechanism="POST /api/v2/backfills (airflow backfill create), "
                                      f"max_active_runs={parallelism}, "
                                      "reprocess_behavior=failed")

    def read_runs(self, pipeline, day=None):
        api = self._ready()
        params = ({"logical_date_gte": logical_date(day), "logical_date_lte": logical_date(day)}
                  if day else {})
        return [self._run_view(pipeline, r) for r in api.dag_runs(pipeline, **params)]

    # --- the orchestrator's record, normalised ----------------------------------------------

    def _run_view(self, pipeline: str, run: dict[str, Any]) -> RunView:
        api = self._ready()
        run_id = run["dag_run_id"]
        steps = []
        for ti in sorted(api.task_instances(pipeline, run_id),
                         key=lambda t: (t["start_date"] or "~", t["map_index"])):
            map_index = ti["map_index"]
            map_key = None
            if map_index >= 0:
                # Mapped over regions() in order; unrendered when the instance never ran.
                map_key = ti.get("rendered_map_index") or (
                    regions()[map_index] if map_index < len(regions()) else str(map_index))
            attempts = []
            if ti["try_number"] > 0:
                for t in api.tries(pipeline, run_id, ti["task_id"], map_index):
                    attempts.append(self._attempt(api, pipeline, run_id, ti["task_id"],
                                                  map_index, t))
            steps.append(StepView(ti["task_id"], STATES.get(ti["state"] or "", "unknown"),
                                  map_key, attempts))
        # An asset-triggered run has no logical date; a partition-driven one has the date as
        # its partition key.
        day = ((run.get("logical_date") or "")[:10] or (run.get("partition_key") or "")[:10]
               or self._asset_date(api, pipeline, run_id))
        return RunView(run_id, pipeline, day, RUN_STATES.get(run["state"], "unknown"),
                       _iso(run.get("start_date")), _iso(run.get("end_date")), steps,
                       url=f"{api.url}/dags/{pipeline}/runs/{_q(run_id)}")

    @staticmethod
    def _asset_date(api: AirflowApi, pipeline: str, run_id: str) -> str:
        """An asset-triggered run has no logical date: its data date rides on the event."""
        events = api.get(f"/api/v2/dags/{pipeline}/dagRuns/{_q(run_id)}/"
                         "upstreamAssetEvents")["asset_events"]
        dates = sorted(str(e["extra"]["date"]) for e in events
                       if (e.get("extra") or {}).get("date"))
        return dates[0] if dates else ""

    @staticmethod
    def _attempt(api: AirflowApi, pipeline: str, run_id: str, task_id: str, map_index: int,
                 t: dict[str, Any]) -> AttemptView:
        try:
            entries = api.log(pipeline, run_id, task_id, t["try_number"], map_index)
        except HttpError as exc:
            entries = [f"(log not available: {exc})"]
        log = "\n".join(_log_line(e) for e in entries)
        state = t.get("state") or ""
        return AttemptView(attempt=t["try_number"], state=STATES.get(state, "unknown"),
                           start=_iso(t.get("start_date")), end=_iso(t.get("end_date")),
                           duration_s=t.get("duration"),
                           error=_error_from_log(entries, log)
                           if state in ("failed", "up_for_retry") else None,
                           log_excerpt=log[-2000:] if log else None)

    # --- probes the harness merges into its observability matrix --------------------------

    def probes(self, mine: dict[str, Any]) -> list[Callable[[], Probe]]:
        """Airflow's statsd metrics against the ledger, the lake outputs' asset events and the
        quality gate's checks, each read from Airflow itself, with the evidence."""
        return [partial(self._probe_metrics_endpoint, mine),
                partial(self._probe_lineage_events, mine),
                partial(self._probe_quality_results, mine)]

    def _probe_metrics_endpoint(self, mine: dict[str, Any]) -> Probe:
        pipeline = "customer_daily_etl"
        transient = mine.get("retries", {}).get("transient", {})
        failing = transient.get("step", "gold_summary")
        ledger = [r for r in Ledger(self.config.ledger_path).read_attempts(
            pipeline=pipeline, namespace=self.config.namespace)
            if self.metrics_since and r.start >= self.metrics_since]
        done_truth = sum(r.step == "notify" and r.status == "success" for r in ledger)
        failed_truth = sum(r.step == failing and r.status == "failed" for r in ledger)
        time.sleep(1)  # the last datagrams of the last run
        done = self.metrics.counter("airflow.ti.finish", dag_id=pipeline, task_id="notify",
                                    state="success")
        failed = self.metrics.counter("airflow.ti_failures", dag_id=pipeline, task_id=failing)
        runs_ok = self.metrics.timer_count("airflow.dagrun.duration.success", dag_id=pipeline)
        runs_failed = self.metrics.timer_count("airflow.dagrun.duration.failed", dag_id=pipeline)
        return Probe("metrics_endpoint",
                     done_truth > 0 and done == done_truth and failed_truth > 0
                     and failed == failed_truth,
                     f"statsd (AIRFLOW__METRICS__STATSD_ON, 127.0.0.1:{self.metrics.port} UDP, "
                     f"{self.metrics.lines} lines since {self.metrics_since}): "
                     f"ti.finish{{dag_id={pipeline},task_id=notify,state=success}}={done:g} vs "
                     f"{done_truth} successful notify attempts in the ledger; "
                     f"ti_failures{{task_id={failing}}}={failed:g} vs {failed_truth} failed "
                     f"{failing} attempts; dagrun.duration.success {runs_ok} runs, .failed "
                     f"{runs_failed} runs")

    def _probe_lineage_events(self, mine: dict[str, Any]) -> Probe:
        day, run_id = mine["happy"][-1]["date"], mine["happy"][-1]["run"]["run_id"]
        path = "/api/v2/assets/events"
        events = self._ready().get(path, source_dag_id="customer_daily_etl",
                                   source_run_id=run_id, limit=100)["asset_events"]
        # Each lake output the run wrote, keyed by the data date it was written for.
        seen = {(e.get("name"), e.get("partition_key"), (e.get("extra") or {}).get("date"))
                for e in events}
        wanted = {(name, day, day) for name in ("silver_customers",
                                                 "gold_customer_daily_summary")}
        excerpt = [{k: e.get(k) for k in ("name", "source_task_id", "partition_key", "extra",
                                           "timestamp")} for e in events][:2]
        return Probe("lineage_events", wanted <= seen,
                     f"GET {path}?source_dag_id=customer_daily_etl&source_run_id={run_id} -> "
                     f"{len(events)} events, (asset, partition_key, extra.date) "
                     f"{sorted(map(str, seen))}; {json.dumps(excerpt, default=str)[:600]}")

    def _probe_quality_results(self, mine: dict[str, Any]) -> Probe:
        day, run_id = mine["happy"][-1]["date"], mine["happy"][-1]["run"]["run_id"]
        path = (f"/api/v2/dags/customer_daily_etl/dagRuns/{_q(run_id)}/taskInstances/"
                "quality_gate/xcomEntries/quality_checks")
        value = self._ready().get(path, deserialize="true").get("value")
        if isinstance(value, str):
            value = json.loads(value)
        truth = lake.read_json(lake.Partition(self.config.namespace_root(), "quality",
                                              SILVER_TABLE, day))
        names = [(c["name"], c["passed"]) for c in (value or {}).get("checks", [])]
        return Probe("quality_results", bool(names) and value == truth,
                     f"GET {path}?deserialize=true -> {json.dumps(names)}; equal to the "
                     f"gate's record in the lake: {value == truth}")


def _q(run_id: str) -> str:
    return quote(run_id, safe="")


def _iso(value: str | None) -> str | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()


def _log_line(entry: Any) -> str:
    if isinstance(entry, dict):
        return " ".join(str(entry.get(k, "")) for k in ("timestamp", "level", "event")
                        if entry.get(k) is not None)
    return str(entry)


def _error_from_log(entries: list[Any], log: str) -> str | None:
    """Why a try failed: the exception Airflow caught (``Task failed with exception``, its
    ``error_detail``) as ``Type: message``; else the core's ``... failed: <error>`` line,
    else the last error-level line."""
    for entry in reversed(entries):
        detail = entry.get("error_detail") if isinstance(entry, dict) else None
        if detail and isinstance(detail, list) and isinstance(detail[0], dict):
            return f"{detail[0].get('exc_type')}: {detail[0].get('exc_value')}"
    lines = [line for line in log.splitlines() if line.strip()]
    for line in reversed(lines):
        if " failed: " in line and "attempt" in line:
            return line.split(" failed: ", 1)[1].strip()
    errors = [line for line in lines if " error " in line.lower()]
    return errors[-1] if errors else None
