"""Read the benchmark's crash cases: list them, judge each from its evidence, and say how long
each orchestrator can take to show a kill that no parent process is left to see."""

from __future__ import annotations

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


def crash_cases(results: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every crash case of a ``results.json`` (``orchestrators.<name>.scenarios.crash.<key>``)
    as ``(orchestrator, key, case)``, in file order. An orchestrator without a crash scenario
    has no case.

    TODO
    """
    raise NotImplementedError("crash_cases is not written yet")


def verdict(case: dict[str, Any]) -> str:
    """The case's verdict from its evidence, by the scenario's rules: ``"lost work"``,
    ``"duplicated work"``, ``"recovered by itself"``, ``"needs a human"`` or
    ``"needs a human; the re-run did not recover it"``.

    TODO: read ``half_written``, ``end_state``, ``duplicated_steps`` and ``human``; mind the
    order of the rules.
    """
    raise NotImplementedError("verdict is not written yet")


def detection_bound_s(orchestrator: str, target: str, settings: dict[str, Any],
                      restarted_after_s: float | None = None) -> float | None:
    """At most how many seconds after ``target`` was killed (one of ``MODELLED``) the
    orchestrator's record shows the damage, with these settings (a key not given is at its
    default) and the component back ``restarted_after_s`` after the kill (None: never); None
    when nothing would ever show it. Luigi's answer is when its worker stops, counted from its
    next call to luigid.

    TODO: for each kill, the one thing left to notice, its timer and how often it looks.
    """
    raise NotImplementedError("detection_bound_s is not written yet")


def deciding_setting(orchestrator: str, target: str) -> str:
    """The one setting (one of the keys above) that decides whether, and how soon, the
    damage of that kill shows.

    TODO
    """
    raise NotImplementedError("deciding_setting is not written yet")
