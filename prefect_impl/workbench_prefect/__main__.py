"""``python -m workbench_prefect deploy|backfill|run``: deploy both flows, create the runs of a
backfill, or run one date in-process (against the server ``PREFECT_API_URL`` names)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from workbench_prefect import POOL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbench_prefect")
    sub = parser.add_subparsers(dest="command", required=True)
    dep = sub.add_parser("deploy", help="create the work pool and both deployments")
    dep.add_argument("--pool", default=POOL)
    dep.add_argument("--no-ml-trigger", action="store_true",
                     help="create the ML deployment's event trigger disabled")
    bf = sub.add_parser("backfill", help="one deployment run per date of a range, at most "
                                         "PARALLELISM at once (the worker runs them)")
    run = sub.add_parser("run", help="run one flow for one date in this process")
    for p in (bf, run):
        p.add_argument("--pipeline", required=True)
    bf.add_argument("--start", required=True)
    bf.add_argument("--end", required=True)
    bf.add_argument("--parallelism", type=int, default=2)
    run.add_argument("--date", required=True)
    args = parser.parse_args(argv)
    if args.command in ("backfill", "run"):
        # a date out of the pipeline's range (or no date at all) is refused before any run
        # is created: one line, exit 2
        from pipelines_core.errors import SpecError
        from pipelines_core.spec import check_date, get_pipeline

        try:
            spec = get_pipeline(args.pipeline)
            for text in ([args.start, args.end] if args.command == "backfill" else [args.date]):
                try:
                    day = date.fromisoformat(text)
                except ValueError:
                    raise SpecError(f"{text!r} is not a date (YYYY-MM-DD)") from None
                check_date(spec, day)
        except SpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    if args.command == "deploy":
        from workbench_prefect.deployments import deploy_all

        ids = deploy_all(args.pool, with_ml_trigger=not args.no_ml_trigger)
        print(json.dumps(ids))
        return 0
    if args.command == "backfill":
        from pipelines_core.runner import date_range
        from workbench_prefect.deployments import backfill

        days = date_range(date.fromisoformat(args.start), date.fromisoformat(args.end))
        print(json.dumps(backfill(args.pipeline, days, args.parallelism)))
        return 0
    from workbench_prefect.flows import FLOWS

    state = FLOWS[args.pipeline](day=date.fromisoformat(args.date), return_state=True)
    print(json.dumps({"state": state.name,
                      "flow_run_id": str(state.state_details.flow_run_id)}))
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())
