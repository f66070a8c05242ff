"""Facts about the learner's DAG, in Airflow's environment: its structure as the DAG
processor parses it, and what the branch's body returns for the 1st and the 2nd of a month
when Airflow hands it the run's context."""

from datetime import datetime, timezone
from types import SimpleNamespace

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.execution_time.context import set_current_context

from course_kit.airflow_facts import airflow_dag_facts
from course_kit.exercises import isolated_state, probe_main, work_imports


def facts(work):
    with work_imports(work):
        out = {"dags": airflow_dag_facts(work / "airflow_dag.py"), "branch": {}}
        dag = DagBag(dag_folder=str(work / "airflow_dag.py"), safe_mode=False,
                     bundle_path=work).dags.get("exercise_fanout_branch")
        if dag is None or "choose_report" not in dag.task_ids:
            return out
        body = dag.get_task("choose_report").python_callable
        for day in (1, 2):
            context = {"logical_date": datetime(2026, 11, day, 2, tzinfo=timezone.utc),
                       "ti": SimpleNamespace(try_number=1, task_id="choose_report")}
            with isolated_state(), set_current_context(context):
                try:
                    result = body({"rows_out": 4})
                    out["branch"][f"2026-11-0{day}"] = result if isinstance(result, str) \
                        else f"not a task id: {type(result).__name__}"
                except Exception as exc:  # noqa: BLE001
                    out["branch"][f"2026-11-0{day}"] = f"{type(exc).__name__}: {exc}"
        return out


if __name__ == "__main__":
    probe_main(facts)
