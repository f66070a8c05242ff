"""The pipeline spec: steps, upstreams, fan-out, branch, gates, schedule and retry policy.

Declared once here; every orchestrator builds its native graph from it and a conformance
test compares that graph with this spec.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable

from pipelines_core.errors import SpecError


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a failed step is tried again.

    The delay before retry ``n`` (1-based) is ``min(base_delay_s * backoff_factor**(n-1),
    max_delay_s)``; ``timeout_s`` bounds one attempt.
    """

    retries: int = 2
    base_delay_s: float = 2.0
    backoff_factor: float = 2.0
    max_delay_s: float = 10.0
    timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise SpecError(f"inconsistent retry policy {self}")
        if self.backoff_factor < 1 or self.timeout_s <= 0:
            raise SpecError(f"inconsistent retry policy {self}")

    def delay_before(self, retry: int) -> float:
        """Delay in seconds before retry number ``retry`` (1 = the second attempt)."""
        if retry < 1:
            raise ValueError("retry numbers start at 1")
        return min(self.base_delay_s * self.backoff_factor ** (retry - 1), self.max_delay_s)

    def delays(self) -> list[float]:
        """All configured delays, in order, for ``retries`` retries."""
        return [self.delay_before(n) for n in range(1, self.retries + 1)]


