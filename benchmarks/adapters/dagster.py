"""The Dagster adapter: runs and backfills through Dagster's code server, webserver and daemon
on 127.0.0.1, started by ``python -m workbench_dagster.service`` over a workbench-owned
``DAGSTER_HOME`` (``<state_dir>/dagster/home``, SQLite), so every run and backfill shows in
the UI.

Runs are launched with ``launchRun``, backfills with ``launchPartitionBackfill`` (the daemon
submits one run per date to the queue, bounded by a ``dagster/backfill`` tag limit); records
are read back from the webserver's GraphQL API: run states, step events, attempts, retry
waits, durations and the core's log lines captured into Dagster's event log. The executors'
run configs and the step names behind Dagster's step keys come from the service's status.
"""

from __future__ import annotations

import copy
import os
import re
import time
from datetime import date as Date, datetime, timezone
from typing import Any, Callable

from benchmarks.adapters.base import (Adapter, AttemptView, BackfillView, Capabilities, Probe,
                                      RunView, StepView)
from benchmarks.adapters.service import ServiceCommand
from pipelines_core.http import HttpClient
from pipelines_core.procs import free_port, poll_until
from pipelines_core.runner import date_range
from pipelines_core.spec import get_pipeline
from pipelines_core.verify import outputs_present

RUN_STATES = {"SUCCESS": "success", "FAILURE": "failed", "CANCELED": "failed",
              "STARTED": "running", "STARTING": "running", "CANCELING": "running",
              "QUEUED": "queued", "NOT_STARTED": "queued", "MANAGED": "unknown"}
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
RUN = "runId jobName status startTime endTime tags { key value }"
EVENTS = """query($id: ID!, $c: String) { logsForRun(runId: $id, afterCursor: $c) {
  __typename ... on EventConnection { cursor hasMore events { __typename
    ... on MessageEvent { message timestamp level stepKey }
    ... on ExecutionStepFailureEvent { error { message cause { message cause { message } } } }
    ... on ExecutionStepUpForRetryEvent { secondsToWait
        error { message cause { message cause { message } } } }
    ... on AssetCheckEvaluationEvent { evaluation { checkName success description } } } } } }"""


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat() if ts else None


def _error(info: dict | None) -> str | None:
    """The innermost cause's message (the step's own exception), without the module path:
    ``pipelines_core.errors.InjectedFault: ...`` as the ledger writes it,
    ``InjectedFault: ...``."""
    if not info:
        return None
    while info.get("cause"):
        info = info["cause"]
    return re.sub(r"^(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*): ", r"\1: ",
                  (info.get("message") or "").strip())


