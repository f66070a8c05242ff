"""Observability probes: questions put to an orchestrator's own records after the scenarios,
each answered by one ``Probe`` with its evidence. The generic probes ask what any adapter
answers through ``read_runs``; an adapter adds its own (metrics, lineage, quality results).
Every probe runs on its own: one that raises is that probe's failure, with its traceback."""

from __future__ import annotations

import functools
import traceback
from datetime import date
from typing import Any, Callable

from benchmarks.adapters.base import Adapter, Probe, RunView
from benchmarks.plan import PIPELINE

PROBE_NAMES = ("run_state", "step_states", "attempts_match", "durations", "per_attempt_logs",
               "failure_message", "failure_visible", "alert_delivered", "metrics_endpoint",
               "lineage_events", "quality_results")
DURATION_TOLERANCE_S = 2.0


class Seen:
    """What the generic probes look at: this adapter's scenario results (``mine``) and the
    orchestrator's record of the last happy run, read once when a probe first asks."""

    def __init__(self, adapter: Adapter, mine: dict[str, Any]) -> None:
        self.adapter, self.mine = adapter, mine

    @functools.cached_property
    def happy(self) -> dict[str, Any]:
        return self.mine["happy"][-1]

    @functools.cached_property
    def runs(self) -> list[RunView]:
        return self.adapter.read_runs(PIPELINE, date.fromisoformat(self.happy["date"]))

    @property
    def run(self) -> RunView | None:
        return self.runs[-1] if self.runs else None

    @property
    def steps(self) -> list:
        return self.run.steps if self.run else []

    @functools.cached_property
    def truth_by_task(self) -> dict[tuple[str, str | None], list[dict[str, Any]]]:
        """The happy run's ledger attempts per task, in order. Attempts are paired in order:
        not every orchestrator tells a task its attempt number."""
        out: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        for a in sorted(self.happy["ledger"], key=lambda a: a["start"]):
            out.setdefault((a["step"], a["map_key"]), []).append(a)
        return out

    def retry(self, kind: str) -> dict[str, Any]:
        return self.mine.get("retries", {}).get(kind, {})


def run_state(seen: Seen) -> Probe:
    return Probe("run_state", bool(seen.run and seen.run.state == "success"),
                 f"read_runs({PIPELINE}, {seen.happy['date']}) -> "
                 f"{[(r.run_id, r.state) for r in seen.runs][-3:]}")


def step_states(seen: Seen) -> Probe:
    truth = {(a["step"], a["map_key"]) for a in seen.happy["ledger"] if a["status"] == "success"}
    recorded = {(s.step, s.map_key) for s in seen.steps if s.state == "success"}
    return Probe("step_states", bool(truth) and truth <= recorded,
                 f"ledger successes {len(truth)}, recorded successes {len(recorded)}; "
                 f"missing {sorted(map(str, truth - recorded))[:5]}")


def attempts_match(seen: Seen) -> Probe:
    transient = seen.retry("transient")
    return Probe("attempts_match",
                 bool(transient) and transient["attempts_recorded"]
                 == transient["attempts_truth"],
                 f"transient fault on {transient.get('step')}: recorded "
                 f"{transient.get('attempts_recorded')}, ledger "
                 f"{transient.get('attempts_truth')}")


def durations(seen: Seen) -> Probe:
    errors = []
    for s in seen.steps:
        recorded = sorted(s.attempts, key=lambda att: att.attempt)
        for att, ref in zip(recorded, seen.truth_by_task.get((s.step, s.map_key), [])):
            if ref["duration_s"] is not None and att.duration_s is not None:
                errors.append(abs(att.duration_s - ref["duration_s"]))
    worst = round(max(errors), 3) if errors else None
    return Probe("durations", worst is not None and worst <= DURATION_TOLERANCE_S,
                 f"{len(errors)} attempts compared; worst error {worst} s")