@dataclass(frozen=True)
class StepSpec:
    """One step of a pipeline.

    Attributes:
        name: The step's name: the same in the core, every orchestrator and the ledger.
        func: ``module:function`` of the core step it runs.
        upstream: Names of the steps that must finish first.
        kind: ``task``, ``sensor``, ``gate`` (a failure stops everything downstream),
            ``branch`` (returns the name of the one downstream step to run), or ``join``
            (runs after whichever branch ran).
        fan_out: Name of the dimension the step is mapped over (``region``), or empty.
        doc: One line for the orchestrators' UIs.
    """

    name: str
    func: str
    upstream: tuple[str, ...] = ()
    kind: str = "task"
    fan_out: str = ""
    doc: str = ""

    def resolve(self) -> Callable:
        module_name, _, attr = self.func.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise SpecError(f"step {self.name!r}: cannot resolve {self.func!r}: {exc}") from None


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline: its steps in a valid order, its schedule and its retry policy."""

    name: str
    description: str
    steps: tuple[StepSpec, ...]
    schedule: str = "0 2 * * *"
    start_date: date = date(2026, 10, 1)
    catchup: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    tags: tuple[str, ...] = ()
    triggered_by: str = ""

    def step(self, name: str) -> StepSpec:
        for s in self.steps:
            if s.name == name:
                return s
        raise SpecError(f"pipeline {self.name!r} has no step {name!r}")

    @property
    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]

    def edges(self) -> set[tuple[str, str]]:
        """(upstream, downstream) pairs: the graph every implementation must reproduce."""
        return {(u, s.name) for s in self.steps for u in s.upstream}

    def downstream_of(self, name: str) -> set[str]:
        """Every step that depends, directly or not, on ``name``."""
        out: set[str] = set()
        frontier = {name}
        while frontier:
            nxt = {s.name for s in self.steps if set(s.upstream) & frontier} - out
            out |= nxt
            frontier = nxt
        return out

    def validate(self) -> None:
        """Raise SpecError unless names are unique, upstreams exist, the graph is acyclic,
        every function resolves and every branch names real downstream steps."""
        names = self.step_names
        if len(set(names)) != len(names):
            raise SpecError(f"pipeline {self.name!r} repeats a step name")
        seen: set[str] = set()
        for s in self.steps:
            for u in s.upstream:
                if u not in names:
                    raise SpecError(f"step {s.name!r} names unknown upstream {u!r}")
                if u not in seen:
                    raise SpecError(f"pipeline {self.name!r} has a cycle or misordered step "
                                    f"at {s.name!r} <- {u!r}")
            if s.kind not in ("task", "sensor", "gate", "branch", "join"):
                raise SpecError(f"step {s.name!r} has unknown kind {s.kind!r}")
            if s.kind == "branch" and len([d for d in self.steps if s.name in d.upstream]) < 2:
                raise SpecError(f"branch {s.name!r} needs at least two downstream steps")
            s.resolve()
            seen.add(s.name)


def _core(module: str, name: str) -> str:
    return f"pipelines_core.steps.{module}:{name}"


CUSTOMER_DAILY_ETL = PipelineSpec(
    name="customer_daily_etl",
    description=(
        "Daily customer ETL: wait for the bronze CDC export of the date, resolve it into "
        "silver customers, stop on a data-quality violation, aggregate gold metrics per "
        "region, then write the monthly (1st of the month) or daily report and notify."
    ),
    steps=(
        StepSpec("wait_for_export", _core("etl", "wait_for_export"), kind="sensor",
                 doc="Wait until the bronze CDC export of the date exists (with a timeout)."),
        StepSpec("ingest_cdc", _core("etl", "ingest_cdc"), ("wait_for_export",),
                 doc="Resolve CDC events by operation time into silver customers."),
        StepSpec("quality_gate", _core("etl", "quality_gate"), ("ingest_cdc",), kind="gate",
                 doc="Nulls, duplicate keys, row-count bounds, referential checks."),
        StepSpec("gold_region_aggregates", _core("etl", "gold_region_aggregates"),
                 ("quality_gate",), fan_out="region",
                 doc="Gold metrics of one region (mapped over regions)."),
        StepSpec("gold_summary", _core("etl", "gold_summary"), ("gold_region_aggregates",),
                 doc="Fan-in: combine the regions into the daily summary."),
        StepSpec("choose_report", _core("etl", "choose_report"), ("gold_summary",),
                 kind="branch", doc="Monthly report on the 1st of a month, daily otherwise."),
        StepSpec("monthly_report", _core("etl", "monthly_report"), ("choose_report",),
                 doc="Report over the previous month's summaries."),
        StepSpec("daily_report", _core("etl", "daily_report"), ("choose_report",),
                 doc="Report of the date."),
        StepSpec("notify", _core("etl", "notify"), ("monthly_report", "daily_report"),
                 kind="join", doc="Tell the sink that the date is done."),
    ),
    retry=RetryPolicy(retries=2, base_delay_s=2.0, backoff_factor=2.0, max_delay_s=10.0,
                      timeout_s=600.0),
    tags=("etl", "customers", "spark"),
)

LEAD_SCORING_MLOPS = PipelineSpec(
    name="lead_scoring_mlops",
    description=(
        "Daily lead scoring: generate the day's leads from fresh silver customers, train a "
        "seeded Spark ML model, evaluate it, stop unless AUC >= 0.75, deploy it atomically "
        "to production/latest, score the day's leads and notify."
    ),
    steps=(
        StepSpec("generate_leads", _core("ml", "generate_leads"),
                 doc="Leads of the date, joined to fresh silver customers."),
        StepSpec("train", _core("ml", "train"), ("generate_leads",),
                 doc="Fit a seeded Spark ML pipeline on the training split."),
        StepSpec("evaluate", _core("ml", "evaluate"), ("train",),
                 doc="AUC and friends on the held-out split, to metrics.json."),
        StepSpec("auc_gate", _core("ml", "auc_gate"), ("evaluate",), kind="gate",
                 doc="Stop unless AUC >= 0.75."),
        StepSpec("deploy", _core("ml", "deploy"), ("auc_gate",),
                 doc="Atomically switch production/latest to this model."),
        StepSpec("batch_predictions", _core("ml", "batch_predictions"), ("deploy",),
                 doc="Score the date's leads with the deployed model."),
        StepSpec("notify", _core("ml", "notify"), ("batch_predictions",), kind="join",
                 doc="Tell the sink that the date is done."),
    ),
    retry=RetryPolicy(retries=2, base_delay_s=2.0, backoff_factor=2.0, max_delay_s=10.0,
                      timeout_s=600.0),
    tags=("ml", "leads", "spark"),
    triggered_by="customer_daily_etl.ingest_cdc",
)

PIPELINES: dict[str, PipelineSpec] = {
    p.name: p for p in (CUSTOMER_DAILY_ETL, LEAD_SCORING_MLOPS)
}

AUC_THRESHOLD = 0.75
REGIONS = ("amer", "apac", "emea", "latam")


class DateOutOfRange(SpecError):
    """A date the pipeline has no run for: before its start date, or not over yet."""


def check_date(spec: PipelineSpec, day: date, today: date | None = None) -> None:
    """Refuse, with one line naming the date, the pipeline and its range, a date before the
    pipeline's start date or after today (UTC): such a date is refused before anything
    starts, by the workbench and by every adapter, whatever the orchestrator would do."""
    today = today or datetime.now(timezone.utc).date()
    if day < spec.start_date:
        raise DateOutOfRange(f"{day} is before the start date of {spec.name} "
                             f"({spec.start_date}): it has no run for that date")
    if day > today:
        raise DateOutOfRange(f"{day} is after today ({today}): {spec.name} runs a date "
                             f"from {spec.start_date} to today")


def required_steps(spec: PipelineSpec) -> list[tuple[str, ...]]:
    """What a successful run must show in the ledger: for each group, a successful attempt
    of one of its steps. Every step is a group of its own, except the alternatives of a
    branch, which form one group (the branch runs one of them). Gates and sensors are left
    aside: a gate that stops the run fails it, and a sensor may be the orchestrator's own
    check that the input exists (Luigi's external task), which runs no step; the step that
    reads the input proves it was there."""
    alternatives = {s.name: tuple(d.name for d in spec.steps if s.name in d.upstream)
                    for s in spec.steps if s.kind == "branch"}
    in_branch = {name for names in alternatives.values() for name in names}
    groups: list[tuple[str, ...]] = []
    for s in spec.steps:
        if s.kind in ("gate", "sensor") or s.name in in_branch:
            continue
        groups.append((s.name,))
        if s.name in alternatives:
            groups.append(alternatives[s.name])
    return groups


def get_pipeline(name: str) -> PipelineSpec:
    """The spec of ``name``, or a SpecError listing the known pipelines."""
    try:
        return PIPELINES[name]
    except KeyError:
        raise SpecError(f"unknown pipeline {name!r}; known: {', '.join(PIPELINES)}") from None


def retry_policy(spec: PipelineSpec, config=None) -> RetryPolicy:
    """The spec's retry policy with the configuration's overrides applied."""
    if config is None:
        return spec.retry
    import dataclasses

    return dataclasses.replace(spec.retry, **config.retry_overrides())
