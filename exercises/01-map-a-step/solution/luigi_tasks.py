"""The step ``choose_report`` of customer_daily_etl as a Luigi task."""

from __future__ import annotations

import json

import luigi

from pipelines_core.config import load_config
from pipelines_core.runtime import run_step


class choose_report(luigi.Task):
    """Monthly report on the 1st of a month, daily otherwise."""

    date = luigi.DateParameter()

    def output(self) -> luigi.LocalTarget:
        folder = load_config().namespace_root() / "exercise"
        return luigi.LocalTarget(str(folder / f"choose_report-{self.date}.json"))

    def run(self) -> None:
        result = run_step("customer_daily_etl", "choose_report", self.date, attempt=0,
                          orchestrator="luigi")
        with self.output().open("w") as fh:
            json.dump(result, fh)