def _run(raw: dict[str, Any]) -> dict[str, Any]:
    return {**raw, "tags": {t["key"]: t["value"] for t in raw["tags"]}}


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
                                  "by run monitoring in the daemon, which is on only with "
                                  "the services' --detection tuned (off by Dagster's "
                                  "default)",
               "backfill": "launchPartitionBackfill; the daemon submits one run per date to "
                           "the QueuedRunCoordinator, whose dagster/backfill tag concurrency "
                           "limit is the parallelism; "
                           "only partitions that failed, never ran or whose outputs are gone "
                           "from the lake are launched (Dagster does not skip a partition "
                           "by itself)",
               "executor": "multiprocess (one process per step) by default; in_process "
                           "selectable per adapter"})

    def __init__(self, config, *, port: int | None = None, in_process: bool | None = None,
                 max_concurrent_runs: int = 4, backfill_runs: int = 2,
                 automation: bool = False) -> None:
        """``port``: the webserver's (a free one when None); ``max_concurrent_runs``: the run
        queue's bound (the benchmark's four fault runs go together); ``backfill_runs``:
        backfill runs at once, across all backfills; ``automation``: whether the daemon
        starts the ML runs that fresh silver customers call for."""
        super().__init__(config)
        if in_process is None:  # the benchmark's choice: Dagster's default multiprocess executor
            in_process = os.environ.get("WORKBENCH_DAGSTER_EXECUTOR", "") == "in_process"
        self.in_process = in_process
        self.mode = ("in_process executor (every step in the run process)" if in_process
                     else "multiprocess executor (a process per step), default run launcher")
        self.max_concurrent_runs = max_concurrent_runs
        self.backfill_runs = backfill_runs
        self.automation = automation
        self.service = ServiceCommand(
            "dagster", self.config.state_dir / "dagster" / "home", port=port or free_port(),
            env={**os.environ, **self.config.to_env()}, options=self._options())
        self.info: dict[str, Any] = {}
        self.url = ""

    def _options(self) -> list[str]:
        return ["--code-server-port", str(free_port()),
                "--max-concurrent-runs", str(self.max_concurrent_runs),
                "--backfill-runs", str(self.backfill_runs),
                "--automation" if self.automation else "--no-automation"]

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self.info:
            return
        status = self.service.up()
        self.info, self.url = status["info"], status["url"]
        self.api = HttpClient(self.url, timeout_s=60)
        self.settings = {key: str(value) for key, value in self.info["settings"].items()}
        self.settings["executor"] = ("in_process" if self.in_process else
                                     "multiprocess, forkserver start method, preload_modules "
                                     "from the service's run config")

    def stop(self) -> None:
        self.service.down()
        self.info = {}

    def run_config(self, env: dict[str, str] | None) -> dict[str, Any]:
        """The executor's run config as the service gives it, with ``env`` (a fault plan) for
        the steps through the workbench resource."""
        config = copy.deepcopy(self.info["run_config"][
            "in_process" if self.in_process else "multiprocess"])
        if env:
            config["resources"] = {"workbench": {"config": {"run_env": dict(env)}}}
        return config

    # --- GraphQL -------------------------------------------------------------------------------

    def graphql(self, query: str, variables: dict[str, Any] | None = None, *,
                read_only: bool = True) -> dict[str, Any]:
        answer = self.api.post("/graphql", {"query": query, "variables": variables or {}},
                               idempotent=read_only)
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def _repository(self) -> dict[str, str]:
        return {"repositoryLocationName": self.info["code_location"],
                "repositoryName": self.info["repository"]}

    def launch_run(self, job: str, partition: str, run_config: dict) -> str:
        result = self.graphql("""
            mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
              ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
              ... on RunConfigValidationInvalid { errors { message } } } }""",
            {"p": {"selector": {**self._repository(), "jobName": job},
                   "runConfigData": run_config,
                   "executionMetadata": {"tags": [{"key": "dagster/partition",
                                                   "value": partition}]}}},
            read_only=False)["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launchRun failed: {result}")
        return result["run"]["runId"]

    def launch_backfill(self, job: str, partitions: list[str], run_config: dict,
                        title: str) -> str:
        """A backfill of ``job`` over ``partitions``, submitted by the daemon's backfill loop
        and bounded by the run queue's ``dagster/backfill`` tag limit."""
        result = self.graphql("""
            mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
              __typename ... on LaunchBackfillSuccess { backfillId }
              ... on PythonError { message } ... on PartitionSetNotFoundError { message } } }""",
            {"p": {"selector": {"partitionSetName": f"{job}_partition_set",
                                "repositorySelector": self._repository()},
                   "partitionNames": partitions, "runConfigData": run_config,
                   "title": title}}, read_only=False)["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"launchPartitionBackfill failed: {result}")
        return result["backfillId"]

    def partition_statuses(self, job: str) -> dict[str, str | None]:
        """The status of the latest run of every partition of ``job`` (what the UI's partitions
        view and its "failed and missing" backfill filter show)."""
        statuses = self.graphql("""
            query($r: RepositorySelector!, $n: String) {
              partitionSetOrError(repositorySelector: $r, partitionSetName: $n) { __typename
                ... on PartitionSet { partitionStatusesOrError { __typename
                  ... on PartitionStatuses { results { partitionName runStatus } }
                  ... on PythonError { message } } } } }""",
            {"r": self._repository(), "n": f"{job}_partition_set"})[
            "partitionSetOrError"]["partitionStatusesOrError"]
        if statuses["__typename"] != "PartitionStatuses":
            raise RuntimeError(f"partition statuses of {job}: {statuses}")
        return {r["partitionName"]: r["runStatus"] for r in statuses["results"]}

    def runs(self, job: str | None = None, tags: dict[str, str] | None = None,
             limit: int = 200) -> list[dict[str, Any]]:
        """Runs, newest first: id, status, start/end (epoch s), tags."""
        flt: dict[str, Any] = {"pipelineName": job} if job else {}
        if tags:
            flt["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        data = self.graphql("query($f: RunsFilter, $n: Int) { runsOrError(filter: $f, limit: $n) "
                            f"{{ __typename ... on Runs {{ results {{ {RUN} }} }} }} }}",
                            {"f": flt, "n": limit})
        return [_run(r) for r in data["runsOrError"]["results"]]

    def run(self, run_id: str) -> dict[str, Any]:
        return _run(self.graphql("query($id: ID!) { runOrError(runId: $id) { __typename "
                                 f"... on Run {{ {RUN} }} }} }}", {"id": run_id})["runOrError"])

    def wait_run(self, run_id: str, timeout_s: float) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            run = self.run(run_id)
            return run if run["status"] in TERMINAL else None
        return poll_until(finished, timeout_s=timeout_s, interval_s=0.5,
                          what=f"dagster run {run_id} finished")

    def wait_runs(self, tags: dict[str, str], count: int, timeout_s: float) -> list[dict]:
        """Wait until ``count`` runs carrying ``tags`` have all finished."""
        def finished() -> list[dict] | None:
            runs = self.runs(tags=tags)
            done = len(runs) >= count and all(r["status"] in TERMINAL for r in runs)
            return runs if done else None
        return poll_until(finished, timeout_s=timeout_s, interval_s=1,
                          what=f"{count} dagster runs tagged {tags} finished")

    def terminate(self, run_id: str) -> str:
        """Ask Dagster to terminate a run (its run worker gets SIGTERM)."""
        return self.graphql("mutation($id: String!) { terminateRun(runId: $id) { __typename } }",
                            {"id": run_id}, read_only=False)["terminateRun"]["__typename"]

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """Every event of a run: type, step key, time (epoch s), message, error, retry wait."""
        out, cursor = [], None
        while True:
            conn = self.graphql(EVENTS, {"id": run_id, "c": cursor})["logsForRun"]
            out += [{"type": ev["__typename"], "step_key": ev.get("stepKey"),
                     "time": int(ev["timestamp"]) / 1000.0, "message": ev.get("message"),
                     "error": _error(ev.get("error")), "check": ev.get("evaluation")}
                    for ev in conn["events"]]
            cursor = conn["cursor"]
            if not conn["hasMore"]:
                return out

    def materializations(self, run_id: str) -> list[dict[str, Any]]:
        """The asset materialisations a run recorded: asset key, partition, step, the path
        entries of its metadata (the lake partition, and the IO manager's pickle)."""
        data = self.graphql("""query($id: ID!) { runOrError(runId: $id) { __typename
            ... on Run { assetMaterializations { assetKey { path } partition stepKey
              metadataEntries { label ... on PathMetadataEntry { path } } } } } }""",
                            {"id": run_id})
        return [{"asset": "/".join(m["assetKey"]["path"]), "partition": m["partition"],
                 "paths": [e["path"] for e in m["metadataEntries"] if e.get("path")]}
                for m in data["runOrError"].get("assetMaterializations") or []]

    def check_executions(self, asset: list[str], check: str, partition: str | None = None,
                         limit: int = 10) -> list[dict[str, Any]]:
        """Executions of an asset check (newest first): run, status, verdict, description."""
        data = self.graphql("""
            query($k: AssetKeyInput!, $c: String!, $p: String, $n: Int!) {
              assetCheckExecutions(assetKey: $k, checkName: $c, partition: $p, limit: $n) {
                runId status partition
                evaluation { success description metadataEntries { label } } } }""",
                            {"k": {"path": asset}, "c": check, "p": partition, "n": limit})
        return [{"run_id": e["runId"], "status": e["status"], "partition": e["partition"],
                 "passed": (e["evaluation"] or {}).get("success"),
                 "description": (e["evaluation"] or {}).get("description"),
                 "metadata": [m["label"] for m in (e["evaluation"] or {}).get(
                     "metadataEntries") or []]}
                for e in data["assetCheckExecutions"]]

    # --- runs ----------------------------------------------------------------------------------

    def run_date(self, pipeline, day, *, env=None, timeout_s=900):
        self.refuse_out_of_range(pipeline, day)
        self.start()
        run_id = self.launch_run(pipeline, day.isoformat(), self.run_config(env))
        try:
            run = self.wait_run(run_id, timeout_s)
        except TimeoutError:  # the harness's bound: end the run the Dagster way
            self.terminate(run_id)
            run = self.wait_run(run_id, 120)
        if run["status"] == "FAILURE":
            self.wait_failure_sensor([run_id])
        return self._view(pipeline, run)

    def wait_failure_sensor(self, run_ids: list[str], timeout_s: float = 180) -> list[str]:
        """Wait until the daemon's ``alert_on_run_failure`` sensor has acted on each failed
        run (Dagster records an engine event on the run when it does); the alert reaches the
        sink on the sensor's next tick, after the run has ended. Returns the runs it has not
        acted on within ``timeout_s``."""
        pending = set(run_ids)

        def acted() -> bool:
            for run_id in sorted(pending):
                if any("acted on run status FAILURE" in (ev["message"] or "")
                       for ev in self.events(run_id) if not ev["step_key"]):
                    pending.discard(run_id)
            return not pending
        try:
            poll_until(acted, timeout_s=timeout_s, interval_s=2,
                       what="alert_on_run_failure acted on the failed runs")
        except TimeoutError:
            pass
        return sorted(pending)

    def backfill(self, pipeline, start, end, *, parallelism=2, env=None, timeout_s=1800):
        self.refuse_out_of_range(pipeline, start, end)
        if parallelism != self.backfill_runs:  # the queue's bounds are instance config
            self.stop()
            self.backfill_runs = parallelism
            self.max_concurrent_runs = max(self.max_concurrent_runs, parallelism)
            self.service.options = self._options()
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
        backfill_id = self.launch_backfill(pipeline, selected, self.run_config(env), title)
        runs = self.wait_runs({"dagster/backfill": backfill_id}, len(selected), timeout_s)
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
        statuses = self.partition_statuses(pipeline)
        return [d for d in days if statuses.get(d) != "SUCCESS"
                or not outputs_present(self.config, pipeline, Date.fromisoformat(d))]

    # --- probes ----------------------------------------------------------------------------------

    def probes(self, mine: dict) -> list[Callable[[], Probe]]:
        """Dagster-specific probes: no metrics endpoint, asset materialisations of the happy
        run, the quality gate's asset check evaluations."""
        happy = mine["happy"][-1]
        bad = ((mine.get("backfill") or {}).get("bad_day") or {}).get("bad_date")
        return [self.metrics_probe, lambda: self.lineage_probe(happy),
                lambda: self.quality_probe(happy["date"], bad)]

    @staticmethod
    def metrics_probe() -> Probe:
        return Probe("metrics_endpoint", None,
                     "open-source Dagster serves no metrics endpoint: the webserver's routes "
                     "are the UI, /graphql, /server_info and the report_asset_* endpoints; "
                     "run and step counts are read through GraphQL")

    def lineage_probe(self, happy: dict) -> Probe:
        """Every asset step of the happy run recorded a materialisation of its date."""
        self.start()
        run_id = happy["run"]["run_id"]
        mats = self.materializations(run_id)
        wanted = {a["step"] for a in happy["ledger"]
                  if a["status"] == "success" and a["step"] != "quality_gate"}
        seen = {m["asset"].rpartition("/")[2] for m in mats if m["partition"] == happy["date"]}
        lines = [f"{m['asset']}[{m['partition']}] {' '.join(m['paths'])}" for m in mats]
        return Probe("lineage_events", bool(wanted) and wanted <= seen,
                     f"POST {self.url}/graphql runOrError(runId: {run_id}) "
                     f"{{assetMaterializations}}: {len(mats)} materialisations; "
                     f"missing {sorted(wanted - seen)}; " + "; ".join(lines)[:600])

    def quality_probe(self, day: str, bad: str | None) -> Probe:
        """The blocking check's evaluations: passed on the happy date, failed on the bad day."""
        self.start()
        asset = ["customer_daily_etl", "ingest_cdc"]
        ok = self.check_executions(asset, "quality_gate", day, limit=3)
        failed = self.check_executions(asset, "quality_gate", bad, limit=10) if bad else []
        passed = bool(ok) and ok[0]["passed"] is True and (
            bad is None or any(e["passed"] is False for e in failed))

        def show(execs):
            return [(e["partition"], e["status"], e["passed"], (e["description"] or "")[:120],
                     e["metadata"][:6]) for e in execs[:3]]
        return Probe("quality_results", passed,
                     f"POST {self.url}/graphql assetCheckExecutions(assetKey: "
                     f"customer_daily_etl/ingest_cdc, checkName: quality_gate, partition: "
                     f"{day}) -> {show(ok)}; partition {bad} -> {show(failed)}")

    # --- reading runs back ---------------------------------------------------------------------

    def read_runs(self, pipeline, day=None):
        self.start()
        tags = {"dagster/partition": day.isoformat()} if day else None
        return [self._view(pipeline, r) for r in reversed(self.runs(job=pipeline, tags=tags))]

    def step_of(self, step_key: str) -> tuple[str, str | None, bool]:
        """``(spec step, map key or None, auxiliary?)`` of a Dagster step key, by the names the
        service gives: ``customer_daily_etl__ingest_cdc`` (an asset),
        ``customer_daily_etl__ingest_cdc_quality_gate`` (its check),
        ``customer_daily_etl__gold_region_aggregates.aggregate_region[emea]`` (a mapped op of
        a graph-backed asset), ``customer_daily_etl__report.notify`` (an op of a graph).
        Auxiliary ops (fan-out and fan-in helpers) run no core step."""
        body, _, map_key = step_key.partition("[")
        leaf = body.rsplit(".", 1)[-1]
        leaf = leaf.split("__", 1)[1] if "__" in leaf else leaf
        names = self.info["step_names"]
        return (names["renamed"].get(leaf, leaf), map_key.rstrip("]") or None,
                leaf in names["auxiliary"])

    def _view(self, pipeline: str, run: dict) -> RunView:
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

        for ev in self.events(run["runId"]):
            key = ev["step_key"]
            if not key:
                continue
            name, map_key, aux = self.step_of(key)
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
        # A step that never started (it may still have events: its planned materialisation,
        # "Dependencies ... failed. Not executing.") was stopped by a failed upstream in a
        # failed run, and left out by the branch otherwise.
        state = RUN_STATES.get(run["status"], "unknown")
        not_run = "upstream_failed" if state == "failed" else "skipped"
        for view in steps.values():
            if view.state == "unknown" and not view.attempts:
                view.state = not_run
        present = {n for n, _ in steps}
        for step in spec.steps:
            if step.name not in present:
                steps[(step.name, None)] = StepView(step.name, not_run)
        order = {s.name: i for i, s in enumerate(spec.steps)}
        return RunView(
            run["runId"], pipeline, run["tags"].get("dagster/partition", ""), state,
            _iso(run.get("startTime")), _iso(run.get("endTime")),
            sorted(steps.values(), key=lambda s: (order.get(s.step, 99), s.map_key or "")),
            url=f"{self.url}/runs/{run['runId']}")
