"""What every orchestrator adapter offers the benchmark, and the normalised records it returns.

An adapter runs one date of a pipeline, backfills a range with bounded parallelism, and reads
back what the orchestrator itself recorded (runs, step states, attempts, durations, logs),
all in the shapes below, so the harness compares orchestrators without knowing them.
"""

from __future__ import annotations

import abc
import re
from dataclasses import asdict, dataclass, field
from datetime import date as Date
from datetime import datetime, timezone
from typing import Any, Callable

from pipelines_core.config import WorkbenchConfig
from pipelines_core.ledger import Ledger
from pipelines_core.procs import group_alive
from pipelines_core.service import tail
from pipelines_core.spec import check_date, get_pipeline, required_steps


@dataclass
class AttemptView:
    """One attempt of one task as the orchestrator recorded it."""

    attempt: int
    state: str  # success | failed | skipped | upstream_failed | running | unknown
    start: str | None = None  # ISO 8601, UTC
    end: str | None = None
    duration_s: float | None = None
    error: str | None = None
    log_excerpt: str | None = None


@dataclass
class StepView:
    """One task (a step, or one mapped instance of a step) of one run."""

    step: str
    state: str
    map_key: str | None = None
    attempts: list[AttemptView] = field(default_factory=list)


@dataclass
class RunView:
    """One run of a pipeline for one date, as the orchestrator recorded it."""

    run_id: str
    pipeline: str
    date: str
    # success | failed | running | queued | unknown, or skipped: the orchestrator judged the
    # date done from its outputs and ran nothing (Luigi)
    state: str
    start: str | None = None
    end: str | None = None
    steps: list[StepView] = field(default_factory=list)
    url: str | None = None  # where the run is seen in the orchestrator's UI
    error: str | None = None  # why the run counts as failed, when the harness decided it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def step(self, name: str, map_key: str | None = None) -> StepView | None:
        return next((s for s in self.steps if s.step == name and s.map_key == map_key), None)


def _timestamp(text: str | None) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (UTC when it names no zone)."""
    try:
        at = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()


class ComponentDied(RuntimeError):
    """A component of the orchestrator's services died while the adapter waited on it."""

    @classmethod
    def of(cls, incidents: list[dict[str, Any]]) -> "ComponentDied":
        """The error for ``incidents`` (from :meth:`Adapter.components_died`): which died,
        when it was found, and the last exception its log's tail shows, if any."""
        parts = []
        for incident in incidents:
            text = f"{incident['component']} died, found at {incident['time']}"
            said = raised((incident.get("log_tail") or "").splitlines())
            parts.append(f"{text} (its log's last error: {said[:300]})" if said else text)
        return cls("; ".join(parts))


def raised(lines: list[str]) -> str | None:
    """``Type: message`` of the last exception a traceback in ``lines`` ends with. ``lines``
    may begin inside one (a log's tail that cut its header off): its first unindented line
    then counts only if it reads like an exception (``dotted.Name: message``)."""
    found, inside = None, "cut" if lines and lines[0].startswith("  ") else ""
    for ln in lines:
        if ln.startswith("Traceback (most recent call last):"):
            inside = "whole"
        elif inside and ln and not ln.startswith(" "):
            kind, sep, message = ln.partition(": ")
            if inside == "whole" or re.fullmatch(r"[A-Za-z_][\w.]*", kind):
                found = f"{kind.rpartition('.')[2]}{sep}{message}"
            inside = ""
    return found


@dataclass
class BackfillView:
    """The outcome of a backfill: one run per date, and how the orchestrator ran it."""

    pipeline: str
    dates: list[str]
    parallelism: int
    wall_s: float
    runs: list[RunView] = field(default_factory=list)
    mechanism: str = ""  # e.g. "airflow backfill create", "RangeDaily", "thread pool"


@dataclass
class Probe:
    """One observability probe: a question put to the orchestrator's own API or store, and
    its answer with the evidence. ``passed`` is None when the orchestrator does not offer
    what the probe asks (the evidence says why); ``error`` holds the traceback of a probe
    that raised, which then did not pass."""

    name: str
    passed: bool | None
    evidence: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Capabilities:
    """What the orchestrator does natively; the report says "not supported" for a False."""

    exponential_backoff: bool
    max_retry_delay: bool
    retry_jitter: bool
    attempt_timeout: bool
    attempt_number_in_task: bool
    native_backfill: bool
    metrics_endpoint: bool
    notes: dict[str, str] = field(default_factory=dict)


