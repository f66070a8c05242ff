"""customer_segments as Luigi tasks built from my_spec."""

from __future__ import annotations

import json

import luigi

from my_spec import PIPELINE
from pipelines_core.config import load_config
from pipelines_core.runtime import run_step


class Step(luigi.Task):
    """A step of customer_segments for one date; the class name is the step's name."""

    date = luigi.DateParameter()

    def output(self) -> luigi.LocalTarget:
        folder = load_config().namespace_root() / "exercise" / PIPELINE.name
        return luigi.LocalTarget(str(folder / f"{type(self).__name__}-{self.date}.json"))

    def run(self) -> None:
        result = run_step(PIPELINE, type(self).__name__, self.date, attempt=0,
                          orchestrator="luigi")
        with self.output().open("w") as fh:
            json.dump(result, fh)


class ingest_cdc(Step):
    """Resolve CDC events by operation time into silver customers."""


class segment_counts(Step):
    """Active customers per segment into gold."""

    def requires(self):
        return ingest_cdc(date=self.date)