def per_attempt_logs(seen: Seen) -> Probe:
    # Only steps that ran the core have the core's line to show (Airflow's native sensor,
    # for one, never calls it and is not in the ledger).
    raw = [att.log_excerpt for s in seen.steps if (s.step, s.map_key) in seen.truth_by_task
           for att in s.attempts]
    if raw and all(text is None for text in raw):
        return Probe("per_attempt_logs", None, f"{seen.adapter.name} keeps no log per attempt")
    logs = [text or "" for text in raw]
    with_line = sum("started" in text for text in logs)
    example = f"; e.g. {next((t for t in logs if t), '')[:160]!r}" if logs else ""
    return Probe("per_attempt_logs", bool(logs) and with_line == len(logs),
                 f"{with_line}/{len(logs)} attempt logs hold the step's own line{example}")


def _permanent_run(seen: Seen) -> dict[str, Any]:
    return seen.retry("permanent").get("run") or {}


def failure_message(seen: Seen) -> Probe:
    permanent = seen.retry("permanent")
    step = next((s for s in _permanent_run(seen).get("steps", [])
                 if s["step"] == permanent.get("step")), None)
    message = " ".join((a.get("error") or "") for a in (step or {}).get("attempts", []))
    return Probe("failure_message", "injected permanent fault" in message,
                 message[:300] or "no error recorded")


def failure_visible(seen: Seen) -> Probe:
    state = _permanent_run(seen).get("state")
    return Probe("failure_visible", state == "failed",
                 f"permanent-fault run recorded as {state!r}")


def alert_delivered(seen: Seen) -> Probe:
    permanent = seen.retry("permanent")
    return Probe("alert_delivered", bool(permanent.get("alert_delivered")),
                 f"alerts.jsonl has a failure alert from {seen.adapter.name} for "
                 f"{permanent.get('date')}: {permanent.get('alert_delivered')}")


GENERIC = (run_state, step_states, attempts_match, durations, per_attempt_logs,
           failure_message, failure_visible, alert_delivered)


def generic_probes(adapter: Adapter, mine: dict[str, Any]) -> list[Callable[[], Probe]]:
    """The probes any adapter answers through ``read_runs``, as zero-argument callables."""
    seen = Seen(adapter, mine)
    return [functools.partial(probe, seen) for probe in GENERIC]


def probe_name(fn: Callable[[], Probe]) -> str:
    """The name a probe's failure is filed under when it raises before saying its own: its
    ``probe_name`` attribute, else its function's name (a partial's too) without a leading
    ``_``, ``probe_`` or ``_probe_``."""
    named = getattr(fn, "probe_name", None)
    if named:
        return str(named)
    inner = fn.func if isinstance(fn, functools.partial) else fn
    name = getattr(inner, "__name__", None) or type(fn).__name__
    return name.lstrip("_").removeprefix("probe_") or name


def run_probe(fn: Callable[[], Probe]) -> Probe:
    """``fn()``, on its own: an exception, or an answer that is not a ``Probe``, becomes a
    failed probe whose error holds the traceback."""
    try:
        answer = fn()
        if not isinstance(answer, Probe):
            raise TypeError(f"a probe returns a Probe, this one a {type(answer).__name__}")
        return answer
    except Exception as exc:  # noqa: BLE001 - a broken probe is that probe's failure
        return Probe(probe_name(fn), False, f"the probe raised {type(exc).__name__}: "
                     f"{str(exc)[:400]}", error=traceback.format_exc())


def observability(adapter: Adapter, mine: dict[str, Any]) -> dict[str, Any]:
    """Every probe for ``adapter``, generic and its own, each with its evidence, plus the
    known probes it does not offer; the score counts them all (what an orchestrator cannot
    show lowers it)."""
    probes = [run_probe(fn) for fn in generic_probes(adapter, mine)]
    try:
        own = adapter.probes(mine)
    except Exception as exc:  # noqa: BLE001 - no list of probes: reported, the rest still run
        own = []
        probes.append(Probe("adapter_probes", False, f"{adapter.name}.probes() raised "
                            f"{type(exc).__name__}: {str(exc)[:400]}",
                            error=traceback.format_exc()))
    probes += [run_probe(fn) for fn in own]
    named = {p.name for p in probes}
    probes += [Probe(n, None, f"{adapter.name} offers no such probe")
               for n in PROBE_NAMES if n not in named]
    return {"probes": [p.to_dict() for p in probes],
            "score": round(sum(p.passed is True for p in probes) / len(probes), 3)}