class Adapter(abc.ABC):
    """One orchestrator, seen by the benchmark harness.

    Lifecycle: ``start()`` brings up the orchestrator's services (no-op for the direct runner),
    the harness calls ``run_date``/``backfill``/``read_runs``, then ``stop()`` leaves nothing
    running. The adapter runs in the root environment and reaches its orchestrator through
    its own environment (a subprocess in ``<name>_impl/.venv``) or its API.
    """

    name: str = ""
    namespace: str = ""
    #: How the orchestrator runs the steps in this row (executor, worker type).
    mode: str = ""
    capabilities: Capabilities

    def __init__(self, config: WorkbenchConfig) -> None:
        self.config = config.replace(namespace=self.namespace or self.name,
                                     orchestrator=self.name)
        # Anything the adapter saw happen to the orchestrator's services and acted on in the
        # open (a component found dead and restarted): written to results.json, never hidden.
        self.incidents: list[dict[str, Any]] = []
        # Settings the adapter runs the orchestrator with that differ from its defaults.
        self.settings: dict[str, str] = {}
        self.profile = "default"
        self._reported: set[tuple[str, int]] = set()
        # Components down on purpose (the crash scenario's planned kill, until it restarts
        # them): not a death to report.
        self.planned_down: set[str] = set()

    def use_profile(self, profile: str) -> None:
        """Run the orchestrator's services on ``profile`` from the next ``start()``:
        ``production`` (its metadata on the workbench's PostgreSQL, as its docs recommend
        beyond development) or ``default`` (its quickstart's SQLite). The direct runner has
        no services and keeps no metadata: the profile changes nothing there."""
        self.profile = profile
        service = getattr(self, "service", None)
        if service is not None:
            service.profile = profile

    def use_detection(self, mode: str) -> None:
        """Run the orchestrator's services with their crash-detection settings at ``default``
        or ``tuned`` from the next ``start()`` (the service command's ``--detection``)."""
        service = getattr(self, "service", None)
        if service is not None:
            service.detection = mode

    def detection(self) -> dict[str, Any]:
        """The crash-detection settings the services run with (their status shows them);
        the direct runner has none: a step's process that dies ends the run."""
        service = getattr(self, "service", None)
        if service is None:
            return {"mode": "none", "settings": {}, "tuned": {}}
        return (service.status().get("info") or {}).get("detection") or {}

    def give_up(self, pipeline: str, day: Date) -> list[str]:
        """Mark every run of ``day`` that has not ended failed, as a human does before running
        the date again when the orchestrator allows one active run per date; the run ids it
        gave up. Nothing to do where a new run of the date may start beside a stuck one."""
        return []

    def start(self) -> None:
        """Start the orchestrator's services (server, scheduler, daemon)."""

    # --- what a run must be ------------------------------------------------------------------

    def refuse_out_of_range(self, pipeline: str, *days: Date) -> None:
        """Raise DateOutOfRange (one line: the date, the pipeline, its range) before anything
        starts, whatever the orchestrator would do with such a date."""
        spec = get_pipeline(pipeline)
        for day in days:
            check_date(spec, day)

    def evidence_gaps(self, run: RunView) -> list[str]:
        """The steps ``run`` should have run that have no successful attempt in the ledger
        (this adapter's namespace, the run's date, since the run started), unless the
        orchestrator reports no attempt of the step in this run (it found it complete) and
        the ledger holds an earlier success of it: Luigi does not run a task whose outputs
        an earlier run wrote. A group of alternatives (a branch's) counts once. Empty when
        the evidence is all there."""
        spec = get_pipeline(run.pipeline)
        since = _timestamp(run.start)
        ok = [a for a in Ledger(self.config.ledger_path).read_attempts(
                  namespace=self.config.namespace, pipeline=run.pipeline, date=run.date)
              if a.status == "success"]
        attempted = {s.step for s in run.steps if s.attempts}
        found_complete = {s.name for s in spec.steps} - attempted
        done = {a.step for a in ok
                if since is None or (_timestamp(a.start) or 0) >= since - 1
                or a.step in found_complete}
        return [" or ".join(group) for group in required_steps(spec)
                if not done.intersection(group)]

    # --- components that die -----------------------------------------------------------------

    def dead_components(self) -> list[dict[str, Any]]:
        """The components of the last ``up`` (or ``restart``) whose process group is gone."""
        service = getattr(self, "service", None)
        status = getattr(service, "up_status", None) or {}
        return [c for c in status.get("components", [])
                if c.get("pgid") and c["name"] not in self.planned_down
                and not group_alive(c["pgid"])]

    def components_died(self) -> list[dict[str, Any]]:
        """Components found dead that were not reported yet: each is recorded once in
        ``incidents`` (when it was found, which, the last lines of its log). Nothing restarts
        it: the runs it affects are failed (:meth:`checked`), never retried out of sight."""
        died = []
        for comp in self.dead_components():
            key = (comp["name"], comp["pgid"])
            if key in self._reported:
                continue
            self._reported.add(key)
            incident = {"time": datetime.now(timezone.utc).isoformat(),
                        "orchestrator": self.name, "component": comp["name"],
                        "reason": f"{comp['name']} died: its process group {comp['pgid']} "
                                  "is gone; nothing restarted it",
                        "log_tail": tail(comp["log"], 40) if comp.get("log") else ""}
            self.incidents.append(incident)
            died.append(incident)
        return died

    def checked(self, run: RunView) -> RunView:
        """``run`` as the harness counts it, for every adapter alike: failed, with the reason,
        when a component of the orchestrator is dead once the run ended (it died during the
        run, or before it and nobody started it again), or when the orchestrator reports
        success without a successful attempt of every step the run should have run."""
        self.components_died()
        dead = [c["name"] for c in self.dead_components()]
        if dead:
            run.error = (f"{', '.join(dead)} of {self.name} died (see incidents); "
                         f"the orchestrator reported {run.state!r}")
            run.state = "failed"
        elif run.state == "success":
            gaps = self.evidence_gaps(run)
            if gaps:
                run.error = (f"orchestrator reported success but step {gaps[0]} never ran"
                             + (f" (nor {', '.join(gaps[1:])})" if gaps[1:] else ""))
                run.state = "failed"
        return run

    def stop(self) -> None:
        """Stop everything ``start`` started."""

    @abc.abstractmethod
    def run_date(self, pipeline: str, day: Date, *, env: dict[str, str] | None = None,
                 timeout_s: float = 900) -> RunView:
        """Run ``pipeline`` for ``day`` to its end and return the orchestrator's record of it.

        ``env`` carries extra environment for the tasks (a fault plan, the floor switch).
        The harness calls it from several threads at once for runs of different dates
        (the retry scenarios), all with the same ``env``.
        """

    @abc.abstractmethod
    def backfill(self, pipeline: str, start: Date, end: Date, *, parallelism: int = 2,
                 env: dict[str, str] | None = None, timeout_s: float = 1800) -> BackfillView:
        """Run every date from ``start`` to ``end`` (inclusive) through the orchestrator's own
        backfill machinery, at most ``parallelism`` runs at once."""

    def forget(self, pipeline: str, days: list[Date]) -> None:
        """Drop what the orchestrator keeps beside the lake to judge ``days`` done, once the
        harness has emptied their outputs and wants them run again. Run records are the
        adapters' business where they run (Airflow and Dagster compare them with the lake);
        nothing by default."""

    def probes(self, mine: dict[str, Any]) -> list[Callable[[], Probe]]:
        """The orchestrator's own probes (metrics endpoint, lineage, quality results), as
        callables the harness runs one by one, so one probe's exception is that probe's
        error, filed under the callable's name less a ``probe_`` prefix (name it
        ``probe_metrics_endpoint``, a method or a partial of one, or set ``probe_name``).
        ``mine`` holds this adapter's scenario results. None by default."""
        return []

    @abc.abstractmethod
    def read_runs(self, pipeline: str, day: Date | None = None) -> list[RunView]:
        """Every run of ``pipeline`` (for ``day`` if given) the orchestrator recorded."""
