"""Wall time of one date of customer_daily_etl through Airflow's real scheduler versus the
direct runner, median of N, and the largest gap between a task ending and the next starting.

Run from airflow_impl/: ``uv run --frozen python scripts/measure_overhead.py --scale 100000``.
Uses the workbench's configuration (``WORKBENCH_*``), its own Spark Connect server and an
Airflow over ``<state_dir>/airflow/home``; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.adapters.airflow import AirflowAdapter  # noqa: E402
from pipelines_core import spark  # noqa: E402
from pipelines_core.config import load_config  # noqa: E402
from pipelines_core.runner import run_pipeline  # noqa: E402
from pipelines_core.spec import get_pipeline  # noqa: E402
from pipelines_core.testing import free_port, generate_exports  # noqa: E402

ETL = "customer_daily_etl"


def largest_gap(run) -> float:
    """Largest wait between all upstreams of a task ending and that task starting."""
    spec = get_pipeline(ETL)
    ends: dict[str, datetime] = {}
    starts: dict[str, datetime] = {}
    for step in run.steps:
        for a in step.attempts:
            if a.start and a.end:
                s, e = datetime.fromisoformat(a.start), datetime.fromisoformat(a.end)
                starts[step.step] = min(starts.get(step.step, s), s)
                ends[step.step] = max(ends.get(step.step, e), e)
    gaps = []
    for step in spec.steps:
        ups = [ends[u] for u in step.upstream if u in ends]
        if step.name in starts and ups:
            gaps.append((starts[step.name] - max(ups)).total_seconds())
    return max(gaps) if gaps else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--date", default="2026-10-02")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    day = date.fromisoformat(args.date)
    # Its own Connect server on a free port, stopped at the end.
    base = load_config(scale=args.scale, spark_mode="connect", spark_connect_port=free_port())
    spark.start_connect_server(base)
    direct_cfg = base.replace(namespace="direct", orchestrator="direct")
    adapter = AirflowAdapter(base)
    generate_exports(direct_cfg, [day])
    generate_exports(adapter.config, [day])
    adapter.start()
    direct, airflow, gaps = [], [], []
    try:
        for _ in range(args.repeat):  # interleaved: direct, airflow, direct, airflow, ...
            t0 = time.monotonic()
            assert run_pipeline(get_pipeline(ETL), day, direct_cfg).state == "success"
            direct.append(time.monotonic() - t0)
            t0 = time.monotonic()
            run = adapter.run_date(ETL, day)
            airflow.append(time.monotonic() - t0)
            assert run.state == "success", run
            gaps.append(largest_gap(run))
    finally:
        adapter.stop()
        spark.stop_sessions()
        spark.stop_connect_server(base)
    print(json.dumps({"scale": args.scale, "date": args.date,
                      "direct_s": direct, "airflow_s": airflow,
                      "direct_median_s": statistics.median(direct),
                      "airflow_median_s": statistics.median(airflow),
                      "largest_task_gap_s": gaps, "largest_task_gap_median_s":
                      statistics.median(gaps)}, indent=2))


if __name__ == "__main__":
    main()
