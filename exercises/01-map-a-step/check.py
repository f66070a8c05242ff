"""Checks exercise 01: one core step, wired in each orchestrator's own idiom."""

from __future__ import annotations

from pathlib import Path

from course_kit.exercises import Kit, need

TITLE = {"en": "Mapping one step across the four orchestrators",
         "es": "Llevar un mismo paso a los cuatro orquestadores"}
PROBES = {"airflow": "probe_airflow.py", "prefect": "probe_prefect.py",
          "dagster": "probe_dagster.py", "luigi": "probe_luigi.py"}


def _ran(facts, orchestrator, expected_next, day):
    recs = [r for r in facts.get("ledger", []) if r["step"] == "choose_report"]
    good = [r for r in recs if r["orchestrator"] == orchestrator and r["status"] == "success"
            and r["date"] == day]
    return facts.get("next_step") == expected_next and len(good) == 1, recs


def check(work: Path, kit: Kit):
    reqs = []
    af = kit.probe("airflow")
    if "error" in af:
        reqs.append(need(False, f"Airflow: airflow_dag.py does not load: {af['error']}",
                         f"Airflow: airflow_dag.py no carga: {af['error']}"))
    else:
        dag = af["dags"].get("exercise_choose_report")
        reqs.append(need(dag and list(dag["tasks"]) == ["choose_report"],
                         "Airflow: DAG exercise_choose_report must have one task, named "
                         f"choose_report (tasks: {list(dag['tasks']) if dag else 'no DAG'})",
                         "Airflow: el DAG exercise_choose_report debe tener una sola tarea, "
                         "llamada choose_report (tareas: "
                         f"{list(dag['tasks']) if dag else 'no hay DAG'})"))
        ok, recs = _ran(af, "airflow", "monthly_report", "2026-11-01")
        reqs.append(need(ok and all(r["attempt"] == 1 for r in recs),
                         "Airflow: given the context of the 2026-11-01 run (logical_date, "
                         "ti.try_number 1), the task's body must run the core step "
                         "(monthly_report) and record attempt 1 as orchestrator airflow "
                         f"({af.get('run_error') or recs})",
                         "Airflow: con el contexto de la ejecución del 2026-11-01 (logical_date, "
                         "ti.try_number 1), el cuerpo de la tarea debe ejecutar el paso del "
                         "núcleo (monthly_report) y registrar el intento 1 con orchestrator "
                         f"airflow ({af.get('run_error') or recs})"))
        reqs.append(need(dag and dag["schedule"] == "0 2 * * *" and dag["catchup"] is False,
                         "Airflow: the DAG must run daily at 02:00 (\"0 2 * * *\") with "
                         "catchup=False",
                         "Airflow: el DAG debe ejecutarse a diario a las 02:00 "
                         "(\"0 2 * * *\") con catchup=False"))
    pf = kit.probe("prefect")
    if "error" in pf:
        reqs.append(need(False, f"Prefect: prefect_flow.py does not load: {pf['error']}",
                         f"Prefect: prefect_flow.py no carga: {pf['error']}"))
    else:
        reqs.append(need("choose_report" in pf["tasks"]
                         and "exercise_choose_report" in pf["flows"],
                         "Prefect: a task named choose_report inside the flow "
                         f"exercise_choose_report (tasks: {pf['tasks']})",
                         "Prefect: una tarea llamada choose_report dentro del flujo "
                         f"exercise_choose_report (tareas: {pf['tasks']})"))
        ok, recs = _ran(pf, "prefect", "monthly_report", "2026-11-01")
        reqs.append(need(ok, "Prefect: the task's body must run the core step for its date "
                             "(2026-11-01 gives monthly_report) and record one attempt in the "
                             f"ledger as orchestrator prefect ({pf.get('run_error') or recs})",
                         "Prefect: el cuerpo de la tarea debe ejecutar el paso del núcleo para "
                         "su fecha (2026-11-01 da monthly_report) y dejar un intento en el "
                         f"registro con orchestrator prefect ({pf.get('run_error') or recs})"))
    df = kit.probe("dagster")
    if "error" in df:
        reqs.append(need(False, f"Dagster: dagster_defs.py does not load: {df['error']}",
                         f"Dagster: dagster_defs.py no carga: {df['error']}"))
    else:
        reqs.append(need("choose_report" in df["assets"] and df.get("partitioned")
                         and df["has_defs"],
                         "Dagster: an asset named choose_report, partitioned by day, in "
                         f"`defs` (assets: {df['assets']})",
                         "Dagster: un asset llamado choose_report, particionado por día, en "
                         f"`defs` (assets: {df['assets']})"))
        ok, recs = _ran(df, "dagster", "monthly_report", "2026-11-01")
        ok = ok and all(r["attempt"] == 1 for r in recs)
        reqs.append(need(ok, "Dagster: materialising the partition 2026-11-01 must run the core "
                             "step (monthly_report) and record attempt 1 as orchestrator "
                             f"dagster ({df.get('run_error') or recs})",
                         "Dagster: materializar la partición 2026-11-01 debe ejecutar el paso "
                         "del núcleo (monthly_report) y registrar el intento 1 con "
                         f"orchestrator dagster ({df.get('run_error') or recs})"))
    lf = kit.probe("luigi")
    if "error" in lf:
        reqs.append(need(False, f"Luigi: luigi_tasks.py does not load: {lf['error']}",
                         f"Luigi: luigi_tasks.py no carga: {lf['error']}"))
    else:
        reqs.append(need("choose_report" in lf["tasks"] and lf.get("has_date"),
                         "Luigi: a task class named choose_report with a `date` DateParameter "
                         f"(tasks: {lf['tasks']})",
                         "Luigi: una clase de tarea llamada choose_report con un "
                         f"DateParameter `date` (tareas: {lf['tasks']})"))
        ok, recs = _ran(lf, "luigi", "daily_report", "2026-11-02")
        reqs.append(need(ok and lf.get("built"),
                         "Luigi: building choose_report for 2026-11-02 must succeed, run the "
                         "core step (daily_report) once as orchestrator luigi and write its "
                         f"result to the output target ({lf.get('run_error') or recs})",
                         "Luigi: construir choose_report para 2026-11-02 debe funcionar, "
                         "ejecutar el paso del núcleo (daily_report) una vez con orchestrator "
                         f"luigi y escribir su resultado en el target ({lf.get('run_error') or recs})"))
    return reqs
