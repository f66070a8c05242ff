"""Checks exercise 09: the learner's settings load as the workbench reads them, and the
overhead arithmetic agrees with a real (no-op) run's ledger."""

from __future__ import annotations

import math
import time
from datetime import date
from pathlib import Path

from pipelines_core.config import load_config
from course_kit.exercises import Kit, need, short_error, work_imports
from pipelines_core.ledger import Ledger
from pipelines_core.runner import run_pipeline
from pipelines_core.spec import get_pipeline

TITLE = {"en": "Moving Spark to Connect or a cluster, and measuring the overhead",
         "es": "Llevar Spark a Connect o a un clúster, y medir el sobrecoste"}


def _load(path: Path):
    try:
        return load_config(env={"WORKBENCH_CONFIG": str(path)}), ""
    except Exception as exc:  # noqa: BLE001
        return None, short_error(exc)


def check(work: Path, kit: Kit):
    reqs = []
    cfg, err = _load(work / "connect.toml")
    ok = cfg is not None and cfg.spark_mode == "connect" \
        and cfg.connect_url == "sc://127.0.0.1:15002"
    reqs.append(need(ok, "connect.toml must select the workbench's Spark Connect server "
                         f"(sc://127.0.0.1:15002); it gives "
                         f"{err or (cfg.spark_mode, cfg.connect_url)}",
                     "connect.toml debe elegir el servidor Spark Connect del workbench "
                     f"(sc://127.0.0.1:15002); da {err or (cfg.spark_mode, cfg.connect_url)}"))
    cfg, err = _load(work / "cluster.toml")
    ok = cfg is not None and cfg.spark_mode == "remote" \
        and cfg.spark_url == "spark://127.0.0.1:7077"
    reqs.append(need(ok, "cluster.toml must select the cluster spark://127.0.0.1:7077 "
                         f"(remote mode); it gives {err or (cfg.spark_mode, cfg.spark_url)}",
                     "cluster.toml debe elegir el clúster spark://127.0.0.1:7077 (modo "
                     f"remote); da {err or (cfg.spark_mode, cfg.spark_url)}"))
    run_cfg = kit.config("ex09", noop=True)
    t0 = time.time()
    run_pipeline(get_pipeline("customer_daily_etl"), date(2026, 11, 2), run_cfg)
    wall = time.time() - t0
    recs = Ledger(run_cfg.ledger_path).read_attempts()
    truth = sum(r.duration_s or 0.0 for r in recs)
    with work_imports(work) as load:
        try:
            mod = load("overhead")
            got = mod.overhead(wall, recs)
            ok = (math.isclose(got["step_s"], truth, abs_tol=1e-6)
                  and math.isclose(got["overhead_s"], wall - truth, abs_tol=1e-6)
                  and math.isclose(got["overhead_share"], (wall - truth) / wall, abs_tol=1e-6))
            reqs.append(need(ok, "overhead must give the time in steps from the ledger "
                                 f"({truth:.4f} s for a run of {wall:.4f} s), the overhead "
                                 f"and its share of the wall time; it gave {got}",
                             "overhead debe dar el tiempo dentro de los pasos según el registro "
                             f"({truth:.4f} s en una ejecución de {wall:.4f} s), el sobrecoste y "
                             f"su parte del tiempo total; dio {got}"))
        except Exception as exc:  # noqa: BLE001
            reqs.append(need(False, f"overhead fails: {short_error(exc)}",
                             f"overhead falla: {short_error(exc)}"))
    return reqs
