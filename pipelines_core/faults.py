"""Fault injection: make a named step fail its first K attempts, the same way on every orchestrator.

A plan maps step names to a fault: ``{"ingest_cdc": {"kind": "raise", "times": 2}}``, or to a
list of faults each limited to its ``dates`` (so that one plan serves runs of several dates at
once: ``{"ingest_cdc": [{"kind": "crash", "dates": ["2026-11-17"]}, {"kind": "permanent",
"dates": ["2026-11-19"]}]}``); for a date, the first fault that applies to it counts. It
comes from ``WORKBENCH_FAULTS`` (inline JSON, or the path of a JSON file). Kinds:

- ``raise``: the attempt raises ``InjectedFault``;
- ``crash``: the attempt kills its own process with SIGKILL after staging its output and
  before swapping it in, so the crash lands mid-write;
- ``hang``: the attempt sleeps past its timeout (the orchestrator's timeout must end it);
- ``permanent``: every attempt raises (``times`` is ignored).

Attempts are counted in files under ``<state_dir>/faults`` keyed by namespace, pipeline, step,
date and fan-out key, so the count survives process boundaries and orchestrators that do not
expose an attempt number (Luigi). Counters are reset by ``reset`` (the harness does it before
each scenario).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pipelines_core.errors import ConfigError, InjectedFault

FAULT_KINDS = ("raise", "crash", "hang", "permanent")
ENV_VAR = "WORKBENCH_FAULTS"


@dataclass(frozen=True)
class Fault:
    step: str
    kind: str
    times: int = 1
    dates: tuple[str, ...] = ()
    hang_s: float | None = None

    def applies_to(self, date: str) -> bool:
        return not self.dates or date in self.dates


def parse_plan(data: Mapping[str, Any] | str | None) -> dict[str, tuple[Fault, ...]]:
    """A plan from a mapping, inline JSON, or the path of a JSON file: the faults of each
    step, in order.

    Raises:
        ConfigError: unknown kind, bad count, unreadable file, invalid JSON.
    """
    if data is None or data == "":
        return {}
    if isinstance(data, str):
        text = data
        if not data.lstrip().startswith("{"):
            path = Path(data)
            if not path.is_file():
                raise ConfigError(f"fault plan file {path} does not exist")
            text = path.read_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"fault plan is not valid JSON: {exc}") from None
    plan = {}
    for step, specs in data.items():
        specs = specs if isinstance(specs, list) else [specs]
        plan[step] = tuple(_parse_fault(step, spec) for spec in specs)
    return plan


def _parse_fault(step: str, spec: Any) -> Fault:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"fault for step {step!r} must be an object or a list of objects")
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise ConfigError(f"fault for step {step!r}: kind {kind!r} is not one of "
                          f"{', '.join(FAULT_KINDS)}")
    times = spec.get("times", 1)
    if not isinstance(times, int) or times < 0:
        raise ConfigError(f"fault for step {step!r}: times must be a whole number >= 0")
    return Fault(step=step, kind=kind, times=times, dates=tuple(spec.get("dates", ())),
                 hang_s=spec.get("hang_s"))


def merge_plans(plans: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """One plan from several, each limited to its own date: ``{date: {step: fault}}`` ->
    ``{step: [fault + {"dates": [date]}, ...]}``, for runs of those dates going on at once."""
    merged: dict[str, list[dict[str, Any]]] = {}
    for day, plan in plans.items():
        for step, fault in plan.items():
            merged.setdefault(step, []).append({**fault, "dates": [day]})
    return merged


def plan_to_env(plan: Mapping[str, Any]) -> dict[str, str]:
    """The environment that carries ``plan`` to a child process."""
    return {ENV_VAR: json.dumps(plan)}


def load_plan(env: Mapping[str, str] | None = None) -> dict[str, tuple[Fault, ...]]:
    env = os.environ if env is None else env
    return parse_plan(env.get(ENV_VAR))


def _counter_path(state_dir: Path, key: tuple[str, ...]) -> Path:
    return state_dir / "faults" / ("__".join(k.replace("/", "_") for k in key) + ".count")


def next_attempt_count(state_dir: Path, key: tuple[str, ...]) -> int:
    """Increment and return the number of attempts seen for ``key`` (1 for the first)."""
    path = _counter_path(state_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = os.read(fd, 64).decode().strip()
        count = int(raw or 0) + 1
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str(count).encode())
        os.fsync(fd)
        return count
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def reset(state_dir: Path) -> None:
    """Forget every attempt count."""
    shutil.rmtree(Path(state_dir) / "faults", ignore_errors=True)


@dataclass
class FaultDecision:
    """What the plan does to this attempt: nothing, raise now, crash mid-write, or hang."""

    kind: str | None = None
    seen: int = 0
    hang_s: float = 0.0

    def crash_now(self) -> None:
        """Kill this process without cleanup, as an OOM killer or a lost node would."""
        if self.kind == "crash":
            os.kill(os.getpid(), signal.SIGKILL)


def decide(plan: Mapping[str, tuple[Fault, ...]], *, state_dir: Path, namespace: str, pipeline: str,
           step: str, date: str, map_key: str | None, timeout_s: float) -> FaultDecision:
    """Count this attempt and say which fault, if any, it suffers. Raises for ``raise`` and
    ``permanent``; sleeps for ``hang``; leaves ``crash`` to the write path."""
    fault = next((f for f in plan.get(step, ()) if f.applies_to(date)), None)
    if fault is None:
        return FaultDecision()
    seen = next_attempt_count(state_dir, (namespace, pipeline, step, date, map_key or "-"))
    if fault.kind != "permanent" and seen > fault.times:
        return FaultDecision(seen=seen)
    if fault.kind in ("raise", "permanent"):
        raise InjectedFault(f"injected {fault.kind} fault in {step} (attempt {seen})")
    if fault.kind == "hang":
        hang_s = fault.hang_s if fault.hang_s is not None else timeout_s * 2 + 5
        time.sleep(hang_s)
        raise InjectedFault(f"injected hang in {step} outlived its timeout ({hang_s:.0f} s)")
    return FaultDecision(kind="crash", seen=seen)
