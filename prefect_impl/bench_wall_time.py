"""Wall time of one date of customer_daily_etl through Prefect (real server, deployment run
picked up by a process worker) against the direct runner, interleaved, median of N.

Run from the repository root with the root environment (the adapters live there):
``.venv/bin/python prefect_impl/bench_wall_time.py --scale 100000 --repeat 3``.
State, lake and the Prefect home go under ``<state_dir>/prefect/bench`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.adapters.direct import DirectAdapter  # noqa: E402
from benchmarks.adapters.prefect import PrefectAdapter  # noqa: E402
from pipelines_core import spark, testing  # noqa: E402
from pipelines_core.config import load_config  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--date", default="2026-10-02")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured runs of each first (a cold Spark Connect JVM)")
    args = parser.parse_args()
    day = date.fromisoformat(args.date)

    base = load_config()
    work = base.state_dir / "prefect" / "bench"
    shutil.rmtree(work, ignore_errors=True)
    config = load_config(env={}, lake_root=work / "lake", state_dir=work / "state",
                         scale=args.scale, spark_mode="connect",
                         spark_connect_port=testing.free_port())
    spark.start_connect_server(config)
    prefect = PrefectAdapter(config, port=testing.free_port(), home=work / "prefect_home")
    direct = DirectAdapter(config)
    results: dict[str, list[dict]] = {"direct": [], "prefect": []}
    try:
        prefect.start()
        for adapter in (direct, prefect):
            testing.generate_exports(adapter.config, [day])
        for _ in range(args.warmup):
            for adapter in (direct, prefect):
                adapter.run_date("customer_daily_etl", day, timeout_s=1800)
        for i in range(args.repeat):
            for label, adapter in (("direct", direct), ("prefect", prefect)):
                t0 = time.time()
                run = adapter.run_date("customer_daily_etl", day, timeout_s=1800)
                wall = time.time() - t0
                inside = None  # the run's own start -> end (for Prefect: after pickup)
                if run.start and run.end:
                    inside = round((datetime.fromisoformat(run.end)
                                    - datetime.fromisoformat(run.start)).total_seconds(), 2)
                results[label].append({"wall_s": round(wall, 2), "state": run.state,
                                       "run_s": inside, "run_id": run.run_id})
                print(f"{label} #{i + 1}: {wall:.1f} s ({run.state})", flush=True)
    finally:
        prefect.stop()
        spark.stop_connect_server(config)
    summary = {label: {"median_s": statistics.median(r["wall_s"] for r in runs),
                       "min_s": min(r["wall_s"] for r in runs),
                       "max_s": max(r["wall_s"] for r in runs), "runs": runs}
               for label, runs in results.items()}
    summary["scale"] = args.scale
    summary["warmup"] = args.warmup
    summary["ratio"] = round(summary["prefect"]["median_s"] / summary["direct"]["median_s"], 2)
    (work / "wall_time.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: (v if not isinstance(v, dict) else
                          {x: y for x, y in v.items() if x != "runs"})
                      for k, v in summary.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
