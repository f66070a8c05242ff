"""A small pipeline of the course: ingest the day's CDC export, then count customers per
segment. Declared once here; every orchestrator file builds its graph from it."""

from __future__ import annotations

from pipelines_core.spec import PipelineSpec, StepSpec

PIPELINE = PipelineSpec(
    name="customer_segments",
    description="Ingest the day's CDC export into silver customers, then count active "
                "customers per segment into gold.",
    steps=(
        StepSpec("ingest_cdc", "pipelines_core.steps.etl:ingest_cdc",
                 doc="Resolve CDC events by operation time into silver customers."),
        # TODO: the new step segment_counts (function my_step:segment_counts), after ingest_cdc
    ),
    tags=("exercise",),
)
