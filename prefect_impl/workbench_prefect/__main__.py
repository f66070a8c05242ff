"""``python -m workbench_prefect deploy|run``: deploy both flows, or run one date in-process."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbench_prefect")
    sub = parser.add_subparsers(dest="command", required=True)
    dep = sub.add_parser("deploy", help="create the work pool and both deployments")
    dep.add_argument("--pool", default="workbench-process")
    dep.add_argument("--no-ml-trigger", action="store_true",
                     help="create the ML deployment's event trigger disabled")
    run = sub.add_parser("run", help="run one flow for one date in this process")
    run.add_argument("--pipeline", required=True)
    run.add_argument("--date", required=True)
    args = parser.parse_args(argv)

    if args.command == "deploy":
        from workbench_prefect.deployments import deploy_all

        ids = deploy_all(args.pool, with_ml_trigger=not args.no_ml_trigger)
        print(json.dumps(ids))
        return 0
    from workbench_prefect.flows import FLOWS

    state = FLOWS[args.pipeline](day=date.fromisoformat(args.date), return_state=True)
    print(json.dumps({"state": state.name}))
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())
