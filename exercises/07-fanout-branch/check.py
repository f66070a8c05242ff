"""Checks exercise 07: the learner's DAG as Airflow parses it: mapping, branch, join."""

from __future__ import annotations

from pathlib import Path

from course_kit.exercises import Kit, need
from pipelines_core.spec import CUSTOMER_DAILY_ETL, REGIONS

TITLE = {"en": "Fan-out per region and the monthly branch (Airflow)",
         "es": "Abanico por región y la rama mensual (Airflow)"}
PROBES = {"airflow": "probe_airflow.py"}

STEPS = ["quality_gate", "gold_region_aggregates", "gold_summary", "choose_report",
         "monthly_report", "daily_report", "notify"]
EDGES = sorted([u, d] for u, d in CUSTOMER_DAILY_ETL.edges() if u in STEPS and d in STEPS)


def check(work: Path, kit: Kit):
    f = kit.probe("airflow")
    if "error" in f:
        return [need(False, f"airflow_dag.py does not load in Airflow: {f['error']}",
                     f"airflow_dag.py no carga en Airflow: {f['error']}")]
    dag = f["dags"].get("exercise_fanout_branch")
    if not dag:
        return [need(False, "no DAG with dag_id exercise_fanout_branch",
                     "no hay ningún DAG con dag_id exercise_fanout_branch")]
    tasks = dag["tasks"]
    reqs = [need(sorted(tasks) == sorted(STEPS),
                 f"the DAG's tasks must be the seven steps {STEPS}; it has {sorted(tasks)}",
                 f"las tareas del DAG deben ser los siete pasos {STEPS}; tiene {sorted(tasks)}")]
    agg = tasks.get("gold_region_aggregates", {})
    reqs.append(need(agg.get("mapped") and agg.get("expand") == {"region": list(REGIONS)},
                     "gold_region_aggregates must be mapped over the core's regions "
                     f"(.expand(region=regions())); expand is {agg.get('expand') or 'not used'}",
                     "gold_region_aggregates debe mapearse sobre las regiones del núcleo "
                     f"(.expand(region=regions())); expand es {agg.get('expand') or 'sin usar'}"))
    branch = tasks.get("choose_report", {})
    reqs.append(need("BranchMixIn" in branch.get("kinds", []),
                     "choose_report must be a branch (@task.branch returning the next task id)",
                     "choose_report debe ser una rama (@task.branch que devuelve el id de la "
                     "siguiente tarea)"))
    chosen = f.get("branch", {})
    reqs.append(need(chosen == {"2026-11-01": "monthly_report", "2026-11-02": "daily_report"},
                     "choose_report's body must return the task id the core picks: "
                     "monthly_report on 2026-11-01, daily_report on 2026-11-02; it returned "
                     f"{chosen or 'nothing'}",
                     "el cuerpo de choose_report debe devolver el id de tarea que elige el "
                     "núcleo: monthly_report el 2026-11-01 y daily_report el 2026-11-02; "
                     f"devolvió {chosen or 'nada'}"))
    reqs.append(need(tasks.get("notify", {}).get("trigger_rule") == "none_failed_min_one_success",
                     "notify must run after whichever report ran: trigger rule "
                     "none_failed_min_one_success (it is "
                     f"{tasks.get('notify', {}).get('trigger_rule')})",
                     "notify debe ejecutarse tras el informe que se haya ejecutado: regla "
                     "none_failed_min_one_success (tiene "
                     f"{tasks.get('notify', {}).get('trigger_rule')})"))
    missing = [e for e in EDGES if e not in dag["edges"]]
    extra = [e for e in dag["edges"] if e not in EDGES]
    reqs.append(need(not missing and not extra,
                     f"the edges must be the spec's; missing {missing}, extra {extra}",
                     f"las dependencias deben ser las de la spec; faltan {missing}, "
                     f"sobran {extra}"))
    return reqs
