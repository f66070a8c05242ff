"""``workbench``: the command line the Makefile and people use.

Assembled from the layers: the core's commands (``check``, ``spark``, ``generate``, ``run``,
``backfill``, ``ledger``), the benchmark's ``bench`` (its options and its run from
``benchmarks.cli``) and the course's ``exercise`` (``course_kit.exercises``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from benchmarks import cli as bench_cli
from pipelines_core.cli import CommandLine, config_from_args, core_commands, rich_console


def cmd_bench(args: argparse.Namespace) -> int:
    return bench_cli.run_bench(args, config_from_args(args), rich_console())


def cmd_exercise(args: argparse.Namespace) -> int:
    from course_kit.exercises import main as exercises_main

    return exercises_main([args.action] + ([args.number] if args.number else []))


def command_line() -> CommandLine:
    line = core_commands(description=__doc__.split("\n")[0])
    bench_cli.add_arguments(line.add("bench", cmd_bench, "benchmark the orchestrators"))
    p = line.add("exercise", cmd_exercise, "check or reset a course exercise (exercises/)",
                 config_options=False)
    p.add_argument("action", choices=("check", "reset", "list"))
    p.add_argument("number", nargs="?", help="the exercise's number, e.g. 2")
    return line


def main(argv: Sequence[str] | None = None) -> int:
    return command_line().main(argv)


if __name__ == "__main__":
    sys.exit(main())
