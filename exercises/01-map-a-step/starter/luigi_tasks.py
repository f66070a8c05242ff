"""The step ``choose_report`` of customer_daily_etl as a Luigi task."""

from __future__ import annotations

import json  # noqa: F401

import luigi

from pipelines_core.config import load_config  # noqa: F401
from pipelines_core.runtime import run_step  # noqa: F401


class todo(luigi.Task):
    """TODO: a task class named as the step with a ``date`` DateParameter; ``output()`` a
    LocalTarget holding the step's JSON result under the lake
    (``load_config().namespace_root() / "exercise" / f"choose_report-{date}.json"``);
    ``run()`` calls run_step(orchestrator="luigi", attempt=0: Luigi has no attempt number)
    and writes the result there."""

    def run(self) -> None:
        raise NotImplementedError
