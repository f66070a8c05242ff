"""What a learner's Airflow DAG file holds, read the way Airflow's DAG processor reads it.

Airflow's environment only: probe scripts import this inside the function that runs there
(``<x>_impl/.venv``), never in the root environment, where Airflow is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.dag_processing.dagbag import DagBag


def airflow_dag_facts(path: Path) -> dict[str, Any]:
    """Parse one DAG file as Airflow's DAG processor would and describe its DAGs: tasks with
    their kind, mapping, trigger rule and retry settings, edges."""
    bag = DagBag(dag_folder=str(path), safe_mode=False, bundle_path=Path(path).parent)
    if bag.import_errors:
        raise ImportError("; ".join(str(e).strip().splitlines()[-1]
                                    for e in bag.import_errors.values()))
    dags = {}
    for dag_id, dag in bag.dags.items():
        tasks = {}
        for t in dag.tasks:
            mapped = "MappedOperator" in {c.__name__ for c in type(t).__mro__}
            expand = {}
            if mapped:
                value = getattr(getattr(t, "op_kwargs_expand_input", None), "value", {}) or {}
                expand = {k: list(v) if isinstance(v, (list, tuple)) else repr(v)
                          for k, v in value.items()}
            kinds = {c.__name__ for c in type(t).__mro__}
            if mapped and isinstance(getattr(t, "operator_class", None), type):
                kinds |= {c.__name__ for c in t.operator_class.__mro__}
            seconds = lambda v: v.total_seconds() if v is not None else None  # noqa: E731
            tasks[t.task_id] = {
                "mapped": mapped, "expand": expand, "kinds": sorted(kinds),
                "trigger_rule": str(getattr(t.trigger_rule, "value", t.trigger_rule)),
                "retries": t.retries, "retry_delay_s": seconds(t.retry_delay),
                "retry_exponential_backoff": t.retry_exponential_backoff,
                "max_retry_delay_s": seconds(t.max_retry_delay),
                "execution_timeout_s": seconds(t.execution_timeout),
                "mode": getattr(t, "mode", None), "timeout": getattr(t, "timeout", None),
                "poke_interval": getattr(t, "poke_interval", None),
            }
        timetable = dag.timetable
        dags[dag_id] = {
            "tasks": tasks,
            "edges": sorted([u, t.task_id] for t in dag.tasks for u in t.upstream_task_ids),
            "schedule": getattr(timetable, "expression", None) or type(timetable).__name__,
            "catchup": dag.catchup, "tags": sorted(dag.tags or []),
            "start_date": dag.start_date.date().isoformat() if dag.start_date else None,
        }
    return dags
