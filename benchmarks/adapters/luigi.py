"""The Luigi adapter: luigid started by the Luigi implementation's service command
(``python -m workbench_luigi.service``, in its own environment), workers run in that
environment too.

``start()`` brings luigid up on 127.0.0.1 (a free port unless given; task history in SQLite,
Prometheus metrics) over the home ``<state_dir>/luigi``. A run is one Luigi worker invocation
(``luigi_impl/.venv/bin/python -m workbench_luigi run|backfill --scheduler-url ...``, i.e.
``luigi.build`` over the pipeline's last task or a ``RangeDaily``): Luigi's own way to run
tasks. What the adapter reports comes from Luigi itself: task states and last errors from
luigid's HTTP API, attempts and their times from luigid's own task-history store (SQLite,
read-only: luigid serves it only as HTML), counters from ``/metrics``, and per-attempt log
lines from the worker's log file (each attempt runs in its own process, so its lines carry
its pid; Luigi's own "running" line ties a pid to a task).

Luigi has no notion of a "run": the adapter records each worker invocation's summary (start,
end, status, log file) in ``<state_dir>/luigi/runs.jsonl`` and reads luigid's history within
that window. Luigi retries with one fixed ``retry_delay``: no exponential backoff, no maximum
delay, no jitter; the capabilities say so and the benchmark measures the real delays.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections import defaultdict
from datetime import date as Date
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from benchmarks.adapters.base import (Adapter, AttemptView, BackfillView, Capabilities, Probe,
                                      RunView, StepView, raised)
from benchmarks.adapters.luigi_api import HistoryTask, LuigidClient
from benchmarks.adapters.service import ServiceCommand, impl_dir, impl_python
from pipelines_core.postgres import PostgresServer
from pipelines_core.http import HttpError
from pipelines_core.procs import free_port, stop_group
from pipelines_core.runner import date_range
from pipelines_core.spec import get_pipeline

PIPELINE_ETL = "customer_daily_etl"
_RUNNING = re.compile(r"\[pid (\d+)\] Worker .* running\s+(\S+)\((.*)\)\s*$")
_SUSPENDED = re.compile(r"\[pid \d+\] Worker .* new requirements\s")
_FAILED = re.compile(r" attempt \S+ failed: (.*)$")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


class LuigiAdapter(Adapter):
    name = "luigi"
    mode = "central scheduler (luigid) with local worker processes, one per task"
    namespace = "luigi"
    capabilities = Capabilities(
        exponential_backoff=False, max_retry_delay=False, retry_jitter=False,
        attempt_timeout=True, attempt_number_in_task=False, native_backfill=True,
        metrics_endpoint=True,
        notes={
            "retries": "retry_count per task (spec retries + 1 attempts) and one fixed "
                       "[scheduler] retry_delay (the spec's base delay) for every task; no "
                       "exponential backoff, no max delay, no jitter",
            "retry_wait": "a failed task waits retry_delay, then the idle worker's next poll "
                          "(wait_interval 0.5 s + up to 0.2 s jitter) picks it up again",
            "gates": "retry_count 1: Luigi cannot retry by exception type",
            "attempt_timeout": "worker_timeout per task (the spec's timeout), enforced by "
                               "terminating the attempt's process",
            "attempt_number": "not exposed to tasks; a task numbers its attempt from the "
                              "ledger (this worker's failed attempts since the last success "
                              "+ 1)",
            "backfill": "RangeDaily over the pipeline's last task, --workers N bounds the "
                        "tasks running at once (not the dates)",
            "sensor": "an ExternalTask re-checked every retry_delay until "
                      "disable_hard_timeout; Luigi fires no FAILURE event for it, so a sensor "
                      "timeout sends no alert",
            "branch": "choose_report is a task like the others (ledger, faults, retries); "
                      "notify reads its recorded decision and yields the chosen report as a "
                      "dynamic dependency: the report not taken is never scheduled, so it does "
                      "not appear as a skipped step",
            "runs": "Luigi has no run object: a run is one worker invocation",
            "failure_memory": "luigid counts a task's failures over disable_window (1 h) "
                              "across runs and a success does not clear them: run again "
                              "within the hour, a task that needed its retries is disabled "
                              "at its first new failure (the adapter starts luigid with "
                              "--fresh-state)",
            "disabled": "luigid keeps a task that exhausted its retries DISABLED for a day; "
                        "the adapter re-enables the requested dates' disabled tasks before a "
                        "new run (the visualiser's re-enable button)",
        })

    def __init__(self, config, port: int | None = None) -> None:
        super().__init__(config)
        self.root = self.config.state_dir / "luigi"  # luigid's home: state, history, logs
        self.port = port or free_port()
        self.service = ServiceCommand("luigi", self.root, port=self.port, env=self._env(),
                                      options=["--fresh-state"])
        self.url: str | None = None
        self.history_db = self.root / "task-history.sqlite"
        self._runs_lock = threading.Lock()

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of luigid and of the workers: the configuration's ``WORKBENCH_*``
        variables, none of the caller's Luigi or virtualenv settings."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("WORKBENCH_", "VIRTUAL_ENV", "LUIGI_CONFIG_PATH"))}
        env.update(self.config.to_env())
        env.update(extra or {})
        env["PYTHONPATH"] = str(impl_dir("luigi"))
        return env

    # --- services -------------------------------------------------------------------------
    def start(self) -> None:
        """``up --fresh-state``: luigid on a clean scheduler state (the task history stays).
        luigid counts a task's failures over ``disable_window`` (an hour) across runs, keeps
        them through a restart in its state file, and a success does not clear them: a task
        that failed twice and then succeeded, run again within the hour, is disabled at its
        first new failure. Each benchmark gets a fresh retry budget, as on the other
        orchestrators. A luigid already running over the same home (``make ui``) is used as
        it is, wherever it listens."""
        running = self.service.component(self.service.status(), "luigid")
        if running["health"] != "down" and running["port"] != self.port:
            self.port = self.service.port = running["port"]
        status = self.service.up()
        self.url = status["url"]
        # the task history's store: a SQLite file, or (production profile) the luigi
        # database, whose URL the service shows with its password hidden
        self.history_db = (PostgresServer(self.config).url("luigi")
                           if status["info"].get("profile") == "production"
                           else Path(status["info"]["task_history"]))
        self.settings = {
            **status["info"]["settings"],
            "luigid --fresh-state": "scheduler state deleted before luigid starts"
            if running["health"] == "down" else "not applied: luigid was already running"}

    def stop(self) -> None:
        self.service.down()
        self.url = None

    @property
    def client(self) -> LuigidClient:
        if self.url is None:
            self.start()
        return LuigidClient(self.url, self.history_db)

    @property
    def metrics_url(self) -> str:
        return f"{self.client.url}/metrics"

    def read_metrics(self) -> dict[tuple[str, frozenset], float]:
        """luigid's Prometheus counters (started, failed, disabled, done per family and date)."""
        return self.client.metrics()

    def probes(self, mine: dict[str, Any]) -> list[Callable[[], Probe]]:
        """Luigi-specific probes: luigid's Prometheus counters vs the ledger, the quality
        gate's status message held by luigid, and no lineage store."""
        return [functools.partial(self.probe_metrics_endpoint, mine),
                self.probe_lineage_events, functools.partial(self.probe_quality_results, mine)]

    def probe_metrics_endpoint(self, mine: dict[str, Any]) -> Probe:
        happy_day = mine["happy"][-1]["date"]
        transient = mine.get("retries", {}).get("transient", {})
        metrics = self.read_metrics()

        def value(name: str, family: str, day: str) -> float | None:
            return metrics.get((name, frozenset({("family", family), ("date", day)})))

        done = value("luigi_task_done_total", f"{PIPELINE_ETL}.notify", happy_day)
        failed = value("luigi_task_failed_total", f"{PIPELINE_ETL}.{transient.get('step')}",
                       transient.get("date", ""))
        truth = transient.get("attempts_truth", 0) - 1
        return Probe("metrics_endpoint", bool(done and done >= 1) and failed == truth,
                     f"GET {self.metrics_url}: luigi_task_done_total{{notify, {happy_day}}}="
                     f"{done}; luigi_task_failed_total{{{transient.get('step')}, "
                     f"{transient.get('date')}}}={failed} vs {truth} failed attempts in the "
                     f"ledger")

    def probe_lineage_events(self) -> Probe:
        return Probe("lineage_events", None,
                     "Luigi keeps no lineage or asset events: a task's output() targets are "
                     "only checked for existence (complete()); luigid's API and task history "
                     "record task events (PENDING, RUNNING, DONE) and parameters, never the "
                     "targets written")

    def probe_quality_results(self, mine: dict[str, Any]) -> Probe:
        bad = (mine.get("backfill") or {}).get("bad_day") or {}
        return self.quality_results([mine["happy"][-1]["date"], *bad.get("dates", [])])

    def quality_messages(self, days: list[str]) -> dict[str, str | None]:
        """The quality gate's status message per date, as luigid holds it (it forgets a task
        ``remove_delay``, 10 minutes, after its last worker left)."""
        out: dict[str, str | None] = {}
        for day in days:
            found = self.client.task_list(search=f"{PIPELINE_ETL}.quality_gate(date={day})")
            for task_id in found:
                out[day] = self.client.rpc("get_task_status_message",
                                           task_id=task_id).get("statusMessage")
        return out

    def quality_results(self, days: list[str]) -> Probe:
        """The gate's checks, set by the task with ``set_status_message``, read back through
        ``/api/get_task_status_message``."""
        messages = self.quality_messages(days)
        shown = {d: m for d, m in messages.items() if m and m.startswith("quality ")}
        return Probe("quality_results", bool(shown),
                     f"GET {self.client.url}/api/get_task_status_message?data="
                     f'{{"task_id": "{PIPELINE_ETL}.quality_gate_<date>_..."}} for '
                     f"{days}: " + ("; ".join(f"{d}: {m[:220]}" for d, m in shown.items())
                                    or f"no status message held: {messages}"))

    # --- running --------------------------------------------------------------------------
    def re_enable(self, pipeline: str, days: list[str]) -> list[str]:
        """Re-enable the tasks of ``days`` that luigid disabled after their last failure.

        luigid keeps a task that exhausted ``retry_count`` DISABLED for ``disable_persist``
        (a day); a new run of that date after a fix needs it re-enabled first, which is what
        an operator does with the visualiser's button (``/api/re_enable_task``).
        """
        done = []
        for task_id, task in self.client.task_list(status="DISABLED", search=pipeline).items():
            if task.get("params", {}).get("date") in days:
                self.client.rpc("re_enable_task", task_id=task_id)
                done.append(task_id)
        return done

    def _worker(self, args: list[str], env: dict[str, str] | None, timeout_s: float,
                pipeline: str, days: list[str]) -> dict:
        """One Luigi worker invocation against luigid; its JSON summary. The worker and the
        attempt processes it forks are one process group: a timeout stops them all."""
        url = self.client.url
        re_enabled = self.re_enable(pipeline, days)
        t0 = time.time()
        proc = subprocess.Popen(
            [str(impl_python("luigi")), "-m", "workbench_luigi", *args, "--scheduler-url", url],
            cwd=impl_dir("luigi"), env=self._env(env), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout_s)
            lines = [ln for ln in out.splitlines() if ln.startswith("{")]
            summary = json.loads(lines[-1]) if lines else {
                "status": "CRASHED", "ok": False, "start": t0, "end": time.time(),
                "log": None, "error": err[-2000:]}
        except subprocess.TimeoutExpired:
            stop_group(proc.pid)
            proc.communicate()
            summary = {"status": "TIMEOUT", "ok": False, "start": t0, "end": time.time(),
                       "log": None}
        summary.update(args=args, re_enabled=re_enabled)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._runs_lock, (self.root / "runs.jsonl").open("a") as fh:  # runs at once
            fh.write(json.dumps(summary, default=str) + "\n")
        return summary

    def run_date(self, pipeline, day, *, env=None, timeout_s=900):
        self.refuse_out_of_range(pipeline, day)
        summary = self._worker(["run", "--pipeline", pipeline, "--date", day.isoformat()],
                               env, timeout_s, pipeline, [day.isoformat()])
        return self._view(pipeline, day.isoformat(), summary)

    def backfill(self, pipeline, start, end, *, parallelism=2, env=None, timeout_s=1800):
        self.refuse_out_of_range(pipeline, start, end)
        days = [d.isoformat() for d in date_range(start, end)]
        summary = self._worker(["backfill", "--pipeline", pipeline, "--start", start.isoformat(),
                                "--end", end.isoformat(), "--workers", str(parallelism)],
                               env, timeout_s, pipeline, days)
        return BackfillView(pipeline, days, parallelism, summary["end"] - summary["start"],
                            [self._view(pipeline, d, summary) for d in days],
                            mechanism=f"RangeDaily (luigi.tools.range) --workers {parallelism}")

    def forget(self, pipeline, days):
        """The steps' JSON results of ``days`` (``workbench_luigi.base.results_root``): with
        them a task whose lake outputs are gone, or that writes none, is still complete."""
        for folder in ("_luigi", "_luigi_noop"):
            base = self.config.namespace_root() / "reports" / folder / pipeline
            for day in days:
                for found in base.glob(f"*/date={day.isoformat()}"):
                    shutil.rmtree(found, ignore_errors=True)

    # --- reading back ---------------------------------------------------------------------
    def read_runs(self, pipeline, day=None):
        path = self.root / "runs.jsonl"
        summaries = [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []
        views = []
        for s in summaries:
            args = s.get("args", [])
            if "--pipeline" not in args or args[args.index("--pipeline") + 1] != pipeline:
                continue
            if args[0] == "run":
                days = [args[args.index("--date") + 1]]
            else:
                days = [d.isoformat() for d in date_range(Date.fromisoformat(args[args.index("--start") + 1]),
                                                          Date.fromisoformat(args[args.index("--end") + 1]))]
            for d in days:
                if day is None or d == day.isoformat():
                    views.append(self._view(pipeline, d, s))
        return views

    def _view(self, pipeline: str, day: str, summary: dict[str, Any]) -> RunView:
        since = datetime.fromtimestamp(summary["start"] - 1, timezone.utc)
        until = datetime.fromtimestamp(summary["end"] + 1, timezone.utc)
        tasks = self.client.history(f"{pipeline}.", date=day)
        live = self._live_states(pipeline, day)
        logs = _attempt_logs(summary.get("log"))
        steps = []
        for task in tasks:
            steps.append(self._step(task, since, until, live.get(task.task_id), logs))
        order = {name: n for n, name in enumerate(get_pipeline(pipeline).step_names)}
        steps = sorted((s for s in steps if s is not None),
                       key=lambda s: (order.get(s.step, 99), s.map_key or ""))
        error = None
        if summary.get("status") == "SKIPPED":
            # Luigi judged the date done from its outputs and ran nothing: not a success
            # (no step ran), said as Luigi says it, with the command that forces it
            state, error = "skipped", (f"skipped: {summary.get('skipped')}; to recompute: "
                                       f"{summary.get('force')}")
        elif any(s.state in ("failed", "upstream_failed") for s in steps):
            state = "failed"
        elif steps and all(s.state in ("success", "skipped") for s in steps):
            state = "success"  # every task of the date ran or was found complete
        elif summary.get("ok"):
            state = "success"
        elif summary.get("status") in ("CRASHED", "TIMEOUT", "FAILED",
                                       "FAILED_AND_SCHEDULING_FAILED", "SCHEDULING_FAILED",
                                       "MISSING_EXT", "NOT_RUN"):
            state = "failed"
        else:
            state = "unknown"
        return RunView(f"luigi-{pipeline}-{day}-{int(summary['start'])}", pipeline, day, state,
                       _iso(summary["start"]), _iso(summary["end"]), steps,
                       url=f"{self.client.url}/static/visualiser/index.html", error=error)

    def _live_states(self, pipeline: str, day: str) -> dict[str, str]:
        """Task states luigid still holds (it forgets tasks ``remove_delay`` after a run)."""
        try:
            tasks = self.client.task_list(search=pipeline)
            blocked = self.client.task_list(status="PENDING", upstream_status="UPSTREAM_DISABLED",
                                            search=pipeline)
        except HttpError:
            return {}
        states = {tid: t["status"] for tid, t in tasks.items()
                  if t.get("params", {}).get("date") == day}
        states.update({tid: "UPSTREAM_DISABLED" for tid, t in blocked.items()
                       if t.get("params", {}).get("date") == day})
        return states

    def _step(self, task: HistoryTask, since: datetime, until: datetime, live: str | None,
              logs: dict[str, list[tuple[int, list[str]]]]) -> StepView | None:
        events = [(n, ts) for n, ts in task.events if since <= ts <= until]
        if not events:
            return None
        task_logs = logs.get(_pretty(task), [])
        passes = [(a, task_logs[n][1] if n < len(task_logs) else [])
                  for n, a in enumerate(task.attempts(since=since)) if a.start <= until]
        # A pass that yielded dynamic dependencies (notify asking for the report the branch
        # chose) went back to PENDING and is run again from the start: not an attempt.
        attempts = [(a, lines) for a, lines in passes if not any(map(_SUSPENDED.search, lines))]
        views = []
        for n, (a, lines) in enumerate(attempts, start=1):
            error = None
            if a.state == "failed":
                error = raised(lines) or next(
                    (m.group(1) for m in map(_FAILED.search, lines) if m), None)
            views.append(AttemptView(n, a.state, a.start.isoformat(),
                                     a.end.isoformat() if a.end else None, a.duration_s,
                                     error, "\n".join(lines[-40:]) or None))
        if attempts:
            state = attempts[-1][0].state
        elif any(n == "DONE" for n, _ in events):
            state = "skipped"  # found complete: not run again
        elif live in ("UPSTREAM_DISABLED", "PENDING"):
            state = "upstream_failed"
        else:
            state = "unknown"
        if live == "DISABLED":
            state = "failed"
            if views and views[-1].error is None:
                # luigid keeps the last error a worker reported (a traceback)
                tail = self.client.fetch_error(task.task_id).strip().splitlines()
                views[-1].error = tail[-1] if tail else None
        return StepView(task.step, state, task.params.get("region"), views)


def _pretty(task: HistoryTask) -> str:
    params = ", ".join(f"{k}={v}" for k, v in sorted(task.params.items(),
                                                      key=lambda kv: (kv[0] != "date", kv[0])))
    return f"{task.family}({params})"


def _attempt_logs(log_file: str | None) -> dict[str, list[tuple[int, list[str]]]]:
    """``{task display name: [(pid, lines of that attempt's process)]}`` from a worker log."""
    if not log_file or not Path(log_file).exists():
        return {}
    lines = Path(log_file).read_text(errors="replace").splitlines()
    by_pid: dict[int, list[str]] = defaultdict(list)
    order: list[tuple[str, int]] = []
    pid = None
    for ln in lines:
        parts = ln.split(" ", 3)
        if len(parts) > 2 and parts[2].isdigit():
            pid = int(parts[2])
        if pid is not None:  # a traceback's lines follow the record that logged it
            by_pid[pid].append(ln)
        match = _RUNNING.search(ln)
        if match:
            order.append((f"{match.group(2)}({match.group(3)})", int(match.group(1))))
    out: dict[str, list[tuple[int, list[str]]]] = defaultdict(list)
    for name, pid in order:
        out[name].append((pid, by_pid.get(pid, [])))
    return out
