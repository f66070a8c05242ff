"""The Airflow 3 adapter: a real scheduler, dag-processor, triggerer and api-server over a
workbench-owned AIRFLOW_HOME (SQLite, or Postgres when AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is set).


Runs are triggered and backfills created through the REST API v2 (``POST .../dagRuns``,
``POST /api/v2/backfills``), executed by Airflow's scheduler and LocalExecutor, and read back
from the same API: DAG runs, task instances, every try (``.../tries``) and each try's log.

By default the harness triggers every run itself, so the scheduler's own clock is off
(``[scheduler] use_job_schedule = False``): each ETL run's asset event would otherwise start
a second, unrequested ML run. The asset events are still recorded (they show in the UI);
``asset_triggers=True`` turns the data-aware trigger on (the implementation's tests do).
Fault plans reach the tasks through a file named by ``WORKBENCH_FAULTS``, rewritten before
each run, so the server need not restart.

Airflow's metrics are pushed with statsd to a listener the adapter runs on 127.0.0.1 (UDP)
for as long as the services run; ``probes`` compares its counters with the ledger, reads
the lake outputs' asset events and the quality gate's checks (an XCom) through the API.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import date as Date
from datetime import datetime, timezone
from typing import Any, Mapping

from benchmarks.adapters.airflow_server import AirflowError, AirflowServer, StatsdListener
from benchmarks.adapters.base import (Adapter, AttemptView, BackfillView, Capabilities,
                                      RunView, StepView)
from pipelines_core import lake
from pipelines_core.ledger import Ledger
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


def logical_date(day: Date) -> str:
    """The logical date of ``day``'s scheduled run (the spec's cron: 02:00 UTC)."""
    return f"{day.isoformat()}T02:00:00Z"


class AirflowAdapter(Adapter):
    name = "airflow"
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
        when set (Postgres, say), else SQLite in the home. ``task_env``: environment for every
        component and task, on top of the configuration's (the tests set a short deadline)."""
        if namespace:
            self.namespace = namespace
        super().__init__(config)
        self.sql_alchemy_conn = (sql_alchemy_conn if sql_alchemy_conn is not None
                                 else os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ""))
        base = self.config.state_dir / "airflow"
        self.home = home or base / "home"
        self.fault_file = base / "fault_plan.json"
        self.api_port = api_port or int(os.environ.get("WORKBENCH_AIRFLOW_PORT", "0") or 0)
        self.asset_triggers = asset_triggers
        self.task_env = dict(task_env or {})
        self.server: AirflowServer | None = None
        self.metrics = StatsdListener()
        self.metrics_since: str | None = None  # when the listener first listened
        self._env: dict[str, str] = {}
        self._lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------------

    def _task_env(self, env: dict[str, str] | None) -> dict[str, str]:
        extra = {k: v for k, v in (env or {}).items() if k not in PER_RUN}
        return {**self.config.to_env(), **self.task_env, **extra,
                "WORKBENCH_FAULTS": str(self.fault_file),
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(self.asset_triggers)}

    def start(self, env: dict[str, str] | None = None) -> None:
        wanted = self._task_env(env)
        if self.server is not None and wanted == self._env:
            return
        self.stop()
        self.fault_file.parent.mkdir(parents=True, exist_ok=True)
        self.fault_file.write_text("{}")
        self._env = wanted
        self.metrics.open()
        self.metrics_since = self.metrics_since or datetime.now(timezone.utc).isoformat()
        self.server = AirflowServer(self.home, api_port=self.api_port or None,
                                    extra_env={**wanted, **self.metrics.env()},
                                    sql_alchemy_conn=self.sql_alchemy_conn or None)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.metrics.close()  # its counts stay; a restart listens on a new port

    def _prepare(self, pipeline: str, env: dict[str, str] | None) -> AirflowServer:
        """Start (or restart, when the tasks' environment changes), write the fault plan,
        unpause the DAG. Runs going on at once share the plan: each fault names its date."""
        with self._lock:
            self.start(env)
            plan = (env or {}).get("WORKBENCH_FAULTS") or "{}"
            if not plan.lstrip().startswith("{"):
                with open(plan) as f:
                    plan = f.read()
            if not self.fault_file.exists() or self.fault_file.read_text() != plan:
                # Atomically: a task of a running run may read it at any moment.
                tmp = self.fault_file.with_suffix(".tmp")
                tmp.write_text(plan)
                tmp.replace(self.fault_file)
            assert self.server is not None
            self.server.unpause(pipeline)
            return self.server

    @staticmethod
    def _conf(env: dict[str, str] | None) -> dict[str, Any]:
        """The run's ``conf``: the DAG's ``noop`` parameter from ``WORKBENCH_NOOP``."""
        noop = (env or {}).get("WORKBENCH_NOOP", "").lower() in ("1", "true", "yes")
        return {"noop": True} if noop else {}

    # --- runs ------------------------------------------------------------------------------

    def _delete_runs_at(self, server: AirflowServer, pipeline: str, days: list[Date]) -> None:
        """Airflow keeps one run per logical date: a repeat replaces the earlier run."""
        for day in days:
            for run in server.dag_runs(pipeline, logical_date_gte=logical_date(day),
                                       logical_date_lte=logical_date(day)):
                server.delete_run(pipeline, run["dag_run_id"])

    def run_date(self, pipeline, day, *, env=None, timeout_s=900):
        server = self._prepare(pipeline, env)
        self._delete_runs_at(server, pipeline, [day])
        run_id = f"workbench__{day.isoformat()}__{time.time_ns()}"
        server.trigger(pipeline, logical_date(day), conf=self._conf(env), run_id=run_id)
        server.wait_for_runs(pipeline, [run_id], timeout_s)
        return self._run_view(pipeline, server.dag_run(pipeline, run_id))

    def _forget_runs_without_data(self, server: AirflowServer, pipeline: str,
                                  days: list[Date]) -> list[str]:
        """Delete the runs of dates whose outputs are gone from the lake.

        Airflow judges a date done by its own record, not by the data: a backfill skips a
        date with a successful run even when its partitions were deleted since. Removing the
        stale record (as an operator would, from the UI) lets the backfill run it again.
        """
        forgotten = []
        for day in days:
            if outputs_present(self.config, pipeline, day):
                continue
            for run in server.dag_runs(pipeline, logical_date_gte=logical_date(day),
                                       logical_date_lte=logical_date(day)):
                server.delete_run(pipeline, run["dag_run_id"])
                forgotten.append(run["dag_run_id"])
        return forgotten

    def backfill(self, pipeline, start, end, *, parallelism=2, env=None, timeout_s=1800):
        server = self._prepare(pipeline, env)
        days = date_range(start, end)
        t0 = time.time()
        self._forget_runs_without_data(server, pipeline, days)
        # Airflow's own choice of what to run: dates without a run and dates whose run
        # failed; a date that succeeded is skipped (so a re-run after fixing a bad day runs
        # that day only, and an immediate re-run of a good range runs nothing).
        backfill = server.create_backfill(
            pipeline, f"{start.isoformat()}T00:00:00Z", logical_date(end),
            max_active_runs=parallelism, reprocess_behavior="failed", conf=self._conf(env))
        deadline = time.monotonic() + timeout_s
        while True:
            # The backfill's runs exist once the POST returns (queued, or a failed one
            # cleared); a date that needs no run has none.
            runs = [r for r in server.dag_runs(pipeline, logical_date_gte=logical_date(start),
                                               logical_date_lte=logical_date(end))
                    if r.get("run_type") == "backfill"]
            if all(r["state"] in ("success", "failed") for r in runs):
                break
            if time.monotonic() > deadline:
                raise AirflowError(f"backfill {backfill['id']} not done in {timeout_s:.0f} s")
            time.sleep(1)
        wall = time.time() - t0
        # Every run has ended: close the backfill now rather than wait for the scheduler's
        # 30 s sweep, which would hold the DAG's next backfill.
        server.close_backfill(backfill["id"])
        views = [self._run_view(pipeline, r) for r in runs]
        return BackfillView(pipeline, [d.isoformat() for d in days], parallelism, wall, views,
                            mechanism="POST /api/v2/backfills (airflow backfill create), "
                                      f"max_active_runs={parallelism}, "
                                      "reprocess_behavior=failed")

    def read_runs(self, pipeline, day=None):
        if self.server is None:
            self.start()
        assert self.server is not None
        params = ({"logical_date_gte": logical_date(day), "logical_date_lte": logical_date(day)}
                  if day else {})
        return [self._run_view(pipeline, r) for r in self.server.dag_runs(pipeline, **params)]

    # --- the orchestrator's record, normalised ----------------------------------------------

    def _run_view(self, pipeline: str, run: dict[str, Any]) -> RunView:
        assert self.server is not None
        run_id = run["dag_run_id"]
        steps = []
        for ti in sorted(self.server.task_instances(pipeline, run_id),
                         key=lambda t: (t["start_date"] or "~", t["map_index"])):
            map_index = ti["map_index"]
            map_key = None
            if map_index >= 0:
                # Mapped over regions() in order; unrendered when the instance never ran.
                map_key = ti.get("rendered_map_index") or (
                    regions()[map_index] if map_index < len(regions()) else str(map_index))
            attempts = []
            if ti["try_number"] > 0:
                for t in self.server.tries(pipeline, run_id, ti["task_id"], map_index):
                    attempts.append(self._attempt(pipeline, run_id, ti["task_id"], map_index, t))
            steps.append(StepView(ti["task_id"], STATES.get(ti["state"] or "", "unknown"),
                                  map_key, attempts))
        # An asset-triggered run has no logical date; a partition-driven one has the date as
        # its partition key.
        day = ((run.get("logical_date") or "")[:10] or (run.get("partition_key") or "")[:10]
               or self._asset_date(pipeline, run_id))
        return RunView(run_id, pipeline, day, RUN_STATES.get(run["state"], "unknown"),
                       _iso(run.get("start_date")), _iso(run.get("end_date")), steps,
                       url=f"{self.server.url}/dags/{pipeline}/runs/{_quote(run_id)}")

    def _asset_date(self, pipeline: str, run_id: str) -> str:
        """An asset-triggered run has no logical date: its data date rides on the event."""
        assert self.server is not None
        events = self.server.get(f"/api/v2/dags/{pipeline}/dagRuns/{_quote(run_id)}/"
                                 "upstreamAssetEvents")["asset_events"]
        dates = sorted(str(e["extra"]["date"]) for e in events
                       if (e.get("extra") or {}).get("date"))
        return dates[0] if dates else ""

    def _attempt(self, pipeline: str, run_id: str, task_id: str, map_index: int,
                 t: dict[str, Any]) -> AttemptView:
        assert self.server is not None
        try:
            log = self.server.log(pipeline, run_id, task_id, t["try_number"], map_index)
        except AirflowError as exc:
            log = f"(log not available: {exc})"
        state = t.get("state") or ""
        return AttemptView(attempt=t["try_number"], state=STATES.get(state, "unknown"),
                           start=_iso(t.get("start_date")), end=_iso(t.get("end_date")),
                           duration_s=t.get("duration"),
                           error=_error_from_log(log) if state in ("failed", "up_for_retry")
                           else None,
                           log_excerpt=log[-2000:] if log else None)


    # --- probes the harness merges into its observability matrix --------------------------

    def probes(self, mine: dict[str, Any]) -> list[dict[str, Any]]:
        """Airflow's statsd metrics against the ledger, the lake outputs' asset events and the
        quality gate's checks, each read from Airflow itself, with the evidence."""
        if self.server is None:
            self.start()
        happy = mine["happy"][-1]
        run_id = happy["run"]["run_id"]
        probes = []
        for name, probe in (("metrics_endpoint", lambda: self._probe_metrics(mine)),
                            ("lineage_events", lambda: self._probe_lineage(happy["date"], run_id)),
                            ("quality_results", lambda: self._probe_quality(happy["date"], run_id))):
            try:
                probes.append(probe())
            except (AirflowError, OSError, KeyError, ValueError) as exc:
                probes.append({"name": name, "passed": False,
                               "evidence": f"{type(exc).__name__}: {str(exc)[:400]}"})
        return probes

    def _probe_metrics(self, mine: dict[str, Any]) -> dict[str, Any]:
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
        return {"name": "metrics_endpoint",
                "passed": done_truth > 0 and done == done_truth and failed_truth > 0
                and failed == failed_truth,
                "evidence": f"statsd (AIRFLOW__METRICS__STATSD_ON, 127.0.0.1:{self.metrics.port}"
                            f" UDP, {self.metrics.lines} lines since {self.metrics_since}): "
                            f"ti.finish{{dag_id={pipeline},task_id=notify,state=success}}={done:g}"
                            f" vs {done_truth} successful notify attempts in the ledger; "
                            f"ti_failures{{task_id={failing}}}={failed:g} vs {failed_truth} "
                            f"failed {failing} attempts; dagrun.duration.success "
                            f"{runs_ok} runs, .failed {runs_failed} runs"}

    def _probe_lineage(self, day: str, run_id: str) -> dict[str, Any]:
        assert self.server is not None
        path = "/api/v2/assets/events"
        params = {"source_dag_id": "customer_daily_etl", "source_run_id": run_id,
                  "limit": 100}
        events = self.server.get(path, **params)["asset_events"]
        # Each lake output the run wrote, keyed by the data date it was written for.
        seen = {(e.get("name"), e.get("partition_key"), (e.get("extra") or {}).get("date"))
                for e in events}
        wanted = {(name, day, day) for name in ("silver_customers",
                                                 "gold_customer_daily_summary")}
        excerpt = [{k: e.get(k) for k in ("name", "source_task_id", "partition_key", "extra",
                                           "timestamp")} for e in events][:2]
        return {"name": "lineage_events", "passed": wanted <= seen,
                "evidence": f"GET {path}?source_dag_id=customer_daily_etl&source_run_id="
                            f"{run_id} -> {len(events)} events, (asset, partition_key, "
                            f"extra.date) {sorted(map(str, seen))}; "
                            f"{json.dumps(excerpt, default=str)[:600]}"}

    def _probe_quality(self, day: str, run_id: str) -> dict[str, Any]:
        assert self.server is not None
        path = (f"/api/v2/dags/customer_daily_etl/dagRuns/{_quote(run_id)}/taskInstances/"
                "quality_gate/xcomEntries/quality_checks")
        entry = self.server.get(path, deserialize="true")
        value = entry.get("value")
        if isinstance(value, str):
            value = json.loads(value)
        truth = lake.read_json(lake.Partition(self.config.namespace_root(), "quality",
                                              SILVER_TABLE, day))
        names = [(c["name"], c["passed"]) for c in (value or {}).get("checks", [])]
        ok = bool(names) and value == truth
        return {"name": "quality_results", "passed": ok,
                "evidence": f"GET {path}?deserialize=true -> {json.dumps(names)}; equal to "
                            f"the gate's record in the lake: {value == truth}"}


def _quote(run_id: str) -> str:
    from urllib.parse import quote

    return quote(run_id, safe="")


def _iso(value: str | None) -> str | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()


def _error_from_log(log: str) -> str | None:
    """The failure line of a try's log: the core's ``... failed: <error>`` line, else the
    last error-level line."""
    lines = [line for line in log.splitlines() if line.strip()]
    for line in reversed(lines):
        if " failed: " in line and "attempt" in line:
            return line.split(" failed: ", 1)[1].strip()
    errors = [line for line in lines if " error " in line.lower()]
    return errors[-1] if errors else None

