"""The learner's graph of customer_segments as each orchestrator sees it, next to the graph
of the learner's spec: ``python probes.py <orchestrator> <work>...``."""

import sys

from course_kit.exercises import probe_main, work_imports


def spec_facts(load):
    spec = load("my_spec").PIPELINE
    return {"steps": spec.step_names, "edges": sorted(list(e) for e in spec.edges())}


def airflow(work):
    from course_kit.airflow_facts import airflow_dag_facts

    with work_imports(work) as load:
        dags = airflow_dag_facts(work / "airflow_dag.py")
        dag = dags.get("customer_segments") or {}
        return {"spec": spec_facts(load), "steps": sorted(dag.get("tasks", {})),
                "edges": dag.get("edges", []), "found": bool(dag)}


def prefect(work):
    from prefect import Flow, Task

    with work_imports(work) as load:
        mod = load("prefect_flow")
        tasks = sorted(t.name for t in vars(mod).values() if isinstance(t, Task))
        flows = sorted(f.name for f in vars(mod).values() if isinstance(f, Flow))
        # a flow's graph exists only while it runs: names are what can be read statically
        return {"spec": spec_facts(load), "steps": tasks, "edges": None,
                "found": "customer_segments" in flows}


def dagster(work):
    with work_imports(work) as load:
        defs = load("dagster_defs").defs
        graph = defs.resolve_asset_graph()
        edges = sorted([p.path[-1], k.path[-1]] for k in graph.get_all_asset_keys()
                       for p in graph.get(k).parent_keys)
        steps = sorted(k.path[-1] for k in graph.get_all_asset_keys())
        return {"spec": spec_facts(load), "steps": steps, "edges": edges, "found": True}


def luigi(work):
    from datetime import date

    import luigi as lg
    from luigi.task import flatten

    with work_imports(work) as load:
        mod = load("luigi_tasks")
        spec = spec_facts(load)
        classes = {c.get_task_family(): c for c in vars(mod).values()
                   if isinstance(c, type) and issubclass(c, lg.Task)
                   and c.__module__ == mod.__name__}
        steps = sorted(n for n in classes if n in spec["steps"])
        edges = sorted([type(dep).get_task_family(), name] for name in steps
                       for dep in flatten(classes[name](date=date(2026, 11, 2)).requires()))
        return {"spec": spec, "steps": steps, "edges": edges, "found": True}


if __name__ == "__main__":
    probe = globals()[sys.argv.pop(1)]
    probe_main(probe)
