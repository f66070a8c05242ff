"""Facts about the learner's DAG, in Airflow's environment."""

from pipelines_core.exercises import airflow_dag_facts, probe_main, work_imports


def facts(work):
    with work_imports(work):
        return {"dags": airflow_dag_facts(work / "airflow_dag.py")}


if __name__ == "__main__":
    probe_main(facts)
