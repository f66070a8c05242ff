"""Command line of a Luigi worker over ``luigi.build``: one date, or a ``RangeDaily`` backfill.

    python -m workbench_luigi run --pipeline customer_daily_etl --date 2026-10-05
    python -m workbench_luigi backfill --pipeline customer_daily_etl \\
        --start 2026-10-01 --end 2026-10-03 --workers 2
    python -m workbench_luigi config            # write luigi.cfg for the plain `luigi` CLI

Luigi judges a date done from its outputs: ``run`` for a date whose outputs exist runs
nothing, says so on stderr with the command that forces it (``--force``: the steps' results of
the date are removed first, so every step runs and reads its inputs again), and prints a
``SKIPPED`` summary.

``run`` and ``backfill`` use an in-process scheduler unless ``--scheduler-url`` names a
luigid (``python -m workbench_luigi.service up`` starts one). The worker's log goes to
``<state_dir>/luigi/logs/worker-*.log`` (one line per record, with the pid of the process
that wrote it: each attempt runs in its own process). The last line printed is a JSON
summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import date as Date
from datetime import datetime, timedelta, timezone
from pathlib import Path

import luigi
from luigi.tools.range import RangeDaily

from pipelines_core.config import config_for, parse_date
from pipelines_core.errors import WorkbenchError
from pipelines_core.spec import check_date, get_pipeline

from workbench_luigi import customer_daily_etl, lead_scoring_mlops
from workbench_luigi.settings import ORCHESTRATOR, apply_settings, state_root, write_luigi_cfg

TERMINALS = {"customer_daily_etl": customer_daily_etl.TERMINAL,
             "lead_scoring_mlops": lead_scoring_mlops.TERMINAL}
LOG_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s: %(message)s"


def terminal(pipeline: str) -> type[luigi.Task]:
    """The last task of ``pipeline``: building it builds the whole pipeline for a date."""
    try:
        return TERMINALS[pipeline]
    except KeyError:
        raise SystemExit(f"error: unknown pipeline {pipeline!r}; known: "
                         f"{', '.join(TERMINALS)}") from None


def range_daily(pipeline: str, start: Date, end: Date) -> RangeDaily:
    """A ``RangeDaily`` over ``start``..``end`` (inclusive) of ``pipeline``'s last task."""
    days = (end - start).days + 1
    back = (datetime.now(timezone.utc).date() - start).days + 1
    return RangeDaily(of=terminal(pipeline), start=start, stop=end + timedelta(days=1),
                      task_limit=max(50, days), days_back=max(100, back),
                      days_forward=max(0, (end - datetime.now(timezone.utc).date()).days + 1))


def configure_logging(log_dir: Path) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = log_dir / f"worker-{stamp}-{os.getpid()}.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler, console]
    root.setLevel(logging.INFO)
    return path


def preload_spark_client(config) -> None:
    """Import the Spark client in the worker before it forks one process per attempt.

    Importing pyspark (pandas, pyarrow, grpc) costs seconds; forked attempts inherit the
    imported modules. No session is opened here: a gRPC channel must not cross a fork.
    """
    if config.spark_mode == "local":
        return
    import pyspark.ml  # noqa: F401
    import pyspark.ml.evaluation  # noqa: F401
    import pyspark.ml.functions  # noqa: F401
    import pyspark.sql.connect.session  # noqa: F401
    import pyspark.sql.functions  # noqa: F401


def forget(pipeline: str, day: Date) -> list[Path]:
    """Remove the steps' results of ``day`` (what makes Luigi judge its tasks complete), so
    every step runs again; the lake's partitions are replaced atomically when they do."""
    import shutil

    from workbench_luigi.base import results_root

    removed = []
    for found in (results_root(config_for(ORCHESTRATOR)) / pipeline).glob(
            f"*/date={day.isoformat()}"):
        shutil.rmtree(found)
        removed.append(found)
    return removed


def build(tasks: list[luigi.Task], *, scheduler_url: str | None, workers: int,
          log_dir: Path | None = None) -> dict:
    """``luigi.build`` with the workbench's settings; returns a JSON-safe summary."""
    config = config_for(ORCHESTRATOR)
    apply_settings(config)
    # the worker's log goes to our file, not to Luigi's own console setup
    luigi.configuration.get_config().set("core", "no_configure_logging", "true")
    log_path = configure_logging(log_dir or state_root(config) / "logs")
    preload_spark_client(config)
    params = {"workers": workers, "detailed_summary": True}
    if scheduler_url:
        params["scheduler_url"] = scheduler_url
    else:
        params["local_scheduler"] = True
    t0 = time.time()
    result = luigi.build(tasks, **params)
    wall = time.time() - t0
    return {"status": result.status.name, "ok": result.status.name in ("SUCCESS",
                                                                       "SUCCESS_WITH_RETRY"),
            "summary": result.one_line_summary, "details": result.summary_text,
            "start": t0, "end": t0 + wall, "wall_s": wall, "log": str(log_path),
            "worker_id": result.worker._id, "namespace": config.namespace,
            "scheduler_url": scheduler_url or "local"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench_luigi", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "backfill"):
        p = sub.add_parser(name)
        p.add_argument("--pipeline", required=True, choices=sorted(TERMINALS))
        if name == "run":
            p.add_argument("--date", required=True)
        else:
            p.add_argument("--start", required=True)
            p.add_argument("--end", required=True, help="last date, inclusive")
        p.add_argument("--workers", type=int, default=1)
        p.add_argument("--scheduler-url", default=None,
                       help="a luigid, e.g. http://127.0.0.1:8082 (default: local scheduler)")
        p.add_argument("--log-dir", type=Path, default=None)
        if name == "run":
            p.add_argument("--force", action="store_true",
                           help="run every step of the date again, even when its outputs "
                                "exist (Luigi otherwise judges the date done from them)")
    sub.add_parser("config")
    args = parser.parse_args(argv)

    if args.command == "config":
        print(write_luigi_cfg())
        return 0

    if args.command == "run":
        day = parse_date(args.date)
        try:
            check_date(get_pipeline(args.pipeline), day)
        except WorkbenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        tasks = [terminal(args.pipeline)(date=day)]
        if args.force:
            forget(args.pipeline, day)
        elif tasks[0].complete():
            # Luigi decides a date is done from its outputs, not from its inputs: a changed
            # export is not read again unless asked
            again = (f"python -m workbench_luigi run --pipeline {args.pipeline} "
                     f"--date {args.date} --force")
            print(f"skipped: the outputs of {args.pipeline} {args.date} exist, so Luigi runs "
                  f"nothing (it judges a date done from its outputs, not its inputs); to "
                  f"recompute it: {again}", file=sys.stderr)
            now = time.time()
            print(json.dumps({"status": "SKIPPED", "ok": True, "skipped": "outputs exist",
                              "force": again, "summary": "nothing ran: the outputs exist",
                              "start": now, "end": now, "wall_s": 0.0, "log": None,
                              "worker_id": None, "namespace": config_for(ORCHESTRATOR).namespace,
                              "scheduler_url": args.scheduler_url or "local",
                              "command": "run", "pipeline": args.pipeline}))
            return 0
    else:
        tasks = [range_daily(args.pipeline, parse_date(args.start), parse_date(args.end))]
    summary = build(tasks, scheduler_url=args.scheduler_url, workers=args.workers,
                    log_dir=args.log_dir)
    summary.update(command=args.command, pipeline=args.pipeline)
    print(json.dumps(summary, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
