"""``workbench bench``: run the harness with a live progress display, write and render results.

Any subset of scenarios and orchestrators, e.g. the overhead of one orchestrator against the
direct runner, median of three after a warm-up::

    workbench bench --scenarios happy_path --orchestrators prefect --repetitions 3
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.harness import ADAPTERS, Harness
from benchmarks.plan import OPTIONAL_SCENARIOS, PRESETS, PROFILES, SCENARIOS, BenchPlan
from benchmarks.results import write_results
from pipelines_core.config import PROJECT_ROOT, WorkbenchConfig, load_config
from pipelines_core.errors import WorkbenchError
from pipelines_core.postgres import PostgresServer
from pipelines_core.spark import (connect_server_status, start_connect_server,
                                  stop_connect_server, stop_sessions)


def _exclusive(config: WorkbenchConfig) -> Any:
    """One benchmark per state folder: two would reset each other's fault counters, share
    namespaces and stop each other's Spark server."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(config.state_dir / "bench.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        raise WorkbenchError(f"a benchmark is already running over {config.state_dir} "
                             f"(pid {holder}); wait for it, or set WORKBENCH_STATE_DIR "
                             "and WORKBENCH_LAKE_ROOT to run one apart") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``bench`` command's own options (``--scale`` comes with the common ones)."""
    parser.add_argument("--preset", choices=PRESETS, default="quick",
                        help="quick (about 15 min), full (about 45 min), bad-input "
                        "(broken exports, a date out of range, a double trigger) or crash "
                        "(each component of each orchestrator killed mid-run)")
    parser.add_argument("--orchestrators", default="airflow,prefect,dagster,luigi",
                        help="comma-separated; the direct baseline always runs")
    parser.add_argument("--out", help="reports folder (default: reports/)")
    parser.add_argument("--scenarios", help="comma-separated subset of "
                        f"{','.join(SCENARIOS + OPTIONAL_SCENARIOS)} (default: the preset's; "
                        "the happy path always runs)")
    parser.add_argument("--profile", choices=PROFILES, default="production",
                        help="production: every orchestrator's metadata on the workbench's "
                        "PostgreSQL, as their docs recommend (default); default: each "
                        "quickstart's SQLite")
    parser.add_argument("--repetitions", type=int,
                        help="counted runs of the happy path and the floor, after one "
                        "warm-up (default: the preset's)")
    parser.add_argument("--crash-targets",
                        help="crash preset: comma-separated components (e.g. scheduler,"
                        "worker) or 'step process' to kill (default: every one)")
    return parser


def plan_from(args: argparse.Namespace, names: list[str]) -> BenchPlan:
    """The preset's plan, narrowed or changed by the options given."""
    changes: dict[str, Any] = {}
    if getattr(args, "scenarios", None):
        asked = [x.strip() for x in args.scenarios.split(",") if x.strip()]
        changes["scenarios"] = tuple(dict.fromkeys(["happy_path", *asked]))
    if getattr(args, "scale", None):
        changes["scale"] = args.scale
    if getattr(args, "profile", None):
        changes["profile"] = args.profile
    if getattr(args, "repetitions", None) is not None:
        changes["repetitions"] = args.repetitions
    if getattr(args, "crash_targets", None):
        changes["crash_targets"] = tuple(x.strip() for x in args.crash_targets.split(",")
                                         if x.strip())
    try:
        return replace(BenchPlan.preset(args.preset, names), **changes)
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from None


def run_bench(args: argparse.Namespace, config: WorkbenchConfig, console: Any) -> int:
    from rich.table import Table

    names = [n.strip() for n in args.orchestrators.split(",") if n.strip()]
    unknown = [n for n in names if n not in ADAPTERS]
    if unknown:
        raise WorkbenchError(f"unknown orchestrator(s) {', '.join(unknown)}; "
                             f"known: {', '.join(ADAPTERS)}")
    plan = plan_from(args, names)
    config = config.replace(spark_mode="connect")
    lock = _exclusive(config)  # held until this process ends
    # A TERM (make down, a CI timeout) must reach the finally blocks that stop the services.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = not connect_server_status(config)["pid"]
    start_connect_server(config)
    # the production profile's PostgreSQL: the service commands start it when they need it;
    # a server this benchmark started is stopped at its end, as the Spark server is
    postgres = PostgresServer(config)
    postgres_before = postgres.running()
    t0 = time.monotonic()
    try:
        with console.status("benchmark starting") as status:
            def progress(msg: str) -> None:
                status.update(f"[{time.monotonic() - t0:5.0f} s] {msg.splitlines()[0]}")
                console.log(msg)

            results = Harness(config, plan, progress=progress).run()
    finally:
        # Let go of this process's own session first: a client left attached to a stopped
        # server retries until it gives up, which holds the exit for minutes.
        stop_sessions()
        if started:
            stop_connect_server(config)
        if not postgres_before:
            postgres.stop()
    out_root = Path(args.out) if args.out else PROJECT_ROOT / "reports"
    folder = write_results(results, out_root)
    md, html = report.render(results, folder)
    table = Table(title=f"benchmark ({args.preset}, {time.monotonic() - t0:.0f} s)")
    rows = report.headline_rows(results)
    cols = [k for k in rows[0] if k != "errors"] if rows else []
    for c in cols:
        table.add_column(c.replace("_", " "), justify="right")
    for r in rows:
        table.add_row(*[r[c] for c in cols])
    console.print(table)
    console.print(f"report: {html}\n        {md}\n        {folder / 'results.json'}")
    return 0 if all(not o["errors"] for o in results["orchestrators"].values()) else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.cli [options]``: the same as ``workbench bench``."""
    from rich.console import Console

    parser = add_arguments(argparse.ArgumentParser(prog="workbench bench",
                                                   description=__doc__.split("\n")[0]))
    parser.add_argument("--scale", type=int, help="customer CDC rows per day")
    args = parser.parse_args(argv)
    try:
        return run_bench(args, load_config(), Console())
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
