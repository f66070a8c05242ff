"""Daily lead scoring: generate the day's leads from fresh silver customers, train a seeded
Spark ML model, evaluate it, stop unless AUC >= 0.75, deploy it atomically to
production/latest, score the day's leads and notify.

Luigi tasks in namespace ``lead_scoring_mlops``. The pipeline is data-aware by dependency:
``generate_leads`` requires the ETL's ``ingest_cdc`` (its silver customers target), so
building the ML pipeline for a date first makes sure that date's silver data exists::

    luigi --module workbench_luigi.lead_scoring_mlops lead_scoring_mlops.notify \\
        --date 2026-10-05
"""

from __future__ import annotations

from pipelines_core.spec import get_pipeline
from pipelines_core.steps import ml

from workbench_luigi import customer_daily_etl
from workbench_luigi.base import StepTask

PIPELINE = "lead_scoring_mlops"
SPEC = get_pipeline(PIPELINE)


class generate_leads(StepTask):
    """Leads of the date, joined to fresh silver customers."""

    task_namespace = PIPELINE
    writes = (("silver", ml.LEADS_TABLE),)

    def requires(self):
        # the trigger of the spec (customer_daily_etl.ingest_cdc), as a Luigi dependency
        return customer_daily_etl.ingest_cdc(date=self.date)


class train(StepTask):
    """Fit a seeded Spark ML pipeline on the training split."""

    task_namespace = PIPELINE
    writes = (("models", ml.MODEL_TABLE),)

    def requires(self):
        return generate_leads(date=self.date)


class evaluate(StepTask):
    """AUC and friends on the held-out split, to metrics.json."""

    task_namespace = PIPELINE
    writes = (("models", f"{ml.MODEL_TABLE}_metrics"),)

    def requires(self):
        return train(date=self.date)


class auc_gate(StepTask):
    """Stop unless AUC >= 0.75."""

    task_namespace = PIPELINE

    def requires(self):
        return evaluate(date=self.date)


class deploy(StepTask):
    """Atomically switch production/latest to this model."""

    task_namespace = PIPELINE
    writes = (("production", ml.MODEL_TABLE),)

    def requires(self):
        return auc_gate(date=self.date)


class batch_predictions(StepTask):
    """Score the date's leads with the deployed model."""

    task_namespace = PIPELINE
    writes = (("gold", ml.PREDICTIONS_TABLE),)

    def requires(self):
        return deploy(date=self.date)


class notify(StepTask):
    """Tell the sink that the date is done."""

    task_namespace = PIPELINE
    writes = (("reports", f"{PIPELINE}_notifications"),)

    def requires(self):
        return batch_predictions(date=self.date)


TERMINAL = notify
