"""The crash scenario: one of the orchestrator's own components, or the process running a
step, killed with SIGKILL in the middle of a run, restarted after a planned pause the way its
service command restarts it, and then left alone. What did the orchestrator detect, when,
did the run end without a human, what ran twice, what was lost?

Every figure comes from the run ledger (attempts, their processes, the ones killed), the lake
(partitions identical to the direct runner's, none half-written), the alert sink and the
orchestrator's own record of the run read back through its adapter while the case goes on.
The kill goes through the service command (``kill COMPONENT``, ``restart COMPONENT``); a
planned kill is not an incident, but any other component found dead is, as in every
scenario.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable

from benchmarks.adapters.base import Adapter, RunView
from benchmarks.measures import ledger_attempts
from benchmarks.plan import AT_DEFAULTS, CRASH_AT_DEFAULTS, PIPELINE, BenchPlan
from pipelines_core.alerts import read_alerts
from pipelines_core.procs import cmdline, group_members
from pipelines_core.verify import output_partitions

STEP_PROCESS = "step process"
# A component and the step's process at once, as a lost machine takes both: the target
# ``"<component> with the step's process"``.
WITH_STEP = " with the step's process"
# What a human does when the run does not end well by itself: run the date again through
# the orchestrator, which is what each command below does (the adapter does the same).
HUMAN_ACTION = {
    "direct": "workbench run --pipeline customer_daily_etl --date {day}",
    "airflow": "airflow dags trigger customer_daily_etl --logical-date {day}T02:00:00+00:00 "
               "(after marking the run still running failed, and deleting it)",
    "prefect": "prefect deployment run 'customer_daily_etl/customer_daily_etl' "
               "--param day={day}",
    "dagster": "dagster job launch -j customer_daily_etl_job --tags "
               "'{{\"dagster/partition\": \"{day}\"}}'",
    "luigi": "python -m workbench_luigi run --pipeline customer_daily_etl --date {day}",
}
DAMAGE_STATES = ("failed", "crashed", "lost", "upstream_failed")
END_STATES = ("success", "failed", "crashed")


@dataclass
class CrashCase:
    """Kill ``target`` (a component of the orchestrator's service command, or
    ``STEP_PROCESS``) once ``step`` runs, restart it after ``pause_s``."""

    target: str
    step: str = "ingest_cdc"
    pause_s: float = 5.0


def targets(adapter: Adapter) -> list[str]:
    """Every component the adapter's service command runs, then the step's own process."""
    service = getattr(adapter, "service", None)
    names = [c["name"] for c in (service.up_status or {}).get("components", [])] \
        if service is not None else []
    return names + [STEP_PROCESS]


def planned_cases(plan: BenchPlan, orchestrator: str, known: list[str]
                  ) -> tuple[list[str], list[tuple[str, str, str, float]]]:
    """The targets ``plan`` asks of an orchestrator whose targets are ``known``, and its cases
    ``(key, target, detection, watch bound)``: first the kill its defaults decide
    (``CRASH_AT_DEFAULTS``) at the defaults, then each target tuned. A plan's target is a
    component, the step's process, or a component with the step's process (none of them
    the orchestrator's: no case)."""
    asked = plan.crash_targets
    names = [t for t in known if not asked or t in asked] + [
        t for t in asked if t.endswith(WITH_STEP) and component_of(t) in known]
    if not names:
        return [], []
    cases: list[tuple[str, str, str, float]] = []
    first, watch_s = CRASH_AT_DEFAULTS.get(orchestrator, (None, 0.0))
    if first and first not in names and component_of(first) not in (None, *names):
        first = None  # neither it nor its component is among the plan's targets
    if plan.crash_at_defaults and first:
        cases.append((f"{first}, {AT_DEFAULTS}", first, "default", watch_s))
    tuned = names + ([first] if first and first not in names else [])
    cases += [(t, t, "tuned", plan.crash_bound_s) for t in tuned]
    return names, cases


def _running_attempt(adapter: Adapter, day: date, step: str, since: float):
    return next((a for a in ledger_attempts(adapter.config, adapter.config.namespace, day,
                                            since)
                 if a.step == step and a.status == "running"), None)


def _started(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """``call`` (a run or a backfill, waited for) in a thread of its own; what it returned
    (``run``) or raised (``error``: how the wait ended is a result), and when (``at``)."""
    ended: dict[str, Any] = {}

    def go() -> None:
        try:
            ended["run"] = call()
        except Exception as exc:  # noqa: BLE001 - how the wait ended is a result
            ended["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        ended["at"] = time.time()

    runner = threading.Thread(target=go, daemon=True)
    runner.start()
    return runner, ended


def _when_running(runner: threading.Thread, adapter: Adapter, day: date, step: str,
                  since: float, bound_s: float):
    """The ledger's attempt of ``step`` of ``day`` once it runs; None if it never did while
    ``runner`` went on (within ``bound_s`` of ``since``)."""
    attempt = None
    while runner.is_alive() and attempt is None and time.time() - since < bound_s:
        attempt = _running_attempt(adapter, day, step, since)
        time.sleep(0.2)
    return attempt


def _latest(adapter: Adapter, day: date, since: float) -> RunView | None:
    """The orchestrator's record of the latest run of ``day`` started after ``since``; None
    while there is none or its API does not answer (the killed component may serve it)."""
    try:
        runs = [r for r in adapter.read_runs(PIPELINE, day)
                if r.start and datetime.fromisoformat(r.start).timestamp() >= since - 1]
    except Exception:  # noqa: BLE001 - unreachable while down: no record yet
        return None
    return max(runs, key=lambda r: r.start or "") if runs else None


def _damage(run: RunView | None) -> str | None:
    """What the orchestrator's record shows of the kill, if anything yet."""
    if run is None:
        return None
    if run.state in ("failed", "crashed", "skipped"):
        return f"run {run.state}"
    for step in run.steps:
        for attempt in step.attempts:
            if attempt.state in DAMAGE_STATES:
                return f"{step.step} attempt {attempt.attempt} {attempt.state}"
        if step.state in DAMAGE_STATES:
            return f"{step.step} {step.state}"
    return None


def run_case(adapter: Adapter, direct: Adapter, case: CrashCase, day: date, *,
             bound_s: float, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """One crash case on ``adapter`` for ``day`` (emptied first); ``bound_s`` bounds the wait
    for the run's end after the kill (then a human acts)."""
    from benchmarks.scenarios import empty

    cfg = adapter.config
    detection = adapter.detection()
    empty(adapter, [day])
    alerts_before = len(read_alerts(cfg, kind="failure", date=day.isoformat()))
    t0 = time.time()
    runner, ended = _started(lambda: adapter.run_date(PIPELINE, day, timeout_s=bound_s + 120))
    attempt = _when_running(runner, adapter, day, case.step, t0, bound_s)
    if attempt is None:
        runner.join(bound_s)
        return {"target": case.target, "step": case.step, "date": day.isoformat(),
                "detection": detection, "bound_s": bound_s,
                "verdict": "not run", "error": f"{case.step} never started "
                f"({ended.get('error') or 'the run ended first'})"}
    took_down, t_kill = kill(adapter, case.target, attempt.pid)
    progress(f"    killed {case.target} of {adapter.name} during {case.step}")
    detected = None
    record_end: tuple[float, RunView] | None = None  # when the record first showed an end
    restarted_at = None
    restart_failed: list[str] = []
    while runner.is_alive() and time.time() - t_kill < bound_s:
        if restarted_at is None and time.time() - t_kill >= case.pause_s:
            restarted_at = restart(adapter, case.target, restart_failed)
        if detected is None or record_end is None:
            asked = time.time()  # the record as it was when asked (reading it takes time)
            latest = _latest(adapter, day, t0)
            seen = _damage(latest)
            if seen and detected is None:
                detected = (asked - t_kill, seen)
            if latest is not None and latest.state in END_STATES and record_end is None:
                record_end = (asked, latest)
        time.sleep(1.0)
    if restarted_at is None:
        restarted_at = restart(adapter, case.target, restart_failed)
    runner.join(5)
    adapter_error = ended.get("error")
    if "error" in ended:
        # The adapter's own wait gave up (the API it polls was the component killed): the
        # run goes on in the orchestrator, so its record is read until it ends.
        while record_end is None and time.time() - t_kill < bound_s:
            late = _latest(adapter, day, t0)
            if late is not None and late.state in END_STATES:
                record_end = (time.time(), late)
            time.sleep(2.0)
    elif runner.is_alive() and record_end is not None:
        # The record shows the run ended, yet the adapter's wait goes on: it waits for what
        # follows an end too (Prefect's on_crashed hook, which only a worker that saw the
        # run's process die runs). If the record still shows that end, it is the end; the
        # wait is evidence.
        now = _latest(adapter, day, t0)
        if now is not None and now.state == record_end[1].state:
            adapter_error = (f"still waiting {round(time.time() - record_end[0])} s after "
                             f"the record showed the run {record_end[1].state}")
            record_end = (record_end[0], now)
        else:
            record_end = None
    # What the wait had when the bound came (a wait still going may write ``ended`` later).
    run, end_at = ended.get("run"), ended.get("at")
    if run is None and record_end is not None:
        run, end_at = adapter.checked(record_end[1]), record_end[0]
    end_state = run.state if run is not None else ("did not end" if runner.is_alive()
                                                   else "adapter error")
    if run is not None and detected is None:
        seen = _damage(run)
        if seen:
            detected = (end_at - t_kill, seen)
    outcome = _outcome(adapter, direct, day, t0, run)  # what the orchestrator did alone
    human = None
    if end_state != "success":
        human = _human(adapter, day, bound_s)
        human["started_after_s"] = round(time.time() - human["seconds"] - t_kill, 1)
        after = _outcome(adapter, direct, day, time.time() - human["seconds"], human.pop("run"))
        human.update(identical_to_direct=after["identical_to_direct"],
                     half_written=after["half_written"])
    if outcome["half_written"]:
        verdict = "lost work"
    elif end_state == "success":
        verdict = "duplicated work" if outcome["duplicated_steps"] else "recovered by itself"
    elif human["state"] == "success" and human["identical_to_direct"]:
        verdict = "needs a human"
    else:
        verdict = "needs a human; the re-run did not recover it"
    alerts = len(read_alerts(cfg, kind="failure", date=day.isoformat())) - alerts_before
    return {
        "target": case.target, "step": case.step, "date": day.isoformat(),
        "pause_s": case.pause_s, "bound_s": bound_s, "detection": detection,
        "took_down": took_down, "verdict": verdict,
        "end_state": end_state, "error": run.error if run is not None else adapter_error,
        "adapter_wait": adapter_error, "restart_failed": restart_failed[0] if restart_failed
        else None,
        "detected_s": round(detected[0], 1) if detected else None,
        "detected_as": detected[1] if detected else None,
        "restarted_after_s": round(restarted_at - t_kill, 1) if restarted_at else None,
        "ended_after_s": round(end_at - t_kill, 1) if end_at and run is not None else None,
        "human": human, "alerts": alerts, **outcome,
    }


def run_backfill_case(adapter: Adapter, direct: Adapter, case: CrashCase, days: list[date], *,
                      parallelism: int, bound_s: float,
                      progress: Callable[[str], None] = print) -> dict[str, Any]:
    """``case`` during a backfill of ``days`` (emptied first) through the orchestrator's own
    backfill: the kill comes once the last date's ``case.step`` runs (the first dates done
    or under way). Per date, from its record and the ledger: finished, lost (no successful
    run when the backfill was left alone), run twice; a human then runs each lost date."""
    from benchmarks.scenarios import empty

    cfg = adapter.config
    detection = adapter.detection()
    empty(adapter, days)
    alerts_before = sum(len(read_alerts(cfg, kind="failure", date=d.isoformat())) for d in days)
    t0 = time.time()
    runner, ended = _started(lambda: adapter.backfill(
        PIPELINE, days[0], days[-1], parallelism=parallelism, timeout_s=bound_s + 120))
    attempt = _when_running(runner, adapter, days[-1], case.step, t0, bound_s)
    base = {"target": case.target, "step": case.step, "date": days[-1].isoformat(),
            "backfill": [d.isoformat() for d in days],
            "detection": detection, "bound_s": bound_s, "pause_s": case.pause_s}
    if attempt is None:
        runner.join(bound_s)
        return {**base, "verdict": "not run", "error": f"{case.step} of {days[-1]} never "
                f"started ({ended.get('error') or 'the backfill ended first'})"}
    took_down, t_kill = kill(adapter, case.target, attempt.pid)
    progress(f"    killed {case.target} of {adapter.name} during the backfill's {case.step} "
             f"of {days[-1]}")
    detected = None
    restarted_at = None
    restart_failed: list[str] = []
    while time.time() - t_kill < bound_s:
        if restarted_at is None and time.time() - t_kill >= case.pause_s:
            restarted_at = restart(adapter, case.target, restart_failed)
        latest = {d: _latest(adapter, d, t0) for d in days}
        if detected is None:
            seen = next(((d, _damage(r)) for d, r in latest.items() if _damage(r)), None)
            if seen:
                detected = (time.time() - t_kill, f"{seen[0]}: {seen[1]}")
        # the adapter's wait, or every date's record, says the backfill is over
        over = all(r is not None and r.state in ("success", "failed", "crashed")
                   for r in latest.values())
        if (not runner.is_alive() or over) and restarted_at is not None:
            ended.setdefault("at", time.time())
            break
        time.sleep(1.0)
    if restarted_at is None:
        restarted_at = restart(adapter, case.target, restart_failed)
    runner.join(5)
    runs = {d: _latest(adapter, d, t0) for d in days}
    states = {d.isoformat(): (adapter.checked(r).state if r is not None else "no run")
              for d, r in runs.items()}
    outcomes = {d: _outcome(adapter, direct, d, t0, runs[d]) for d in days}
    finished = [d for d in days if states[d.isoformat()] == "success"]
    lost = [d for d in days if d not in finished]
    twice = {d.isoformat(): o["duplicated_steps"] for d, o in outcomes.items()
             if o["duplicated_steps"]}
    half = [p for o in outcomes.values() for p in o["half_written"]]
    human = None
    if lost:
        h0 = time.time()
        results = [_human(adapter, d, bound_s) for d in lost]
        human = {"command": "; ".join(r["command"] for r in results),
                 "state": "success" if all(r["state"] == "success" for r in results)
                 else "failed",
                 "error": next((r["error"] for r in results if r["error"]), None),
                 "seconds": round(time.time() - h0, 1),
                 "started_after_s": round(h0 - t_kill, 1),
                 "identical_to_direct": all(
                     _outcome(adapter, direct, d, h0, r["run"])["identical_to_direct"]
                     for d, r in zip(lost, results))}
    if half:
        verdict = "lost work"
    elif not lost:
        verdict = "duplicated work" if twice else "recovered by itself"
    elif human["state"] == "success" and human["identical_to_direct"]:
        verdict = "needs a human"
    else:
        verdict = "needs a human; the re-run did not recover it"
    alerts = sum(len(read_alerts(cfg, kind="failure", date=d.isoformat())) for d in days)
    return {
        **base, "took_down": took_down, "verdict": verdict,
        "end_state": "success" if not lost else f"{len(lost)} of {len(days)} dates not done",
        "error": next((r.error for r in runs.values() if r is not None and r.error),
                      ended.get("error")),
        "adapter_wait": ended.get("error"),
        "restart_failed": restart_failed[0] if restart_failed else None,
        "detected_s": round(detected[0], 1) if detected else None,
        "detected_as": detected[1] if detected else None,
        "restarted_after_s": round(restarted_at - t_kill, 1),
        "ended_after_s": round(ended["at"] - t_kill, 1) if "at" in ended else None,
        "dates": states, "dates_finished": [d.isoformat() for d in finished],
        "dates_lost": [d.isoformat() for d in lost], "dates_run_twice": twice,
        "lost_attempts": sorted({f"{d}: {a}" for d, o in outcomes.items()
                                 for a in o["lost_attempts"]}),
        "duplicated_steps": sorted(f"{d}: {s}" for d, steps in twice.items() for s in steps),
        "half_written": half, "human": human, "alerts": alerts - alerts_before,
        "identical_to_direct": all(o["identical_to_direct"] for d, o in outcomes.items()
                                   if d in finished) if finished else None,
    }


def component_of(target: str) -> str | None:
    """The service component a target kills (None for the step's process alone)."""
    if target == STEP_PROCESS:
        return None
    return target.removesuffix(WITH_STEP)


def kill(adapter: Adapter, target: str, step_pid: int) -> tuple[list[str], float]:
    """SIGKILL ``target``; the command lines it took down, and when."""
    took: list[str] = []
    name = component_of(target)
    if name is not None:
        service = adapter.service
        comp = service.component(service.status(), name)
        took += [cmdline(pid)[:200] for pid in group_members(comp["pgid"])]
        adapter.planned_down.add(name)
        service.kill(name)
    if name is None or target.endswith(WITH_STEP):
        line = cmdline(step_pid)[:200]
        try:
            os.kill(step_pid, signal.SIGKILL)
            took.append(line)
        except ProcessLookupError:  # the step ended first (or went with the component)
            pass
    return took, time.time()


def restart(adapter: Adapter, target: str, failures: list[str]) -> float:
    """Start the component ``target`` killed again through the service command (nothing to
    start for a step's process: the orchestrator decides what follows); when it was up again.
    A restart that fails is a result (added to ``failures``): the component then counts as
    dead."""
    name = component_of(target)
    if name is not None:
        try:
            adapter.service.restart(name)
        except Exception as exc:  # noqa: BLE001 - what the restart said is the evidence
            failures.append(f"{type(exc).__name__}: {exc}"[:2000])
            # the components as they are now: one the restart did start is watched by its
            # new process group, one it did not is found dead (an incident)
            adapter.service.up_status = adapter.service.status()
        adapter.planned_down.discard(name)
    return time.time()


def _human(adapter: Adapter, day: date, bound_s: float) -> dict[str, Any]:
    """The date run again, as a human would, timed."""
    t0 = time.time()
    try:
        adapter.give_up(PIPELINE, day)
        run = adapter.checked(adapter.run_date(PIPELINE, day, timeout_s=bound_s))
        state, error = run.state, run.error
    except Exception as exc:  # noqa: BLE001 - a re-run that fails is the answer
        run, state, error = None, "error", f"{type(exc).__name__}: {exc}".splitlines()[0]
    return {"command": HUMAN_ACTION[adapter.name].format(day=day.isoformat()),
            "state": state, "error": error, "seconds": round(time.time() - t0, 1), "run": run}


def _outcome(adapter: Adapter, direct: Adapter, day: date, since: float,
             run: RunView | None) -> dict[str, Any]:
    """The ledger's and the lake's evidence of the date after the case."""
    from benchmarks.scenarios import identical_to_direct

    attempts = ledger_attempts(adapter.config, adapter.config.namespace, day, since)
    done: dict[tuple[str, str | None], int] = {}
    for a in attempts:
        if a.status == "success":
            done[(a.step, a.map_key)] = done.get((a.step, a.map_key), 0) + 1
    killed = sorted({f"{a.step}" + (f"[{a.map_key}]" if a.map_key else "")
                     for a in attempts if a.status == "lost"})
    half = [p.relative for p in output_partitions(adapter.config, PIPELINE, day)
            if p.path.is_symlink() and not p.path.exists()]
    identical = None
    if run is not None and run.state == "success":
        identical = identical_to_direct(adapter, direct, day)
    return {"attempts": len(attempts), "lost_attempts": killed,
            "duplicated_steps": sorted(f"{s}" + (f"[{k}]" if k else "")
                                       for (s, k), n in done.items() if n > 1),
            "half_written": half, "identical_to_direct": identical,
            "checked_at": datetime.now(timezone.utc).isoformat()}
