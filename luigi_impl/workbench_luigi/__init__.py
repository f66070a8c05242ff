"""Both workbench pipelines as Luigi tasks: one task class per spec step, thin over the core.

Modules: ``customer_daily_etl`` and ``lead_scoring_mlops`` (the tasks), ``base`` (the step
task, lake targets, the failure alert handler), ``settings`` (Luigi configuration derived
from the spec and the workbench configuration), ``service`` (``luigid``: up, down, status,
kill, restart) and ``run`` (the worker's command line used by the adapter, the demo and the
tests).
"""
