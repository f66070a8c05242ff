"""Checks exercise 10: the new step runs through the core on a tiny silver partition, the
spec declares it, and each orchestrator's graph has it where the spec says."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from pipelines_core import lake
from course_kit.exercises import Kit, need, short_error, work_imports
from pipelines_core.ledger import Ledger
from pipelines_core.runtime import run_step

TITLE = {"en": "Adding a new step end to end in all four",
         "es": "Añadir un paso nuevo de punta a punta en los cuatro"}
PROBES = {o: f"probes.py {o}" for o in ("airflow", "prefect", "dagster", "luigi")}
NAMES = {"airflow": "Airflow (airflow_dag.py)", "prefect": "Prefect (prefect_flow.py)",
         "dagster": "Dagster (dagster_defs.py)", "luigi": "Luigi (luigi_tasks.py)"}
SILVER = ("customer_id string, name string, email string, region string, segment string, "
          "lifetime_value decimal(12,2), updated_at timestamp, last_op string, "
          "is_deleted boolean, is_late boolean")


def check(work: Path, kit: Kit):
    reqs = []
    with work_imports(work) as load:
        try:
            spec = load("my_spec").PIPELINE
            spec.validate()
            step = spec.step("segment_counts")
            ok = step.upstream == ("ingest_cdc",)
            err = "" if ok else f"its upstream is {step.upstream}"
        except Exception as exc:  # noqa: BLE001
            spec, ok, err = None, False, short_error(exc)
        reqs.append(need(ok, "my_spec.py: PIPELINE must declare segment_counts after "
                             f"ingest_cdc and validate ({err})",
                         "my_spec.py: PIPELINE debe declarar segment_counts después de "
                         f"ingest_cdc y validar ({err})"))
        if spec is not None and ok:
            from datetime import datetime

            spark = kit.spark()
            cfg = kit.config("ex10")
            day = date(2026, 11, 2)
            ts = datetime(2026, 11, 2, 8)
            rows = [(f"c{i}", "n", "e@x.io", "emea", seg, Decimal("1.00"), ts, op, op == "D",
                     False)
                    for i, (seg, op) in enumerate([("smb", "I"), ("smb", "U"), ("smb", "D"),
                                                   ("enterprise", "I"), ("mid", "U")])]
            lake.write_parquet(spark.createDataFrame(rows, SILVER),
                               lake.Partition(cfg.namespace_root(), "silver", "customers",
                                              day.isoformat()))
            try:
                result = run_step(spec, "segment_counts", day, config=cfg)
                gold = lake.Partition(cfg.namespace_root(), "gold", "customer_segments",
                                      day.isoformat())
                got = {r["segment"]: r["customers"]
                       for r in spark.read.parquet(gold.uri()).collect()}
                want = {"smb": 2, "enterprise": 1, "mid": 1}
                ok = got == want and result["rows_out"] == 3 and result["rows_in"] == 5
                detail = f"gold has {got}, result {result['rows_in']} in / {result['rows_out']} out"
            except Exception as exc:  # noqa: BLE001
                ok, detail = False, short_error(exc)
            recs = Ledger(cfg.ledger_path).read_attempts(step="segment_counts")
            reqs.append(need(ok and [r.status for r in recs] == ["success"],
                             "segment_counts, run through the core for a 5-row silver "
                             "partition, must write gold/customer_segments = {smb: 2, "
                             "enterprise: 1, mid: 1} (a deleted customer does not count) and "
                             f"return rows_in 5, rows_out 3 ({detail})",
                             "segment_counts, ejecutado por el núcleo sobre una partición "
                             "silver de 5 filas, debe escribir gold/customer_segments = "
                             "{smb: 2, enterprise: 1, mid: 1} (un cliente borrado no cuenta) "
                             f"y devolver rows_in 5, rows_out 3 ({detail})"))
    for o, name in NAMES.items():
        f = kit.probe(o)
        if "error" in f:
            reqs.append(need(False, f"{name} does not load: {f['error']}",
                             f"{name} no carga: {f['error']}"))
            continue
        want_steps, want_edges = ["ingest_cdc", "segment_counts"], [["ingest_cdc",
                                                                      "segment_counts"]]
        ok = (f["found"] and f["steps"] == want_steps
              and (f["edges"] is None or f["edges"] == want_edges))
        reqs.append(need(ok, f"{name}: the graph must have the spec's steps {want_steps} and "
                             f"edges {want_edges}; it has {f['steps']}"
                             + (f", edges {f['edges']}" if f["edges"] is not None else ""),
                         f"{name}: el grafo debe tener los pasos de la spec {want_steps} y "
                         f"las dependencias {want_edges}; tiene {f['steps']}"
                         + (f", dependencias {f['edges']}" if f["edges"] is not None else "")))
    return reqs
