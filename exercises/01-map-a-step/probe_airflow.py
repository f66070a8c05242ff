"""Facts about the learner's Airflow DAG, in Airflow's environment: the DAG as the DAG
processor parses it, and what the ``choose_report`` task's body does when Airflow hands it
the context of the 2026-11-01 run (logical date, first try)."""

from datetime import datetime, timezone
from types import SimpleNamespace

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.execution_time.context import set_current_context

from course_kit.airflow_facts import airflow_dag_facts
from course_kit.exercises import isolated_state, ledger_records, probe_main, work_imports


def facts(work):
    with work_imports(work):
        out = {"dags": airflow_dag_facts(work / "airflow_dag.py")}
        dag = DagBag(dag_folder=str(work / "airflow_dag.py"), safe_mode=False,
                     bundle_path=work).dags.get("exercise_choose_report")
        if dag is not None and "choose_report" in dag.task_ids:
            context = {"logical_date": datetime(2026, 11, 1, 2, tzinfo=timezone.utc),
                       "ti": SimpleNamespace(try_number=1, task_id="choose_report")}
            with isolated_state() as root:
                try:
                    with set_current_context(context):
                        result = dag.get_task("choose_report").python_callable()
                    out["next_step"] = (result or {}).get("next_step")
                except Exception as exc:  # noqa: BLE001
                    out["run_error"] = f"{type(exc).__name__}: {exc}"
                out["ledger"] = ledger_records(root)
        return out


if __name__ == "__main__":
    probe_main(facts)
