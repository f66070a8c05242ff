"""Dagster step keys back to the spec's step names (the run-failure sensor and the tests read
them; the service command prints the renamed and auxiliary names for the benchmark adapter).

Step keys look like ``customer_daily_etl__ingest_cdc`` (an asset),
``customer_daily_etl__ingest_cdc_quality_gate`` (an asset check),
``customer_daily_etl__gold_region_aggregates.aggregate_region[emea]`` (a mapped op inside a
graph-backed asset) or ``customer_daily_etl__report.notify`` (an op of the branch graph).
"""

from __future__ import annotations

import re

# Ops that exist only to fan out and in: they belong to the mapped step.
HELPER_OPS = {"split_regions": "gold_region_aggregates",
              "collect_regions": "gold_region_aggregates",
              "aggregate_region": "gold_region_aggregates"}
CHECKS = {"ingest_cdc_quality_gate": "quality_gate", "evaluate_auc_gate": "auc_gate"}
AUXILIARY = {"split_regions", "collect_regions"}


def parse_step_key(step_key: str) -> tuple[str, str | None, bool]:
    """``(spec step name, map key or None, auxiliary?)`` of a Dagster step key.

    ``auxiliary`` is true for the fan-out/fan-in helper ops, which run no core step.
    """
    match = re.match(r"^(?P<body>.*?)(?:\[(?P<key>[^\]]+)\])?$", step_key)
    body, map_key = match.group("body"), match.group("key")
    leaf = body.rsplit(".", 1)[-1]
    leaf = leaf.split("__", 1)[1] if "__" in leaf else leaf
    aux = leaf in AUXILIARY
    name = CHECKS.get(leaf) or HELPER_OPS.get(leaf) or leaf
    return name, map_key, aux


def error_message(info) -> str:
    """The user's own error in a Dagster ``SerializableErrorInfo`` (duck-typed).

    A retried failure is wrapped in ``RetryRequestedFromPolicy``; the step's exception is its
    cause, e.g. ``pipelines_core.errors.InjectedFault: injected raise fault ...``, returned
    as ``InjectedFault: injected raise fault ...``.
    """
    while getattr(info, "cause", None) is not None:
        info = info.cause
    return short_error((getattr(info, "message", "") or "").strip())


def short_error(message: str) -> str:
    """``pipelines_core.errors.GateFailed: ...`` as the ledger writes it: ``GateFailed: ...``."""
    return re.sub(r"^(?:[A-Za-z_][\w]*\.)+([A-Za-z_]\w*): ", r"\1: ", message)
