"""The Prefect 3 adapter: Prefect's server and a process worker started by the Prefect
implementation's service command (``python -m workbench_prefect.service``, in its own
environment), both flows deployed on the worker's pool, and every record read back through
the server's REST API (flow runs, task runs, their state histories, logs, events, artifacts,
metrics).

The root environment has no Prefect: the adapter runs the service command as a subprocess and
speaks plain HTTP. A run's fault plan travels in the flow run's ``env`` job variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import date as Date
from datetime import datetime, timedelta, timezone
from logging import ERROR
from pathlib import Path
from typing import Any, Callable

from benchmarks.adapters.base import (Adapter, AttemptView, BackfillView, Capabilities, Probe,
                                      RunView, StepView)
from benchmarks.adapters.service import ServiceCommand, impl_dir, impl_python
from pipelines_core.config import WorkbenchConfig
from pipelines_core.http import Conflict, HttpClient
from pipelines_core.procs import free_port, poll_until
from pipelines_core.runner import date_range

POOL = "workbench-process"  # the service's work pool (workbench_prefect.POOL)
DEPLOYMENT = "daily"
BACKFILL_QUEUE = "backfill"
# The line the flows' failure hook logs once it has run: HOOK_DONE in
# prefect_impl/workbench_prefect/common.py.
HOOK_LOG = "workbench failure hook"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
RUN_STATES = {"COMPLETED": "success", "FAILED": "failed", "CRASHED": "failed",
              "CANCELLED": "failed", "RUNNING": "running", "CANCELLING": "running",
              "SCHEDULED": "queued", "PENDING": "queued", "PAUSED": "queued"}


def _state(state: dict | None) -> str:
    if not state:
        return "unknown"
    if state.get("name") == "NotReady":
        return "upstream_failed"
    return RUN_STATES.get(state.get("type", ""), "unknown")


def _parse(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None


class PrefectAdapter(Adapter):
    name = "prefect"
    mode = "process worker (a subprocess per flow run, tasks in its threads)"
    namespace = "prefect"
    capabilities = Capabilities(
        exponential_backoff=True, max_retry_delay=False, retry_jitter=True,
        attempt_timeout=True, attempt_number_in_task=True, native_backfill=False,
        metrics_endpoint=True,
        notes={
            "exponential_backoff": "retry_delay_seconds takes a list: the spec's delays are "
                                   "passed as an explicit list",
            "max_retry_delay": "no max-delay option (exponential_backoff() grows unbounded); "
                               "the cap is applied by building the capped list",
            "retry_jitter": "retry_jitter_factor exists; the spec asks for none",
            "attempt_timeout": "timeout_seconds; in worker threads (mapped tasks) it cannot "
                               "interrupt a blocking call, only fires after it returns",
            "backfill": "no backfill primitive: one deployment run per past date, in a work "
                        "queue whose concurrency_limit bounds the runs at once",
            "crash": "a killed flow-run process is marked Crashed by the worker, which then "
                     "runs the flow's on_crashed hooks in a new process; tasks are not "
                     "retried",
            "metrics": "PREFECT_SERVER_METRICS_ENABLED=true -> /api/metrics (Prometheus)",
        })

    def __init__(self, config: WorkbenchConfig, *, port: int | None = None,
                 home: Path | None = None, worker_limit: int = 4,
                 ml_trigger: bool = False, in_process: bool = False) -> None:
        """``in_process``: ``run_date`` calls the flow in a process of its own (Prefect's
        documented simplest way to run a flow, reporting to the server) instead of creating
        a deployment run for the worker; backfills still go through the worker."""
        super().__init__(config)
        self.in_process = in_process
        if in_process:
            self.mode = "flow called in-process (no worker; it reports to the server)"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/api"
        # A 503 is the server's answer when its SQLite database is busy (a small loaded
        # machine); the transaction was rolled back, so the call is made again, for up to
        # about half a minute (four runs created at once once met a 10 s busy spell).
        self.api = HttpClient(self.api_url, retry_on={503}, tries=8)
        self.service = ServiceCommand(
            "prefect", home or self.config.state_dir / "prefect" / "home", port=self.port,
            env={**os.environ, **self.config.to_env()},
            options=["--worker-limit", str(worker_limit),
                     "--ml-trigger" if ml_trigger else "--no-ml-trigger"])
        self.deployments: dict[str, str] = {}

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        info = self.service.up().get("info") or {}
        self.settings = {
            **info.get("settings", {}),
            "prefect worker start --limit": str(info.get("worker_limit")),
            "prefect worker start --prefetch-seconds": str(info.get("worker_prefetch_s")),
            "lead_scoring_mlops event trigger": "enabled" if info.get("ml_trigger")
            else "disabled"}

    def stop(self) -> None:
        self.service.down()
        self.deployments.clear()

    def _filter(self, path: str, body: dict[str, Any]) -> Any:
        """A ``.../filter`` read: a POST that changes nothing, so safe to ask again."""
        return self.api.post(path, body, idempotent=True)

    def metrics(self) -> str:
        """The server's Prometheus exposition (``/api/metrics``)."""
        return self.api.request("GET", "/metrics", raw=True)

    # --- running -----------------------------------------------------------------------

    def _deployment_id(self, pipeline: str) -> str:
        if pipeline not in self.deployments:
            dep = self.api.get(f"/deployments/name/{pipeline}/{DEPLOYMENT}")
            self.deployments[pipeline] = dep["id"]
        return self.deployments[pipeline]

    def create_run(self, pipeline: str, day: Date, env: dict[str, str] | None = None,
                   tags: list[str] | None = None, work_queue: str | None = None) -> str:
        """Create a run of the pipeline's deployment for ``day`` (in ``work_queue``, else the
        deployment's); the worker picks it up."""
        body: dict[str, Any] = {"parameters": {"day": day.isoformat()},
                                "tags": tags or []}
        if work_queue:
            body["work_queue_name"] = work_queue
        if env:
            body["job_variables"] = {"env": dict(env)}
        run = self.api.post(f"/deployments/{self._deployment_id(pipeline)}/create_flow_run",
                            body)
        return run["id"]

    def _runs(self, run_ids: list[str]) -> list[dict]:
        return self._filter("/flow_runs/filter", {"flow_runs": {"id": {"any_": run_ids}}})

    def wait(self, run_ids: list[str], timeout_s: float) -> None:
        """Wait until every run is in a terminal state."""
        pending = set(run_ids)

        def done() -> bool:
            pending.difference_update(r["id"] for r in self._runs(sorted(pending))
                                      if (r.get("state") or {}).get("type") in TERMINAL)
            return not pending

        poll_until(done, timeout_s=timeout_s, interval_s=1.0,
                   what=f"flow runs {sorted(pending)} terminal")

    def run_date(self, pipeline, day, *, env=None, timeout_s=900):
        self.refuse_out_of_range(pipeline, day)
        if self.in_process:
            return self.read_run(self.call_flow(pipeline, day, env, timeout_s))
        run_id = self.create_run(pipeline, day, env)
        self.wait([run_id], timeout_s)
        self.wait_crash_hooks([run_id])
        return self.read_run(run_id)

    def call_flow(self, pipeline: str, day: Date, env: dict[str, str] | None,
                  timeout_s: float) -> str:
        """``python -m workbench_prefect run``: the flow called for ``day`` in a process of
        its own (the implementation's environment) against this server; its flow run id."""
        cmd = [str(impl_python("prefect")), "-m", "workbench_prefect", "run",
               "--pipeline", pipeline, "--date", day.isoformat()]
        child = {**{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
                 **self.config.to_env(), **(env or {}), "PREFECT_API_URL": self.api_url,
                 "PREFECT_HOME": str(self.service.home),
                 "PREFECT_LOGGING_EXTRA_LOGGERS": "workbench",
                 "PYTHONPATH": str(impl_dir("prefect"))}
        out = subprocess.run(cmd, env=child, cwd=impl_dir("prefect"), capture_output=True,
                             text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
        try:
            return json.loads(out.stdout.strip().splitlines()[-1])["flow_run_id"]
        except (IndexError, ValueError, KeyError):
            raise RuntimeError(f"the in-process flow run of {pipeline} {day} printed no run "
                               f"id (exit {out.returncode}):\n{out.stderr[-3000:]}") from None

    def wait_crash_hooks(self, run_ids: list[str], timeout_s: float = 120) -> list[str]:
        """Wait until the ``on_crashed`` hook of each Crashed run has logged that it ran.

        A killed flow-run process cannot run its own hooks: the process worker marks the run
        Crashed, then runs the flow's ``on_crashed`` hooks in a new process, seconds later.
        A run is finished, for a reader of its alerts, once that hook's log line is in the
        run's logs. Returns the runs whose hook did not report within ``timeout_s``.
        """
        crashed = {r["id"] for r in self._runs(run_ids)
                   if (r.get("state") or {}).get("type") == "CRASHED"}

        def reported() -> bool:
            logs = self._filter("/logs/filter", {
                "logs": {"flow_run_id": {"any_": sorted(crashed)}}, "limit": 200,
                "sort": "TIMESTAMP_DESC"})
            crashed.difference_update(lg["flow_run_id"] for lg in logs
                                      if HOOK_LOG in (lg.get("message") or ""))
            return not crashed

        if crashed:
            try:
                poll_until(reported, timeout_s=timeout_s, interval_s=1.0,
                           what="on_crashed hooks reported")
            except TimeoutError:
                pass
        return sorted(crashed)

    def backfill_queue(self, limit: int) -> str:
        """The pool's ``backfill`` work queue, with ``limit`` as its concurrency limit: the
        worker takes no more of its runs at once, whatever else the pool runs."""
        try:
            self.api.post(f"/work_pools/{POOL}/queues",
                          {"name": BACKFILL_QUEUE, "concurrency_limit": limit})
        except Conflict:  # it exists already
            self.api.patch(f"/work_pools/{POOL}/queues/{BACKFILL_QUEUE}",
                           {"concurrency_limit": limit})
        return BACKFILL_QUEUE

    def backfill(self, pipeline, start, end, *, parallelism=2, env=None, timeout_s=1800):
        self.refuse_out_of_range(pipeline, start, end)
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        days = date_range(start, end)
        t0 = time.time()
        queue = self.backfill_queue(parallelism)
        ids = [self.create_run(pipeline, d, env, tags=["backfill"], work_queue=queue)
               for d in days]
        self.wait(ids, timeout_s)
        self.wait_crash_hooks(ids)
        wall = time.time() - t0
        return BackfillView(pipeline, [d.isoformat() for d in days], parallelism, wall,
                            [self.read_run(i) for i in ids],
                            mechanism=f"deployment runs for past dates in the pool's "
                                      f"{queue!r} work queue, concurrency_limit={parallelism}")

    # --- probes ------------------------------------------------------------------------

    def probes(self, mine: dict[str, Any]) -> list[Callable[[], Probe]]:
        """Prefect-specific probes: the server's Prometheus endpoint, asset materialisation
        events of the happy run, the quality gate's table artifacts."""

        def happy() -> dict[str, Any]:
            return mine["happy"][-1]

        def bad_day() -> str | None:
            return ((mine.get("backfill") or {}).get("bad_day") or {}).get("bad_date")

        return [self.metrics_probe,
                lambda: self.lineage_probe(happy()["run"]["run_id"], happy()["date"]),
                lambda: self.quality_probe(happy()["run"]["run_id"], bad_day())]

    def metrics_probe(self) -> Probe:
        """``/api/metrics`` (PREFECT_SERVER_METRICS_ENABLED): does any series count runs?"""
        text = self.metrics()
        families = sorted({ln.split()[2] for ln in text.splitlines()
                           if ln.startswith("# TYPE ")})
        runs = [f for f in families if "flow_run" in f or "task_run" in f]
        return Probe("metrics_endpoint", bool(runs),
                     f"GET {self.api_url}/metrics: {len(families)} metric families "
                     f"({', '.join(families[:25])}); series counting flow or task runs: "
                     f"{runs or 'none'} (run counts come from POST "
                     f"{self.api_url}/flow_runs/count, not from the metrics endpoint)")

    def asset_events(self, run_id: str) -> list[dict[str, Any]]:
        """The asset materialisation events a flow run's tasks emitted (events API)."""
        since = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
        page = self._filter("/events/filter", {
            "filter": {"occurred": {"since": since},
                       "event": {"prefix": ["prefect.asset.materialization."]},
                       "related": {"id": [f"prefect.flow-run.{run_id}"]}},
            "limit": 50})
        return page.get("events", []) if isinstance(page, dict) else []

    def lineage_probe(self, run_id: str, day: str) -> Probe:
        events = self.asset_events(run_id)
        seen = sorted({(e["event"].rsplit(".", 1)[1], e["resource"]["prefect.resource.id"],
                        (e.get("payload") or {}).get("date")) for e in events})
        tables = {"/".join(key.rsplit("/", 2)[-2:])  # <layer>/<table> of the lake folder
                  for status, key, d in seen if status == "succeeded" and d == day}
        wanted = {"silver/customers", "gold/customer_region_daily",
                  "gold/customer_daily_summary", "reports/customer_daily_etl_notifications"}
        return Probe("lineage_events", wanted <= tables,
                     f"POST {self.api_url}/events/filter {{event prefix "
                     f"prefect.asset.materialization., related prefect.flow-run.{run_id}}}: "
                     f"{len(events)} events; {day}: {sorted(tables)}; "
                     f"missing {sorted(wanted - tables)}")

    def quality_artifacts(self, run_ids: list[str]) -> list[dict[str, Any]]:
        return self._filter("/artifacts/filter", {
            "artifacts": {"flow_run_id": {"any_": run_ids}, "key": {"any_": ["customer-quality"]}},
            "sort": "CREATED_DESC", "limit": 20})

    def quality_probe(self, run_id: str, bad: str | None) -> Probe:
        """The gate's checks as a table artifact: passed on the happy run, FAILED on the
        bad day's first run."""
        happy = self.quality_artifacts([run_id])
        bad_runs = [r.run_id for r in self.read_runs("customer_daily_etl",
                                                     Date.fromisoformat(bad))] if bad else []
        failed = [a for a in self.quality_artifacts(bad_runs) if "FAILED" in
                  (a.get("description") or "")] if bad_runs else []
        ok = bool(happy) and "passed" in (happy[0].get("description") or "")
        return Probe("quality_results", ok and (bad is None or bool(failed)),
                     f"POST {self.api_url}/artifacts/filter {{key customer-quality, "
                     f"flow_run_id {run_id}}}: "
                     f"{[(a.get('description'), str(a.get('data'))[:160]) for a in happy[:1]]}"
                     f"; bad day {bad}: {[a.get('description') for a in failed[:1]]}")

    # --- reading back ------------------------------------------------------------------

    def read_runs(self, pipeline, day=None):
        runs = self._filter("/flow_runs/filter",
                            {"flows": {"name": {"any_": [pipeline]}}, "sort": "START_TIME_ASC",
                             "limit": 200})
        # Only the day's runs are read in full (every task run's states and logs).
        return [self._view(r) for r in runs
                if day is None or self._run_date(r) == day.isoformat()]

    def read_run(self, run_id: str) -> RunView:
        return self._view(self.api.get(f"/flow_runs/{run_id}"))

    @staticmethod
    def _run_date(run: dict) -> str:
        day = (run.get("parameters") or {}).get("day")
        if day:
            return str(day)[:10]
        ts = _parse(run.get("expected_start_time"))
        return ts.astimezone(timezone.utc).date().isoformat() if ts else ""

    def task_runs(self, run_id: str) -> list[dict]:
        """The flow run's task runs; waits briefly until their records settle (task-run
        states reach the server as events, a moment after the flow run ends)."""
        seen: list[dict] = []

        def settled() -> bool:
            seen[:] = self._filter("/task_runs/filter",
                                   {"flow_runs": {"id": {"any_": [run_id]}},
                                    "sort": "EXPECTED_START_TIME_ASC", "limit": 200})
            return all((t.get("state") or {}).get("type") in TERMINAL
                       or (t.get("state") or {}).get("name") == "NotReady" for t in seen)

        try:
            poll_until(settled, timeout_s=15, interval_s=0.5,
                       what=f"task runs of {run_id} settled")
        except TimeoutError:
            pass  # read as they are: a task still running is reported running
        return seen

    def task_states(self, task_run_id: str) -> list[dict]:
        states = self.api.get("/task_run_states/", task_run_id=task_run_id)
        return sorted(states, key=lambda s: s["timestamp"])

    def task_logs(self, task_run_id: str) -> list[dict]:
        return self._filter("/logs/filter",
                            {"logs": {"task_run_id": {"any_": [task_run_id]}},
                             "sort": "TIMESTAMP_ASC", "limit": 200})

    def attempts(self, task_run: dict) -> list[AttemptView]:
        """One attempt per Running state in the task run's history, ended by the next state."""
        states = self.task_states(task_run["id"])
        logs = self.task_logs(task_run["id"])
        out: list[AttemptView] = []
        for i, st in enumerate(states):
            if st["type"] != "RUNNING":
                continue
            nxt = states[i + 1] if i + 1 < len(states) else None
            start, end = _parse(st["timestamp"]), _parse(nxt["timestamp"]) if nxt else None
            if nxt is None:
                outcome = "running"
            elif nxt["type"] == "COMPLETED":
                outcome = "success"
            else:
                outcome = "failed"
            # The engine logs the failure just after proposing the next state.
            until = end + timedelta(seconds=0.5) if end else None
            window = [lg for lg in logs if _parse(lg["timestamp"]) >= start and (
                until is None or _parse(lg["timestamp"]) <= until)]
            lines = [lg["message"] for lg in window]
            error = None
            if outcome == "failed":
                # A retried attempt's state carries no message: its error is in the run's
                # logs, the step's own ERROR line (with the traceback) and the engine's
                # "Task run failed with exception ..." line.
                failure = [lg["message"] for lg in window if lg.get("level", 0) >= ERROR
                           or "exception" in lg["message"].lower()]
                error = nxt.get("message") or "\n".join(failure)[-2000:] or nxt["name"]
            out.append(AttemptView(
                attempt=len(out) + 1, state=outcome, start=start.isoformat(),
                end=end.isoformat() if end else None,
                duration_s=(end - start).total_seconds() if end else None,
                error=error, log_excerpt="\n".join(lines)[-2000:] or None))
        return out

    def _view(self, run: dict) -> RunView:
        steps = []
        for tr in self.task_runs(run["id"]):
            name = tr["name"]
            step, key = name, None
            if "[" in name and name.endswith("]"):
                step, key = name[:-1].split("[", 1)
            steps.append(StepView(step, _state(tr.get("state")), key, self.attempts(tr)))
        flow = self.api.get(f"/flows/{run['flow_id']}")
        return RunView(run["id"], flow["name"], self._run_date(run), _state(run.get("state")),
                       run.get("start_time"), run.get("end_time"), steps,
                       url=f"{self.url}/runs/flow-run/{run['id']}")


def make_adapter(config: WorkbenchConfig, **kwargs: Any) -> PrefectAdapter:
    return PrefectAdapter(config, **kwargs)

