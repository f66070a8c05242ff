"""The core's commands of ``workbench``: ``check``, ``spark start|stop|status``,
``postgres start|stop|status``, ``generate``,
``run``, ``backfill``, ``ledger``.

A user mistake prints one line (``error: ...``) and exits 2; a pipeline that fails exits 1
after printing which step failed. :func:`core_commands` gives a :class:`CommandLine` holding
these commands, to which the root project adds its own (the benchmark's, the course's);
``python -m pipelines_core.cli`` runs the core's alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from datetime import date as Date
from typing import Any, Callable, Sequence

from pipelines_core.config import PROJECT_ROOT, WorkbenchConfig, load_config, parse_date
from pipelines_core.errors import WorkbenchError

IMPLS = ("airflow_impl", "prefect_impl", "dagster_impl", "luigi_impl")


def rich_console():
    """The console every command prints to."""
    from rich.console import Console

    # Piped output (make, CI logs) gets a width that fits the tables instead of 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def config_from_args(args: argparse.Namespace) -> WorkbenchConfig:
    """The configuration, with the command line's common options over the files and env."""
    overrides = {k: getattr(args, k, None) for k in
                 ("namespace", "scale", "spark_mode", "spark_url", "lake_root", "seed")}
    return load_config(**{k: v for k, v in overrides.items() if v is not None})


def _dates(args: argparse.Namespace) -> list[Date]:
    from pipelines_core.runner import date_range

    if getattr(args, "date", None):
        return [parse_date(args.date)]
    return date_range(parse_date(args.start), parse_date(args.end))


def cmd_check(args: argparse.Namespace) -> int:
    """Report Python, Java, uv, the five environments, the Spark server and PostgreSQL."""
    from pipelines_core import postgres
    from pipelines_core.spark import connect_server_status, java_version

    console = rich_console()
    config = config_from_args(args)
    java = java_version()
    rows = [("python", sys.version.split()[0], True),
            ("java", str(java) if java else "missing", java in (17, 21)),
            ("uv", shutil.which("uv") or "missing", bool(shutil.which("uv"))),
            ("root env", str(PROJECT_ROOT / ".venv"), (PROJECT_ROOT / ".venv").is_dir())]
    for impl in IMPLS:
        venv = PROJECT_ROOT / impl / ".venv"
        rows.append((f"{impl} env", str(venv), venv.is_dir()))
    status = connect_server_status(config)
    rows.append(("spark connect", f"{status['url']} pid={status['pid']}", bool(status["pid"])))
    try:
        pg = f"PostgreSQL {postgres.version()} ({postgres.pg_bin()})"
    except postgres.PostgresError as exc:
        pg = str(exc)
    running = postgres.PostgresServer(config).status()
    rows.append(("postgres", pg, "not installed" not in pg))
    rows.append(("postgres server", f"{running['url']} pid={running['pid']}",
                 bool(running["pid"])))
    for name, value, ok in rows:
        console.print(f"{'[green]ok[/]' if ok else '[red]--[/]'}  {name:<18} {value}")
    return 0 if java in (17, 21) else 2


def cmd_spark(args: argparse.Namespace) -> int:
    from pipelines_core import spark

    config = config_from_args(args)
    console = rich_console()
    if args.action == "start":
        t0 = time.monotonic()
        status = spark.start_connect_server(config)
        console.print(f"Spark Connect server listening at {status['url']} (pid {status['pid']}, "
                      f"{time.monotonic() - t0:.1f} s); log: {status['log']}")
    elif args.action == "stop":
        stopped = spark.stop_connect_server(config)
        console.print("Spark Connect server stopped" if stopped else "no Spark Connect server "
                      "started by the workbench is running")
    else:
        status = spark.connect_server_status(config)
        state = f"running (pid {status['pid']})" if status["pid"] else "not running"
        console.print(f"Spark Connect server {state} at {status['url']}")
        return 0 if status["pid"] else 1
    return 0


