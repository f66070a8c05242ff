"""How the direct runner scales: wall time and peak memory of one date of a pipeline at several
volumes, classic local session against the shared Spark Connect server.

Each measured run is a ``workbench run`` subprocess; memory is the peak of the summed resident
set of everything the run uses (the client, its JVM in classic mode, and in Connect mode the
server's whole process tree), sampled from /proc every 0.2 s. Modes are interleaved per
repetition; the first repetition is a warm-up and is not counted.

    python -m benchmarks.scale --scales 100000 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timezone

from benchmarks.sampler import MemorySampler
from pipelines_core.config import PROJECT_ROOT, load_config
from pipelines_core.spark import connect_server_status, start_connect_server, stop_connect_server


def measure(pipeline: str, day: date, scale: int, mode: str, env: dict[str, str],
            server_pid: int | None) -> dict:
    cmd = [sys.executable, "-m", "pipelines_core.cli", "run", "--pipeline", pipeline,
           "--date", day.isoformat(), "--scale", str(scale), "--spark-mode", mode,
           "--namespace", f"scale-{scale}"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    roots = [proc.pid] + ([server_pid] if server_pid else [])
    sampler = MemorySampler(lambda: roots, every_s=0.2, pss_every_s=None)
    sampler.start()
    _, err = proc.communicate()
    wall = time.monotonic() - t0
    peak = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({mode}, {scale}): {err[-2000:]}")
    return {"mode": mode, "scale": scale, "wall_s": round(wall, 2),
            "peak_rss_gb": round(peak / 2**30, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", default="customer_daily_etl")
    parser.add_argument("--date", default="2026-11-02")
    parser.add_argument("--scales", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--modes", nargs="+", default=["local", "connect"])
    parser.add_argument("--repeat", type=int, default=3, help="counted repetitions")
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    # A TERM (make down, CI timeout) must still reach the finally that stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    day = date.fromisoformat(args.date)
    config = load_config(spark_mode="connect")
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_FAULTS"}
    started_here = not connect_server_status(config)["pid"]
    server = start_connect_server(config)
    results = []
    try:
        for scale in args.scales:
            console.print(f"generating {scale:,} rows for {day} ...")
            subprocess.run([sys.executable, "-m", "pipelines_core.cli", "generate", "--date",
                            day.isoformat(), "--scale", str(scale), "--spark-mode", "connect",
                            "--namespace", f"scale-{scale}"], cwd=PROJECT_ROOT, env=env,
                           check=True, capture_output=True)
            for rep in range(args.repeat + 1):
                for mode in args.modes:
                    r = measure(args.pipeline, day, scale, mode, env,
                                server["pid"] if mode == "connect" else None)
                    r["repetition"] = rep
                    r["warmup"] = rep == 0
                    results.append(r)
                    console.print(f"  {mode:<8} {scale:>9,} rows  rep {rep}"
                                  f"{' (warm-up)' if rep == 0 else ''}: {r['wall_s']:6.1f} s, "
                                  f"peak {r['peak_rss_gb']:.2f} GB")
    finally:
        if started_here:
            stop_connect_server(config)

    table = Table(title=f"{args.pipeline}, one date, direct runner "
                        f"(median of {args.repeat}, min-max)")
    for col in ("rows/day", "mode", "wall s", "wall min-max", "peak memory GB"):
        table.add_column(col, justify="right")
    summary = []
    for scale in args.scales:
        for mode in args.modes:
            runs = [r for r in results if r["scale"] == scale and r["mode"] == mode
                    and not r["warmup"]]
            walls = [r["wall_s"] for r in runs]
            peaks = [r["peak_rss_gb"] for r in runs]
            row = {"scale": scale, "mode": mode, "wall_s_median": statistics.median(walls),
                   "wall_s_min": min(walls), "wall_s_max": max(walls),
                   "peak_rss_gb_median": statistics.median(peaks), "peak_rss_gb_max": max(peaks)}
            summary.append(row)
            table.add_row(f"{scale:,}", mode, f"{row['wall_s_median']:.1f}",
                          f"{min(walls):.1f}-{max(walls):.1f}",
                          f"{row['peak_rss_gb_median']:.2f} (max {max(peaks):.2f})")
    console.print(table)
    out = PROJECT_ROOT / "reports" / "scale"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"direct-scale-{stamp}.json"
    path.write_text(json.dumps({"pipeline": args.pipeline, "date": args.date,
                                "cores": os.cpu_count(), "runs": results,
                                "summary": summary}, indent=2))
    console.print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
