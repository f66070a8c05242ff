"""Wall time of one ``customer_daily_etl`` partition through Dagster (webserver + daemon, both
executors) against the direct runner, median of N, on a shared Spark Connect server.

Run from the root environment: ``.venv/bin/python -m benchmarks.adapters.dagster_measure
--scale 100000 --repeat 3``. Uses its own lake and state under ``<state_dir>/dagster/measure``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date, datetime, timedelta, timezone

from benchmarks.adapters.dagster import DagsterAdapter
from benchmarks.adapters.direct import DirectAdapter
from pipelines_core.config import load_config
from pipelines_core.ledger import Ledger
from pipelines_core.testing import connect_server, generate_exports


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--start", default="2026-10-05")
    args = parser.parse_args()

    base = load_config()
    root = base.state_dir / "dagster" / "measure"
    config = base.replace(lake_root=root / "lake", state_dir=root / "state", scale=args.scale)
    days = [date.fromisoformat(args.start) + timedelta(days=n) for n in range(args.repeat)]
    results: dict[str, list[dict]] = {"direct": [], "dagster_multiprocess": [],
                                      "dagster_in_process": []}
    with connect_server(config) as cfg:
        adapters = {"direct": DirectAdapter(cfg),
                    "dagster_multiprocess": DagsterAdapter(cfg, in_process=False),
                    "dagster_in_process": DagsterAdapter(cfg, in_process=True)}
        for adapter in adapters.values():
            generate_exports(adapter.config, days)
        adapters["dagster_multiprocess"].start()
        adapters["dagster_in_process"].services = adapters["dagster_multiprocess"].services
        try:
            for day in days:  # interleaved: A B C, A B C, ...
                for label, adapter in adapters.items():
                    t0 = time.time()
                    run = adapter.run_date("customer_daily_etl", day)
                    wall = time.time() - t0
                    since = datetime.fromtimestamp(t0, timezone.utc).isoformat()
                    recs = [r for r in Ledger(cfg.ledger_path).read_attempts(
                        pipeline="customer_daily_etl", date=day.isoformat(),
                        namespace=adapter.config.namespace, orchestrator=adapter.name)
                        if r.start >= since]
                    step_s = sum(r.duration_s or 0 for r in recs)
                    results[label].append({"date": day.isoformat(), "state": run.state,
                                           "wall_s": round(wall, 2), "step_s": round(step_s, 2)})
                    print(label, day, run.state, f"{wall:.1f}s wall, {step_s:.1f}s in steps",
                          flush=True)
        finally:
            adapters["dagster_multiprocess"].stop()
    summary = {label: {"median_wall_s": statistics.median(r["wall_s"] for r in runs),
                       "median_step_s": statistics.median(r["step_s"] for r in runs),
                       "runs": runs} for label, runs in results.items()}
    print(json.dumps(summary, indent=2))
    out = root / "results.json"
    out.write_text(json.dumps({"scale": args.scale, "summary": summary}, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