def cmd_postgres(args: argparse.Namespace) -> int:
    """The production profile's PostgreSQL server (pipelines_core.postgres)."""
    from pipelines_core.postgres import PostgresServer

    server = PostgresServer(config_from_args(args))
    console = rich_console()
    if args.action == "start":
        t0 = time.monotonic()
        status = server.start()
        console.print(f"PostgreSQL listening at {status['url']} (pid {status['pid']}, "
                      f"{time.monotonic() - t0:.1f} s); databases: "
                      f"{', '.join(status['databases'])}; log: {status['log']}")
    elif args.action == "stop":
        console.print("PostgreSQL stopped" if server.stop() else
                      "no PostgreSQL started by the workbench is running")
    else:
        status = server.status()
        state = f"running (pid {status['pid']})" if status["pid"] else "not running"
        console.print(f"PostgreSQL {state} at {status['url']}; data: {status['data']}")
        return 0 if status["pid"] else 1
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from pipelines_core.generator import write_customer_export

    config = config_from_args(args)
    dates = _dates(args)
    with Progress(console=rich_console(), transient=True) as progress:
        task = progress.add_task(f"generating {config.scale:,} rows/day", total=len(dates))
        for day in dates:
            out = write_customer_export(config, day)
            progress.console.print(f"bronze export {out['date']}: {out['path']}"
                                   + (" (bad day)" if out["bad_day"] else ""))
            progress.advance(task)
    return 0


def _print_outcome(console: Any, outcome: Any) -> None:
    colour = "green" if outcome.state == "success" else "red"
    console.print(f"[{colour}]{outcome.pipeline} {outcome.date}: {outcome.state}[/] "
                  f"in {outcome.wall_s:.1f} s")
    for s in outcome.steps:
        if s.state != "success":
            tail = f": {s.error}" if s.error else ""
            console.print(f"    {s.step}{f'[{s.map_key}]' if s.map_key else ''} {s.state}{tail}")


def _record_run(config: WorkbenchConfig, outcome: Any) -> None:
    """Append the direct runner's own run record (the direct adapter reads it back)."""
    from dataclasses import asdict

    path = config.state_dir / "runs" / f"{config.namespace}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps({**asdict(outcome), "namespace": config.namespace}) + "\n")


def _preflight(config: WorkbenchConfig) -> None:
    """Reach Spark before running anything, so an unreachable URL is one clear line."""
    from pipelines_core.spark import get_session

    get_session(config)


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines_core.runner import run_pipeline
    from pipelines_core.spec import check_date, get_pipeline

    config = config_from_args(args)
    spec = get_pipeline(args.pipeline)
    dates = _dates(args)
    for day in dates:  # refused before anything starts (Spark included)
        check_date(spec, day)
    _preflight(config)
    console = rich_console()
    failed = 0
    for day in dates:
        outcome = run_pipeline(spec, day, config)
        _record_run(config, outcome)
        _print_outcome(console, outcome)
        failed += outcome.state != "success"
    return 1 if failed else 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from pipelines_core.runner import backfill
    from pipelines_core.spec import check_date, get_pipeline

    config = config_from_args(args)
    spec = get_pipeline(args.pipeline)
    dates = _dates(args)
    for day in dates:  # refused before anything starts (Spark included)
        check_date(spec, day)
    _preflight(config)
    console = rich_console()
    t0 = time.monotonic()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"backfill {spec.name}", total=len(dates))

        def done(outcome: Any) -> None:
            _record_run(config, outcome)
            progress.advance(task)

        outcomes = backfill(spec, dates, config, parallelism=args.parallelism, on_done=done)
    for outcome in outcomes:
        _print_outcome(console, outcome)
    ok = sum(o.state == "success" for o in outcomes)
    console.print(f"{ok}/{len(outcomes)} dates succeeded in {time.monotonic() - t0:.1f} s "
                  f"(parallelism {args.parallelism})")
    return 0 if ok == len(outcomes) else 1


