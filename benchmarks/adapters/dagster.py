"""The Dagster adapter: runs and backfills through a real webserver + daemon on 127.0.0.1.

The services run from ``dagster_impl/.venv`` over a workbench-owned ``DAGSTER_HOME``
(``<state_dir>/dagster/home``, SQLite), so every run and backfill shows in the UI. Runs are
launched with ``launchRun``, backfills with ``launchPartitionBackfill`` (the daemon submits
one run per date to the queue, bounded by a ``dagster/backfill`` tag limit); records are read back
from the webserver's GraphQL API: run states, step events, attempts, retry waits, durations
and the core's log lines captured into Dagster's event log.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from datetime import date as Date, datetime, timezone
from types import ModuleType

from benchmarks.adapters.base import (Adapter, AttemptView, BackfillView, Capabilities,
                                      RunView, StepView)
from pipelines_core.config import PROJECT_ROOT
from pipelines_core.runner import date_range
from pipelines_core.spec import get_pipeline
from pipelines_core.verify import outputs_present

IMPL = PROJECT_ROOT / "dagster_impl"
RUN_STATES = {"SUCCESS": "success", "FAILURE": "failed", "CANCELED": "failed",
              "STARTED": "running", "STARTING": "running", "CANCELING": "running",
              "QUEUED": "queued", "NOT_STARTED": "queued", "MANAGED": "unknown"}


def _load(name: str) -> ModuleType:
    """A stdlib-only module of the Dagster implementation, loaded without Dagster installed."""
    full = f"workbench_dagster_{name}"
    if full not in sys.modules:
        spec = importlib.util.spec_from_file_location(full, IMPL / "workbench_dagster" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
    return sys.modules[full]


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat() if ts else None


class DagsterAdapter(Adapter):
    name = "dagster"
    namespace = "dagster"
    capabilities = Capabilities(
        exponential_backoff=True, max_retry_delay=False, retry_jitter=True,
        attempt_timeout=False, attempt_number_in_task=True, native_backfill=True,
        metrics_endpoint=False,
        notes={"backoff": "Backoff.EXPONENTIAL waits (2**n - 1) * delay: factor fixed at 2, "
                          "no cap",
               "jitter": "Jitter.FULL / PLUS_MINUS exist; the spec declares none, so unused",
               "attempt_timeout": "none per attempt; run-level dagster/max_runtime enforced "
                                  "by run monitoring in the daemon",
               "backfill": "launchPartitionBackfill; the daemon submits one run per date to "
                           "the QueuedRunCoordinator, whose dagster/backfill tag concurrency "
                           "limit is the parallelism; "
                           "only partitions that failed, never ran or whose outputs are gone "
                           "from the lake are launched (Dagster does not skip a partition "
                           "by itself)",
               "executor": "multiprocess (one process per step) by default; in_process "
                           "selectable per adapter"})

    def __init__(self, config, *, in_process: bool | None = None, max_concurrent_runs: int = 4,
                 backfill_runs: int = 2, automation: bool = False) -> None:
        """``max_concurrent_runs``: the run queue's bound (the benchmark's four fault runs go
        together); ``backfill_runs``: backfill runs at once, across all backfills."""
        super().__init__(config)
        if in_process is None:  # the benchmark's choice: Dagster's default multiprocess executor
            in_process = os.environ.get("WORKBENCH_DAGSTER_EXECUTOR", "") == "in_process"
        self.in_process = in_process
        self.max_concurrent_runs = max_concurrent_runs
        self.backfill_runs = backfill_runs
        self.automation = automation
        self.services = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self.services is not None:
            return
        services = _load("services")
        self.services = services.DagsterServices(
            self.config, self.config.state_dir / "dagster" / "home",
            max_concurrent_runs=self.max_concurrent_runs, backfill_runs=self.backfill_runs,
            automation=self.automation)
        self.services.start()

    def stop(self) -> None:
        if self.services is not None:
            self.services.stop()
            self.services = None

    def _run_config(self, env: dict[str, str] | None) -> dict:
        services = _load("services")
        config = services.in_process(self.in_process)
        if env:
            config["resources"] = {"workbench": {"config": {"env": dict(env)}}}
        return config

    # --- runs ----------------------------------------------------------------------------------

    def run_date(self, pipeline, day, *, env=None, timeout_s=900):
        self.start()
        run_id = self.services.launch_run(pipeline, day.isoformat(), self._run_config(env))
        try:
            run = self.services.wait_run(run_id, timeout_s)
        except TimeoutError:  # the harness's bound: end the run the Dagster way
            self.services.terminate(run_id)
            run = self.services.wait_run(run_id, 120)
        if run["status"] == "FAILURE":
            self.wait_failure_sensor([run_id])
        return self._view(pipeline, run)

    def wait_failure_sensor(self, run_ids: list[str], timeout_s: float = 180) -> list[str]:
        """Wait until the daemon's ``alert_on_run_failure`` sensor has acted on each failed
        run (Dagster records an engine event on the run when it does); the alert reaches the
        sink on the sensor's next tick, after the run has ended. Returns the runs it has not
        acted on within ``timeout_s``."""
        pending = set(run_ids)
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            for run_id in sorted(pending):
                if any("acted on run status FAILURE" in (ev["message"] or "")
                       for ev in self.services.events(run_id) if not ev["step_key"]):
                    pending.discard(run_id)
            if pending:
                time.sleep(2)
        return sorted(pending)

    def backfill(self, pipeline, start, end, *, parallelism=2, env=None, timeout_s=1800):
        if parallelism != self.backfill_runs:  # the queue's bounds are instance config
            self.stop()
            self.backfill_runs = parallelism
            self.max_concurrent_runs = max(self.max_concurrent_runs, parallelism)
        self.start()
        days = [d.isoformat() for d in date_range(start, end)]
        t0 = time.time()
        selected = self.to_launch(pipeline, days)
        mechanism = (f"dagster launchPartitionBackfill (daemon, dagster/backfill tag "
                     f"limit {parallelism}); failed, missing and emptied "
                     f"partitions only")
        if not selected:  # nothing to do: the launch dialog would offer no partition
            return BackfillView(pipeline, days, parallelism, time.time() - t0, [],
                                mechanism=mechanism + ": none, no backfill launched")
        title = f"{pipeline} {days[0]}..{days[-1]}" + (
            "" if selected == days else f": {len(selected)} failed, missing or emptied")
        backfill_id = self.services.launch_backfill(pipeline, selected, self._run_config(env),
                                                    title=title)
        runs = self.services.wait_runs({"dagster/backfill": backfill_id}, len(selected),
                                       timeout_s)
        wall = time.time() - t0
        self.wait_failure_sensor([r["runId"] for r in runs if r["status"] == "FAILURE"])
        views = sorted((self._view(pipeline, r) for r in runs), key=lambda v: v.date)
        if selected != days:
            mechanism += f": {selected}"
        return BackfillView(pipeline, days, parallelism, wall, views, mechanism=mechanism)

    def to_launch(self, pipeline: str, days: list[str]) -> list[str]:
        """The partitions of ``days`` a backfill launches: those whose latest run did not
        succeed or that never ran (the launch dialog's "failed and missing" filter), and
        those whose outputs are gone from the lake.

        Dagster judges a partition by its runs, not by the data: a partition whose files were
        deleted since its run still shows as done. A partition is re-run whole (not from the
        failed step: re-executing only the failed gate check would re-read the silver
        partition of a bad export, and a fixed export needs ingest_cdc to run again).
        """
        statuses = self.services.partition_statuses(pipeline)
        return [d for d in days if statuses.get(d) != "SUCCESS"
                or not outputs_present(self.config, pipeline, Date.fromisoformat(d))]

    # --- probes ----------------------------------------------------------------------------------

    def probes(self, mine: dict) -> list[dict]:
        """Dagster-specific probes: no metrics endpoint, asset materialisations of the happy
        run, the quality gate's asset check evaluations."""
        happy = mine["happy"][-1]
        bad = ((mine.get("backfill") or {}).get("bad_day") or {}).get("bad_date")
        return [{"name": "metrics_endpoint", "passed": None,
                 "evidence": "open-source Dagster serves no metrics endpoint: the webserver's "
                             "routes are the UI, /graphql, /server_info and the report_asset_* "
                             "endpoints; run and step counts are read through GraphQL"},
                self.lineage_probe(happy),
                self.quality_probe(happy["date"], bad)]

    def lineage_probe(self, happy: dict) -> dict:
        """Every asset step of the happy run recorded a materialisation of its date."""
        self.start()
        run_id = happy["run"]["run_id"]
        mats = self.services.materializations(run_id)
        wanted = {a["step"] for a in happy["ledger"]
                  if a["status"] == "success" and a["step"] != "quality_gate"}
        seen = {m["asset"].rpartition("/")[2] for m in mats if m["partition"] == happy["date"]}
        lines = [f"{m['asset']}[{m['partition']}] {' '.join(m['paths'])}" for m in mats]
        return {"name": "lineage_events", "passed": bool(wanted) and wanted <= seen,
                "evidence": f"POST {self.services.url}/graphql runOrError(runId: {run_id}) "
                            f"{{assetMaterializations}}: {len(mats)} materialisations; "
                            f"missing {sorted(wanted - seen)}; " + "; ".join(lines)[:600]}

    def quality_probe(self, day: str, bad: str | None) -> dict:
        """The blocking check's evaluations: passed on the happy date, failed on the bad day."""
        self.start()
        asset = ["customer_daily_etl", "ingest_cdc"]
        ok = self.services.check_executions(asset, "quality_gate", day, limit=3)
        failed = self.services.check_executions(asset, "quality_gate", bad, limit=10) if bad else []
        passed = bool(ok) and ok[0]["passed"] is True and (
            bad is None or any(e["passed"] is False for e in failed))
        def show(execs):
            return [(e["partition"], e["status"], e["passed"], (e["description"] or "")[:120],
                     e["metadata"][:6]) for e in execs[:3]]
        return {"name": "quality_results", "passed": passed,
                "evidence": f"POST {self.services.url}/graphql assetCheckExecutions("
                            f"assetKey: customer_daily_etl/ingest_cdc, checkName: quality_gate, "
                            f"partition: {day}) -> {show(ok)}; partition {bad} -> {show(failed)}"}

    def read_runs(self, pipeline, day=None):
        self.start()
        tags = {"dagster/partition": day.isoformat()} if day else None
        runs = self.services.runs(job=pipeline, tags=tags)
        return [self._view(pipeline, r) for r in reversed(runs)]

    def _view(self, pipeline: str, run: dict) -> RunView:
        stepnames = _load("stepnames")
        spec = get_pipeline(pipeline)
        steps: dict[tuple[str, str | None], StepView] = {}
        open_attempt: dict[str, AttemptView] = {}
        logs: dict[int, list[str]] = {}

        def close(key: str, state: str, t: float, error: str | None = None) -> None:
            att = open_attempt.pop(key, None)
            if att is None:
                return
            att.state, att.end, att.error = state, _iso(t), error or att.error
            att.duration_s = t - datetime.fromisoformat(att.start).timestamp()
            att.log_excerpt = "\n".join(logs.get(id(att), [])[-20:]) or att.error

        for ev in self.services.events(run["runId"]):
            key = ev["step_key"]
            if not key:
                continue
            name, map_key, aux = stepnames.parse_step_key(key)
            if aux:
                continue
            view = steps.setdefault((name, map_key), StepView(name, "unknown", map_key))
            kind = ev["type"]
            if kind in ("ExecutionStepStartEvent", "ExecutionStepRestartEvent"):
                att = AttemptView(len(view.attempts) + 1, "running", _iso(ev["time"]))
                view.attempts.append(att)
                open_attempt[key] = att
                view.state = "running"
            elif kind == "ExecutionStepUpForRetryEvent":
                close(key, "failed", ev["time"], ev["error"])
                view.state = "failed"
            elif kind == "ExecutionStepSuccessEvent":
                failed_check = view.attempts and view.attempts[-1].error
                close(key, "failed" if failed_check else "success", ev["time"])
                view.state = "failed" if failed_check else "success"
            elif kind == "ExecutionStepFailureEvent":
                close(key, "failed", ev["time"], ev["error"])
                view.state = "failed"
            elif kind == "ExecutionStepSkippedEvent":
                view.state = "skipped"
            elif kind == "AssetCheckEvaluationEvent" and not ev["check"]["success"]:
                if key in open_attempt:
                    open_attempt[key].error = ev["check"]["description"] or "check failed"
            elif kind == "LogMessageEvent" and key in open_attempt:
                logs.setdefault(id(open_attempt[key]), []).append(ev["message"] or "")
        state = RUN_STATES.get(run["status"], "unknown")
        present = {n for n, _ in steps}
        for step in spec.steps:
            if step.name not in present:
                steps[(step.name, None)] = StepView(
                    step.name, "upstream_failed" if state == "failed" else "skipped")
        order = {s.name: i for i, s in enumerate(spec.steps)}
        return RunView(
            run["runId"], pipeline, run["tags"].get("dagster/partition", ""), state,
            _iso(run.get("startTime")), _iso(run.get("endTime")),
            sorted(steps.values(), key=lambda s: (order.get(s.step, 99), s.map_key or "")),
            url=f"{self.services.url}/runs/{run['runId']}")


def fault_env(plan: dict) -> dict[str, str]:
    """The ``env`` a fault plan needs for ``run_date``/``backfill``."""
    return {"WORKBENCH_FAULTS": json.dumps(plan)}
