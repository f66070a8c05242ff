"""Read the benchmark's crash cases: list them, judge each from its evidence, and say how long
each orchestrator can take to show a kill that no parent process is left to see."""

from __future__ import annotations

import math
import re
from typing import Any

# The keys under which a case's ``detection.settings`` records each orchestrator's settings
# (values are strings, as the service command's status shows them: "300", "True").
AIRFLOW_TIMEOUT = "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"
AIRFLOW_INTERVAL = "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL"
AIRFLOW_ORPHAN_CHECK = "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL"
AIRFLOW_HEALTH = "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD"
PREFECT_FREQUENCY = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"
PREFECT_AUTOMATION = "automation"
DAGSTER_ENABLED = "run_monitoring.enabled"
DAGSTER_POLL = "run_monitoring.poll_interval_seconds"
DAGSTER_MAX_RUNTIME = "run_monitoring.max_runtime_seconds"
DAGSTER_RUN_TAG = "dagster/max_runtime"
LUIGI_RPC_ATTEMPTS = "[core] rpc-retry-attempts"
LUIGI_RPC_WAIT = "[core] rpc-retry-wait"

# The kills ``detection_bound_s`` answers for: those whose damage only a timer can show
# (Luigi's luigid: the worker's retries decide). Prefect's is no case of the scenario, which
# kills one part at a time: after any one kill there, the worker or the flow run's own
# process is left to report how the run ended.
PREFECT_UNSEEN = "worker with the step's process"
MODELLED = {"airflow": ("scheduler", "api-server"), "prefect": (PREFECT_UNSEEN,),
            "dagster": ("code-server",), "luigi": ("luigid",)}

# Loops that are no setting: Prefect's server evaluates proactive triggers every 5 s.
PREFECT_TRIGGER_LOOP_S = 5.0
# The window of the "Crash zombie flows" automation in Prefect's docs.
PREFECT_DOCS_WITHIN_S = 90.0


def crash_cases(results: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every crash case of a ``results.json``, in file order, with its key in the file."""
    out = []
    for name, row in (results.get("orchestrators") or {}).items():
        crash = ((row or {}).get("scenarios") or {}).get("crash") or {}
        out.extend((name, key, case) for key, case in crash.items())
    return out


def verdict(case: dict[str, Any]) -> str:
    """The scenario's verdict from the evidence; the order of the rules matters: a partition
    left half-written is lost work whatever the run's end, and a killed attempt that the
    orchestrator ran again is no loss."""
    if case.get("half_written"):
        return "lost work"
    if case.get("end_state") == "success":
        return "duplicated work" if case.get("duplicated_steps") else "recovered by itself"
    human = case.get("human") or {}
    if human.get("state") == "success" and human.get("identical_to_direct"):
        return "needs a human"
    return "needs a human; the re-run did not recover it"


def _seconds(settings: dict[str, Any], key: str, default: float) -> float:
    value = settings.get(key)
    return default if value is None else float(value)


def _on(settings: dict[str, Any], key: str) -> bool:
    value = settings.get(key, False)
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


def detection_bound_s(orchestrator: str, target: str, settings: dict[str, Any],
                      restarted_after_s: float | None = None) -> float | None:
    """At most how many seconds after ``target`` was killed the orchestrator's record shows
    the damage, with these settings (a key not given is at its default) and the component
    back ``restarted_after_s`` after the kill (None: never); None when nothing would ever
    show it. Luigi's answer is when its worker stops, counted from its next call to luigid."""
    if (orchestrator, target) == ("airflow", "scheduler"):
        # The next scheduler resets the dead one's tasks in its orphan check, at its start and
        # then every interval, once the dead one's last heartbeat is past the threshold. Its
        # own heartbeat timeout only looks at task instances it queued itself.
        if restarted_after_s is None:
            return None
        every = _seconds(settings, AIRFLOW_ORPHAN_CHECK, 300)
        dead_after = _seconds(settings, AIRFLOW_HEALTH, 30)
        missed = max(0, math.ceil((dead_after - restarted_after_s) / every))
        return restarted_after_s + missed * every
    if (orchestrator, target) == ("airflow", "api-server"):
        # the scheduler lives: it fails a task instance whose heartbeats stopped
        return _seconds(settings, AIRFLOW_TIMEOUT, 300) + _seconds(settings, AIRFLOW_INTERVAL, 10)
    if (orchestrator, target) == ("prefect", PREFECT_UNSEEN):
        # the server keeps heartbeat events but acts on a missing one only by an automation
        automation = str(settings.get(PREFECT_AUTOMATION) or "none")
        if automation.strip().lower().startswith("none"):
            return None
        within = re.search(r"(\d+(?:\.\d+)?) s after", automation)
        return (float(within.group(1)) if within else PREFECT_DOCS_WITHIN_S) \
            + PREFECT_TRIGGER_LOOP_S
    if (orchestrator, target) == ("dagster", "code-server"):
        # the default run launcher cannot tell whether a run worker lives: run monitoring can
        # only end a started run at its maximum runtime (the run's tag first)
        if not _on(settings, DAGSTER_ENABLED):
            return None
        limit = (_seconds(settings, DAGSTER_RUN_TAG, 0)
                 or _seconds(settings, DAGSTER_MAX_RUNTIME, 0))
        return limit + _seconds(settings, DAGSTER_POLL, 120) if limit > 0 else None
    if (orchestrator, target) == ("luigi", "luigid"):
        # The worker's call fails, it waits and calls again: back, luigid knows nothing of the
        # run and the worker, finding no work, stops; still down at the last attempt, the
        # worker stops with an RPC error.
        wait = _seconds(settings, LUIGI_RPC_WAIT, 30)
        retries = max(0, int(_seconds(settings, LUIGI_RPC_ATTEMPTS, 3)) - 1)
        if restarted_after_s is not None:
            back_at = max(1, math.ceil(restarted_after_s / wait)) if wait > 0 else 1
            if back_at <= retries:
                return back_at * wait
        return retries * wait
    raise ValueError(f"no timer decides a kill of {orchestrator}'s {target!r}")


def deciding_setting(orchestrator: str, target: str) -> str:
    """The one setting that decides whether, and how soon, the damage of that kill shows: put
    back to its default in the tuned settings, the answer is the defaults' again. (Luigi's
    tuned settings are its defaults: its one setting is the one its answer moves with.)"""
    return {("airflow", "scheduler"): AIRFLOW_ORPHAN_CHECK,
            ("airflow", "api-server"): AIRFLOW_TIMEOUT,
            ("prefect", PREFECT_UNSEEN): PREFECT_AUTOMATION,
            ("dagster", "code-server"): DAGSTER_ENABLED,
            ("luigi", "luigid"): LUIGI_RPC_WAIT}[(orchestrator, target)]