def cmd_ledger(args: argparse.Namespace) -> int:
    from rich.table import Table

    from pipelines_core.ledger import Ledger, summarize

    config = config_from_args(args)
    match = {k: v for k, v in (("namespace", args.namespace), ("pipeline", args.pipeline))
             if v}
    records = Ledger(config.ledger_path).read_attempts(**match)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
        return 0
    table = Table(title=f"Run ledger ({config.ledger_path})")
    for col in ("orchestrator", "pipeline", "date", "attempts", "succeeded", "failed",
                "step time (s)", "rows"):
        table.add_column(col, justify="right" if col[0] in "asfr" and col != "orchestrator"
                         else "left")
    for g in summarize(records):
        table.add_row(g["orchestrator"], g["pipeline"], g["date"], str(g["attempts"]),
                      str(g["succeeded"]), str(g["failed"]), f"{g['step_s']:.1f}",
                      f"{g['rows']:,}")
    rich_console().print(table)
    return 0


Handler = Callable[[argparse.Namespace], int]


class CommandLine:
    """The ``workbench`` parser and one handler per command.

    ``add`` gives a command its own parser (with the common configuration options unless
    ``config_options`` is False) to put its arguments on; ``main`` parses and dispatches.
    """

    def __init__(self, prog: str = "workbench", description: str = "") -> None:
        self.parser = argparse.ArgumentParser(prog=prog, description=description)
        self.parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
        self.common = argparse.ArgumentParser(add_help=False)
        self.common.add_argument("--namespace", help="lake namespace (default: direct)")
        self.common.add_argument("--scale", type=int, help="customer CDC rows per day")
        self.common.add_argument("--seed", type=int, help="data seed")
        self.common.add_argument("--spark-mode", choices=("local", "connect", "remote"))
        self.common.add_argument("--spark-url", help="spark:// or sc:// URL for remote mode")
        self.common.add_argument("--lake-root", help="lake folder")
        self._sub = self.parser.add_subparsers(dest="command", required=True)
        self.handlers: dict[str, Handler] = {}

    def add(self, name: str, handler: Handler, help: str, *,
            config_options: bool = True) -> argparse.ArgumentParser:
        """Register command ``name``; returns its parser."""
        self.handlers[name] = handler
        return self._sub.add_parser(name, parents=[self.common] if config_options else [],
                                    help=help)

    def main(self, argv: Sequence[str] | None = None) -> int:
        args = self.parser.parse_args(argv)
        if getattr(args, "start", None) and not getattr(args, "end", None):
            self.parser.error("--start needs --end")
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        try:
            return self.handlers[args.command](args)
        except WorkbenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


def _dated(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--date", help="one date, YYYY-MM-DD")
    g.add_argument("--start", help="first date, YYYY-MM-DD (with --end)")
    p.add_argument("--end", help="last date, included")


def core_commands(prog: str = "workbench", description: str = "") -> CommandLine:
    """A command line holding the core's commands."""
    line = CommandLine(prog, description or __doc__.split("\n")[0])
    line.add("check", cmd_check, "check Java, uv, environments, Spark")
    p = line.add("spark", cmd_spark, "the Spark Connect server")
    p.add_argument("action", choices=("start", "stop", "status"))
    p = line.add("postgres", cmd_postgres, "the production profile's PostgreSQL server")
    p.add_argument("action", choices=("start", "stop", "status"))
    _dated(line.add("generate", cmd_generate, "write bronze exports"))
    for name, handler, text in (("run", cmd_run, "run dates directly"),
                                ("backfill", cmd_backfill,
                                 "run a date range directly, in parallel")):
        p = line.add(name, handler, text)
        p.add_argument("--pipeline", required=True)
        _dated(p)
        if name == "backfill":
            p.add_argument("--parallelism", type=int, default=2)
    p = line.add("ledger", cmd_ledger, "summarise the run ledger")
    p.add_argument("--pipeline")
    p.add_argument("--json", action="store_true", help="every attempt as JSON")
    return line


def main(argv: Sequence[str] | None = None) -> int:
    return core_commands(prog="python -m pipelines_core.cli").main(argv)


if __name__ == "__main__":
    sys.exit(main())
