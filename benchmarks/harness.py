"""The benchmark harness: the same scenarios, data and faults on every orchestrator.

Scenarios (see DESIGN.md): happy path with the orchestrator's floor, retries (transient,
crash, hang, permanent), backfill (from empty, re-run, one bad day), observability probes.
Fairness: one orchestrator's services at a time (plus the shared Spark Connect server),
repetitions interleaved (A B C D A B C D), each orchestrator's first run an uncounted warm-up
on its first round's services; medians with min and max. Every figure comes from the run
ledger or the orchestrator's own records, read back through its adapter.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from benchmarks.adapters.base import Adapter, RunView
from benchmarks.scale import descendants, pss_of, rss_of
from pipelines_core import faults as faults_mod
from pipelines_core import lake
from pipelines_core.alerts import read_alerts
from pipelines_core.config import PROJECT_ROOT, WorkbenchConfig
from pipelines_core.generator import write_customer_export
from pipelines_core.ledger import AttemptRecord, Ledger
from pipelines_core.runner import date_range
from pipelines_core.spark import connect_server_status
from pipelines_core.spec import get_pipeline, retry_policy
from pipelines_core.verify import output_checksums, output_partitions

SCHEMA_VERSION = "1.5.0"
ADAPTERS = {
    "direct": "benchmarks.adapters.direct",
    "airflow": "benchmarks.adapters.airflow",
    "prefect": "benchmarks.adapters.prefect",
    "dagster": "benchmarks.adapters.dagster",
    "luigi": "benchmarks.adapters.luigi",
}
PIPELINE = "customer_daily_etl"
# Short, visible backoff for every orchestrator alike: 1 s, 2 s, capped at 3 s. The per-attempt
# timeout is the plan's (``BenchPlan.step_timeout_s``).
BENCH_RETRY = {"retries": 2, "retry_base_delay_s": 1.0, "retry_backoff_factor": 2.0,
               "retry_max_delay_s": 3.0}
RETRY_FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "transient": ("gold_summary", {"kind": "raise", "times": 2}),
    "crash": ("ingest_cdc", {"kind": "crash", "times": 1}),
    # Sleeps past the timeout by HANG_PAST_TIMEOUT_S (``BenchPlan.faults``): where the
    # orchestrator has no timeout the attempt ends itself.
    "hang": ("daily_report", {"kind": "hang", "times": 1}),
    "permanent": ("ingest_cdc", {"kind": "permanent"}),
}
HANG_PAST_TIMEOUT_S = 5.0
NOT_SUPPORTED = "not supported"
SCENARIOS = ("happy_path", "retries", "backfill", "observability")


@dataclass
class BenchPlan:
    """What one benchmark run does; ``quick`` and ``full`` are the two presets."""

    orchestrators: list[str]
    scale: int = 2_000
    repetitions: int = 1  # counted; one warm-up comes on top
    backfill_days: int = 3
    parallelism: int = 2
    happy_start: date = date(2026, 11, 2)
    # Every date lies in the past and after the DAGs' start date: Airflow will not run a
    # logical date in the future.
    floor_start: date = date(2026, 10, 12)
    retry_start: date = date(2026, 11, 16)
    backfill_start: date = date(2026, 10, 5)
    bad_range_start: date = date(2026, 10, 20)
    bad_range_days: int = 3  # the second is the bad one
    # The fault runs go on together, each on its own date: the scenario lasts as long as the
    # hang, not the four runs one after the other.
    fault_runs_at_once: int = len(RETRY_FAULTS)
    # Per-attempt timeout: a step at the plan's scale finishes well within it even on a busy
    # 2-core machine (the slowest seen at 2,000 rows/day: about 9 s, a flow run's first
    # step opening Spark while three other runs start), and the hang lasts this long.
    step_timeout_s: float = 30.0
    run_timeout_s: float = 900.0
    # A subset runs faster (the happy path with its floor always runs: it warms up and is the
    # baseline); retries can be narrowed to some fault kinds.
    scenarios: tuple[str, ...] = SCENARIOS
    retry_kinds: tuple[str, ...] = tuple(RETRY_FAULTS)

    def __post_init__(self) -> None:
        unknown = [s for s in self.scenarios if s not in SCENARIOS]
        unknown += [k for k in self.retry_kinds if k not in RETRY_FAULTS]
        if self.fault_runs_at_once < 1:
            raise ValueError("fault_runs_at_once must be at least 1")
        if self.bad_range_days < 2:
            raise ValueError("the bad-day range needs at least 2 days: a good one and the bad")
        if unknown:
            raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; known: "
                             f"{', '.join(SCENARIOS)} and retry kinds {', '.join(RETRY_FAULTS)}")

    @classmethod
    def preset(cls, name: str, orchestrators: list[str]) -> "BenchPlan":
        if name == "quick":
            return cls(orchestrators, scale=2_000, repetitions=1, backfill_days=3,
                       bad_range_days=2, step_timeout_s=15.0)
        if name == "full":
            # Two fault runs at a time, not four: the reference figures; four at once slowed
            # Airflow's and Dagster's scheduling enough to stretch their retry delays.
            return cls(orchestrators, scale=20_000, repetitions=3, backfill_days=7,
                       fault_runs_at_once=2)
        raise ValueError(f"unknown preset {name!r}")

    def faults(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """``{kind: (step, fault)}`` of the retry scenarios, the hang timed to this plan."""
        out = {}
        for kind, (step, fault) in RETRY_FAULTS.items():
            if fault["kind"] == "hang":
                fault = {**fault, "hang_s": self.step_timeout_s + HANG_PAST_TIMEOUT_S}
            out[kind] = (step, fault)
        return out

    def happy_dates(self) -> list[date]:
        return [self.happy_start + timedelta(days=n) for n in range(self.repetitions + 1)]

    def floor_dates(self) -> list[date]:
        return [self.floor_start + timedelta(days=n) for n in range(self.repetitions)]

    def retry_dates(self) -> dict[str, date]:
        return {k: self.retry_start + timedelta(days=n) for n, k in enumerate(RETRY_FAULTS)
                if k in self.retry_kinds}

    def backfill_dates(self) -> list[date]:
        return date_range(self.backfill_start,
                          self.backfill_start + timedelta(days=self.backfill_days - 1))

    def bad_range(self) -> tuple[list[date], date]:
        days = date_range(self.bad_range_start,
                          self.bad_range_start + timedelta(days=self.bad_range_days - 1))
        return days, days[1]

    def all_data_dates(self) -> list[date]:
        return (self.happy_dates() + list(self.retry_dates().values()) + self.backfill_dates()
                + self.bad_range()[0])


def _export_key(config: WorkbenchConfig, bad: bool) -> str:
    return f"scale={config.scale} seed={config.seed} bad={bad}"


def _exports_written(config: WorkbenchConfig) -> dict[str, str]:
    """``{date: key}`` of the exports the benchmark wrote in ``config``'s namespace."""
    path = config.state_dir / "bench" / f"exports-{config.namespace}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def interleaved(names: list[str], rounds: int) -> list[tuple[int, str]]:
    """A B C D A B C D: every round visits every orchestrator once, in the same order."""
    return [(r, n) for r in range(rounds) for n in names]


def load_adapter(name: str, config: WorkbenchConfig, **options: Any) -> Adapter:
    """The adapter class registered for ``name``, instantiated on ``config`` (and ``options``,
    e.g. a port)."""
    if name not in ADAPTERS:
        raise ValueError(f"unknown orchestrator {name!r}; known: {', '.join(ADAPTERS)}")
    module = importlib.import_module(ADAPTERS[name])
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, Adapter) and obj is not Adapter \
                and getattr(obj, "name", "") == name:
            return obj(config, **options)
    raise ValueError(f"{ADAPTERS[name]} defines no Adapter named {name!r}")


# --- measurements from the ledger -------------------------------------------------------------

def ledger_attempts(config: WorkbenchConfig, namespace: str, day: date, since: float,
                    pipeline: str = PIPELINE) -> list[AttemptRecord]:
    lo = datetime.fromtimestamp(since - 0.5, timezone.utc).isoformat()
    return [r for r in Ledger(config.ledger_path).read_attempts(
        pipeline=pipeline, date=day.isoformat(), namespace=namespace) if r.start >= lo]


def step_seconds(attempts: list[AttemptRecord]) -> float:
    return sum(r.duration_s or 0.0 for r in attempts)


def max_gap_s(attempts: list[AttemptRecord], pipeline: str = PIPELINE) -> float:
    """Largest wait between the last upstream attempt ending and a step's first attempt
    starting: time the orchestrator spent between steps, not in them."""
    spec = get_pipeline(pipeline)
    ends: dict[str, float] = {}
    firsts: dict[str, float] = {}
    for r in attempts:
        start = datetime.fromisoformat(r.start).timestamp()
        firsts[r.step] = min(firsts.get(r.step, start), start)
        if r.end and r.status == "success":
            ends[r.step] = max(ends.get(r.step, 0.0), datetime.fromisoformat(r.end).timestamp())
    gaps = []
    for s in spec.steps:
        ups = [ends[u] for u in s.upstream if u in ends]
        if s.name in firsts and ups:
            gaps.append(firsts[s.name] - max(ups))
    return round(max(gaps), 3) if gaps else 0.0


def retry_delays(attempts: list[AttemptRecord],
                 recorded_ends: list[str | None] | None = None) -> list[float]:
    """Observed delays between one attempt ending and the next starting (ledger truth).

    An attempt whose process was killed (a crash, a timeout) never wrote its end to the
    ledger; ``recorded_ends`` (the orchestrator's own end of each attempt, in order) stands
    in for it: the moment the orchestrator saw the attempt over.
    """
    out = []
    ordered = sorted(attempts, key=lambda r: r.start)
    for i, (prev, nxt) in enumerate(zip(ordered, ordered[1:])):
        end = prev.end or (recorded_ends[i] if recorded_ends and i < len(recorded_ends)
                           else None)
        if end:
            out.append(round((datetime.fromisoformat(nxt.start)
                              - datetime.fromisoformat(end)).total_seconds(), 3))
    return out


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


# --- the harness ------------------------------------------------------------------------------

@dataclass
class Harness:
    config: WorkbenchConfig
    plan: BenchPlan
    progress: Callable[[str], None] = print
    results: dict[str, Any] = field(default_factory=dict)
    # Constructor options per orchestrator, e.g. {"luigi": {"port": 18082}} (tests use free ports).
    adapter_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    turns: dict[str, dict[str, Any]] = field(default_factory=dict)

    def bench_config(self) -> WorkbenchConfig:
        return self.config.replace(scale=self.plan.scale, spark_mode="connect", **BENCH_RETRY,
                                   step_timeout_s=self.plan.step_timeout_s)

    def prepare_data(self, adapter: Adapter, source: WorkbenchConfig | None = None) -> None:
        """Bronze exports for every date the scenarios use, in the adapter's namespace, at
        the plan's scale: an export an earlier benchmark wrote at another scale or seed is
        written again (the benchmark's own record of what it wrote says which). One that
        ``source``'s namespace holds as wanted is copied from there, byte for byte, rather
        than generated again."""
        cfg = adapter.config
        bad = self.plan.bad_range()[1]
        written = _exports_written(cfg)
        copyable = _exports_written(source) if source is not None else {}
        for day in self.plan.all_data_dates():
            key = _export_key(cfg, day == bad)
            part = lake.Partition(cfg.namespace_root(), "bronze", "customers_cdc",
                                  day.isoformat())
            if (part.path / "_SUCCESS").exists() and written.get(day.isoformat()) == key:
                continue
            if source is not None and copyable.get(day.isoformat()) == key:
                origin = lake.Partition(source.namespace_root(), "bronze", "customers_cdc",
                                        day.isoformat())
                if (origin.path / "_SUCCESS").exists():
                    version = lake.stage_dir(part)
                    shutil.copytree(origin.path, version)
                    lake.swap_in(part, version)
                    self._record_export(cfg, day, key)
                    continue
            self._export(cfg, day, bad=day == bad)

    @classmethod
    def _export(cls, cfg: WorkbenchConfig, day: date, *, bad: bool) -> None:
        """Write the bronze export of ``day`` (a bad one if ``bad``) and record what it is."""
        write_customer_export(cfg.replace(bad_days=(day,) if bad else ()), day)
        cls._record_export(cfg, day, _export_key(cfg, bad))

    @staticmethod
    def _record_export(cfg: WorkbenchConfig, day: date, key: str) -> None:
        path = cfg.state_dir / "bench" / f"exports-{cfg.namespace}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {**_exports_written(cfg), day.isoformat(): key}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
        tmp.replace(path)

    def run(self) -> dict[str, Any]:
        sampler = PhaseSampler(self.bench_config())
        sampler.start()
        t0 = time.monotonic()
        try:
            results = self._run(sampler)
        finally:
            sampler.stop()
        results["resources"] = {"wall_s": round(time.monotonic() - t0, 1),
                                "peak_pss_bytes": sampler.peak_pss,
                                "peak_pss_gb": round(sampler.peak_pss / 1e9, 2),
                                "peak_pss_gb_by_orchestrator": {
                                    k: round(v / 1e9, 2) for k, v in sampler.pss_peaks.items()},
                                "peak_rss_bytes": sampler.peak,
                                "peak_rss_gb": round(sampler.peak / 1e9, 2),
                                "peak_rss_gb_by_orchestrator": {
                                    k: round(v / 1e9, 2) for k, v in sampler.peaks.items()},
                                # where the time went: each orchestrator's turns (start, runs,
                                # probes, stop) and what starting its services took of them
                                "turn_s_by_orchestrator": {
                                    k: v["turn_s"] for k, v in self.turns.items()},
                                "services_start_s_by_orchestrator": {
                                    k: v["services_start_s"] for k, v in self.turns.items()},
                                # and, summed over its turns, each part of them
                                "phase_s_by_orchestrator": {
                                    k: v["phases_s"] for k, v in self.turns.items()},
                                "sampled": "the benchmark process, everything it started "
                                           "(process tree) and the Spark Connect server, "
                                           f"RSS every {sampler.every_s} s, PSS at most every "
                                           f"{sampler.pss_every_s} s while RSS is above the PSS "
                                           "peak; PSS (proportional set size) summed is what "
                                           "they hold in memory, summed RSS counts pages that "
                                           "forked processes share once per process"}
        self.results = results
        return results

    def _run(self, sampler: "PhaseSampler") -> dict[str, Any]:
        cfg = self.bench_config()
        names = ["direct"] + [n for n in self.plan.orchestrators if n != "direct"]
        faults_mod.reset(cfg.state_dir)
        per: dict[str, dict[str, Any]] = {n: {"happy": [], "floor": [], "errors": []}
                                          for n in names}
        adapters: dict[str, Adapter] = {}
        for n in names:
            try:
                adapters[n] = load_adapter(n, cfg, **self.adapter_options.get(n, {}))
            except Exception as exc:  # noqa: BLE001 - a missing adapter is a reported result
                per[n]["errors"].append(f"adapter unavailable: {type(exc).__name__}: {exc}")
        first: WorkbenchConfig | None = None
        for n, a in adapters.items():
            self.progress(f"data for {n} ({self.plan.scale:,} rows/day)")
            self.prepare_data(a, source=first)  # the first namespace's exports, copied
            first = first or a.config
        names = [n for n in names if n in adapters]
        rounds = self.plan.repetitions
        for rep, name in interleaved(names, rounds):
            adapter = adapters[name]
            sampler.phase = name
            self.progress(f"round {rep + 1}/{rounds}: {name}")
            turn = self.turns.setdefault(name, {"turn_s": 0.0, "services_start_s": [],
                                                "phases_s": {}})
            t_turn = time.monotonic()
            phase = self._phase_timer(turn["phases_s"])
            try:
                adapter.start()
                turn["services_start_s"].append(round(time.monotonic() - t_turn, 1))
                self.progress(f"  {name} ready in {turn['services_start_s'][-1]} s")
                with phase("happy_path"):
                    if rep == 0:  # the warm-up, on the services of the first round
                        per[name]["happy"].append(
                            self._happy(adapter, self.plan.happy_dates()[0], 0))
                    per[name]["happy"].append(
                        self._happy(adapter, self.plan.happy_dates()[rep + 1], rep + 1))
                    floor = self._floor(adapter, self.plan.floor_dates()[rep], rep + 1)
                per[name]["floor"].append(floor)
                if floor["state"] != "success":  # a failed floor run measures nothing
                    per[name]["errors"].append(f"floor run of {floor['date']} ended "
                                               f"{floor['state']!r}")
                if rep == rounds - 1:
                    per[name].update(self._last_round(adapter, adapters["direct"], phase))
                    if "observability" in self.plan.scenarios:
                        self.progress(f"  observability probes on {name}")
                        with phase("observability"):
                            per[name]["observability"] = self._observability(adapter, per[name])
            except Exception as exc:  # noqa: BLE001 - one orchestrator's failure is a result
                per[name]["errors"].append(f"{type(exc).__name__}: {exc}")
                self.progress(f"{name} failed: {exc}\n{traceback.format_exc()}")
            finally:
                self.progress(f"  stopping {name}")
                with phase("stop"):
                    adapter.stop()
                turn["turn_s"] = round(turn["turn_s"] + time.monotonic() - t_turn, 1)
        return self._assemble(adapters, per)

    # each scenario returns plain dicts that go into results.json as they are

    def _timed_run(self, adapter: Adapter, day: date, env: dict[str, str] | None = None
                   ) -> tuple[RunView, float, float]:
        self._empty(adapter, [day])  # an orchestrator that skips done dates runs it too
        t0 = time.time()
        run = adapter.run_date(PIPELINE, day, env=env, timeout_s=self.plan.run_timeout_s)
        return run, t0, time.time() - t0

    def _happy(self, adapter: Adapter, day: date, rep: int) -> dict[str, Any]:
        run, t0, wall = self._timed_run(adapter, day)
        attempts = ledger_attempts(adapter.config, adapter.config.namespace, day, t0)
        steps = step_seconds(attempts)
        return {"repetition": rep, "warmup": rep == 0, "date": day.isoformat(),
                "state": run.state, "wall_s": round(wall, 3), "step_s": round(steps, 3),
                "overhead_s": round(wall - steps, 3), "max_gap_s": max_gap_s(attempts),
                "run": run.to_dict(), "ledger": [a.to_dict() for a in attempts]}

    def _floor(self, adapter: Adapter, day: date, rep: int) -> dict[str, Any]:
        run, t0, wall = self._timed_run(adapter, day, env={"WORKBENCH_NOOP": "true"})
        return {"repetition": rep, "warmup": False, "date": day.isoformat(),
                "state": run.state, "wall_s": round(wall, 3)}

    @staticmethod
    def _phase_timer(into: dict[str, float]) -> Callable[[str], Any]:
        """``with phase(name):`` adds the block's seconds to ``into[name]``."""
        @contextmanager
        def phase(name: str) -> Iterator[None]:
            t0 = time.monotonic()
            try:
                yield
            finally:
                into[name] = round(into.get(name, 0.0) + time.monotonic() - t0, 1)
        return phase

    def _last_round(self, adapter: Adapter, direct: Adapter,
                    phase: Callable[[str], Any]) -> dict[str, Any]:
        """Retries and backfill, one after the other, on the services of the last round."""
        out: dict[str, Any] = {}
        if "retries" in self.plan.scenarios:
            with phase("retries"):
                out["retries"] = self._retries(adapter)
        if "backfill" in self.plan.scenarios:
            with phase("backfill"):
                out["backfill"] = self._backfill(adapter, direct)
            with phase("bad_day"):
                out["backfill"]["bad_day"] = self._bad_day(adapter)
        return out

    def _fault_env(self) -> dict[str, str]:
        """The retry scenarios' fault plan, every fault limited to its own date."""
        faults, dates = self.plan.faults(), self.plan.retry_dates()
        return faults_mod.plan_to_env(faults_mod.merge_plans(
            {dates[k].isoformat(): {faults[k][0]: faults[k][1]} for k in dates}))

    def _retries(self, adapter: Adapter) -> dict[str, Any]:
        """The four fault kinds, each on its own date, ``fault_runs_at_once`` runs at a time
        (the hang first, as it lasts longest), under one plan in which each fault names its
        date."""
        policy = retry_policy(get_pipeline(PIPELINE), adapter.config)
        dates = self.plan.retry_dates()
        faults = self.plan.faults()
        kinds = sorted(dates, key=lambda k: faults[k][1]["kind"] != "hang")
        alerts_before = {k: len(read_alerts(adapter.config, kind="failure",
                                            orchestrator=adapter.name,
                                            date=dates[k].isoformat())) for k in kinds}
        env = self._fault_env()
        self._empty(adapter, list(dates.values()))
        at_once = min(self.plan.fault_runs_at_once, len(kinds))
        self.progress(f"  retries ({', '.join(kinds)}) on {adapter.name}, "
                      f"{at_once} at a time")
        t0 = time.time()
        timed: dict[str, tuple[RunView, float]] = {}

        def one(kind: str) -> None:
            started = time.time()
            run = adapter.run_date(PIPELINE, dates[kind], env=env,
                                   timeout_s=self.plan.run_timeout_s)
            timed[kind] = (run, time.time() - started)

        with ThreadPoolExecutor(at_once) as pool:
            for future in [pool.submit(one, k) for k in kinds]:
                future.result()
        out = {}
        for kind in RETRY_FAULTS:
            if kind not in dates:
                continue
            day, (step, fault) = dates[kind], faults[kind]
            run, wall = timed[kind]
            truth = [a for a in ledger_attempts(adapter.config, adapter.config.namespace, day, t0)
                     if a.step == step]
            view = run.step(step)
            recorded = len(view.attempts) if view else 0
            recorded_ends = [a.end for a in sorted(view.attempts, key=lambda a: a.attempt)] \
                if view else []
            ok_end = next((a.end for a in truth if a.status == "success"), None)
            first_fail = next((a for a in truth if a.status != "success"), None)
            recovery = None
            if ok_end and first_fail:
                fail_at = first_fail.end or first_fail.start
                recovery = round((datetime.fromisoformat(ok_end)
                                  - datetime.fromisoformat(fail_at)).total_seconds(), 3)
            downstream = get_pipeline(PIPELINE).downstream_of(step)
            ran_downstream = {a.step for a in ledger_attempts(
                adapter.config, adapter.config.namespace, day, t0) if a.step in downstream}
            alerts = read_alerts(adapter.config, kind="failure", orchestrator=adapter.name,
                                 date=day.isoformat())
            out[kind] = {
                "step": step, "fault": fault, "date": day.isoformat(),
                "recovered": run.state == "success",
                "attempts_recorded": recorded, "attempts_truth": len(truth),
                "delays_observed_s": retry_delays(truth, recorded_ends),
                "killed_attempt_end": "orchestrator's record" if any(
                    a.end is None for a in truth[:-1]) else None,
                "delays_configured_s": policy.delays()[:max(len(truth) - 1, 0)],
                "recovery_s": recovery, "wall_s": round(wall, 3),
                "downstream_skipped": not ran_downstream if run.state != "success" else None,
                "alert_delivered": len(alerts) > alerts_before[kind],
                "runs_at_once": at_once,
                "run": run.to_dict(),
            }
        return out

    def _backfill(self, adapter: Adapter, direct: Adapter) -> dict[str, Any]:
        days = self.plan.backfill_dates()
        self._empty(adapter, days)
        self.progress(f"  backfill {len(days)} days on {adapter.name}")
        t0 = time.time()
        bf = adapter.backfill(PIPELINE, days[0], days[-1], parallelism=self.plan.parallelism,
                              timeout_s=self.plan.run_timeout_s * 2)
        wall = time.time() - t0
        if adapter.name != "direct" and not all(
                (direct.config.namespace_root() / f"gold/customer_daily_summary/date={d}").exists()
                for d in days):
            direct.backfill(PIPELINE, days[0], days[-1], parallelism=self.plan.parallelism)
        identical = all(output_checksums(adapter.config, PIPELINE, d)
                        == output_checksums(direct.config, PIPELINE, d) for d in days)
        t1 = time.time()
        adapter.backfill(PIPELINE, days[0], days[-1], parallelism=self.plan.parallelism,
                         timeout_s=self.plan.run_timeout_s * 2)
        rerun_wall = time.time() - t1
        rerun_steps = sum(len(ledger_attempts(adapter.config, adapter.config.namespace, d, t1))
                          for d in days)
        return {"days": len(days), "parallelism": self.plan.parallelism,
                "mechanism": bf.mechanism, "wall_s": round(wall, 3),
                "partitions_per_min": round(len(days) / wall * 60, 2) if wall else None,
                "states": [r.state for r in bf.runs], "identical_to_direct": identical,
                "rerun_wall_s": round(rerun_wall, 3), "rerun_steps_executed": rerun_steps}

    @staticmethod
    def _empty(adapter: Adapter, days: list[date]) -> None:
        """None of ``days``' outputs (bronze stays), nor what the orchestrator keeps to judge
        them done; other dates keep theirs, so what the observability probes read of the
        happy run is still there."""
        for d in days:
            for part in output_partitions(adapter.config, PIPELINE, d):
                lake.drop_partition(part)
        adapter.forget(PIPELINE, days)

    def _bad_day(self, adapter: Adapter) -> dict[str, Any]:
        """A range with one bad day, backfilled from empty, then again after the fix."""
        days, bad = self.plan.bad_range()
        self.progress(f"  backfill with a bad day on {adapter.name}")
        # From empty, as the backfill: an earlier benchmark over the same state left the
        # range done, which an orchestrator that skips complete dates would not run.
        self._empty(adapter, days)
        # The bad export again: an earlier benchmark over the same state left the fixed one.
        self._export(adapter.config, bad, bad=True)
        first = adapter.backfill(PIPELINE, days[0], days[-1], parallelism=self.plan.parallelism,
                                 timeout_s=self.plan.run_timeout_s * 2)
        states = {r.date: r.state for r in first.runs}
        self._export(adapter.config, bad, bad=False)  # the fix: a clean export of the bad day
        t0 = time.time()
        adapter.backfill(PIPELINE, days[0], days[-1], parallelism=self.plan.parallelism,
                         timeout_s=self.plan.run_timeout_s * 2)
        rerun = {d.isoformat(): len(ledger_attempts(adapter.config, adapter.config.namespace,
                                                    d, t0)) > 0 for d in days}
        return {"dates": [d.isoformat() for d in days], "bad_date": bad.isoformat(),
                "first_states": states,
                "others_finished": all(s == "success" for d, s in states.items()
                                       if d != bad.isoformat()),
                "bad_failed": states.get(bad.isoformat()) == "failed",
                "rerun_dates_executed": sorted(d for d, ran in rerun.items() if ran),
                "only_bad_day_rerun": [d for d, ran in rerun.items() if ran] == [bad.isoformat()]}

    def _observability(self, adapter: Adapter, mine: dict[str, Any]) -> dict[str, Any]:
        probes = generic_probes(adapter, mine)
        extra = getattr(adapter, "probes", None)
        if callable(extra):
            try:
                probes += extra(mine)
            except Exception as exc:  # noqa: BLE001 - a broken probe is a failed probe
                probes.append({"name": "adapter_probes", "passed": False,
                               "evidence": f"{type(exc).__name__}: {exc}"})
        named = {p["name"] for p in probes}
        probes += [{"name": n, "passed": None, "evidence": f"{adapter.name} offers no such probe"}
                   for n in PROBE_NAMES if n not in named]
        # Every probe counts: what an orchestrator cannot show lowers its score.
        return {"probes": probes,
                "score": round(sum(p["passed"] is True for p in probes) / len(probes), 3)}

    def _assemble(self, adapters: dict[str, Adapter], per: dict[str, Any]) -> dict[str, Any]:
        direct_wall = _median([h["wall_s"] for h in per["direct"]["happy"] if not h["warmup"]])
        orchestrators = {}
        for name, data in per.items():
            counted = [h for h in data["happy"] if not h["warmup"]]
            floors = [f["wall_s"] for f in data["floor"]
                      if not f["warmup"] and f["state"] == "success"]
            wall = _median([h["wall_s"] for h in counted])
            orchestrators[name] = {
                "capabilities": _caps(adapters[name]) if name in adapters else {},
                "errors": data["errors"],
                "scenarios": {
                    "happy_path": {
                        "wall_s": wall,
                        "wall_s_min": min((h["wall_s"] for h in counted), default=None),
                        "wall_s_max": max((h["wall_s"] for h in counted), default=None),
                        "overhead_s": _median([h["overhead_s"] for h in counted]),
                        "overhead_ratio": round(wall / direct_wall, 3)
                        if wall and direct_wall else None,
                        "floor_wall_s": _median(floors),
                        "max_gap_s": _median([h["max_gap_s"] for h in counted]),
                        "states": [h["state"] for h in counted],
                        "runs": data["happy"],
                    },
                    "retries": data.get("retries", {}),
                    "backfill": data.get("backfill", dict.fromkeys(
                        ("days", "wall_s", "partitions_per_min", "identical_to_direct",
                         "rerun_wall_s", "rerun_steps_executed"))),
                    "observability": data.get("observability", {"probes": [], "score": 0.0}),
                },
            }
        return {"schema_version": SCHEMA_VERSION,
                "created": datetime.now(timezone.utc).isoformat(),
                "environment": environment(),
                "configuration": {"plan": {k: (v.isoformat() if isinstance(v, date) else v)
                                           for k, v in vars(self.plan).items()},
                                  "retry": {**BENCH_RETRY,
                                            "step_timeout_s": self.plan.step_timeout_s},
                                  "fault_plans": {k: {s: f}
                                                  for k, (s, f) in self.plan.faults().items()},
                                  "spark": self.bench_config().connect_url},
                "orchestrators": orchestrators}


class PhaseSampler(threading.Thread):
    """Peak memory of everything the benchmark runs, overall and per orchestrator: summed PSS
    (what the processes hold) and summed RSS (shared pages counted per process).

    RSS is read every ``every_s``; PSS, which costs a walk of every mapping (a Spark JVM's
    take about 80 ms), at most every ``pss_every_s`` and only while the summed RSS is above the
    phase's PSS peak: PSS never exceeds RSS, so no other sample could raise that peak. Read
    every 0.5 s it took a third of a core of the machine under test."""

    def __init__(self, config: WorkbenchConfig, every_s: float = 0.5,
                 pss_every_s: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.config, self.every_s, self.pss_every_s = config, every_s, pss_every_s
        self.phase, self.peak, self.peaks = "setup", 0, {}
        self.peak_pss, self.pss_peaks = 0, {}
        self._pss_read_at = float("-inf")
        self._halt = threading.Event()

    def processes(self) -> list[int]:
        roots = [os.getpid()]
        server = connect_server_status(self.config).get("pid")
        if server and server not in roots:
            roots.append(server)
        return descendants(roots)

    def sample_once(self) -> None:
        pids, phase = self.processes(), self.phase
        rss = sum(rss_of(p) for p in pids)
        self.peak = max(self.peak, rss)
        self.peaks[phase] = max(self.peaks.get(phase, 0), rss)
        now = time.monotonic()
        if rss > self.pss_peaks.get(phase, 0) and now - self._pss_read_at >= self.pss_every_s:
            self._pss_read_at = now
            pss = sum(pss_of(p) for p in pids)
            self.peak_pss = max(self.peak_pss, pss)
            self.pss_peaks[phase] = max(self.pss_peaks.get(phase, 0), pss)

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample_once()
            self._halt.wait(self.every_s)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _caps(adapter: Adapter) -> dict[str, Any]:
    caps = getattr(adapter, "capabilities", None)
    if caps is None:
        return {}
    return {k: v for k, v in vars(caps).items()}


PROBE_NAMES = ("run_state", "step_states", "attempts_match", "durations", "per_attempt_logs",
               "failure_message", "failure_visible", "alert_delivered", "metrics_endpoint",
               "lineage_events", "quality_results")


def generic_probes(adapter: Adapter, mine: dict[str, Any]) -> list[dict[str, Any]]:
    """Probes any adapter answers through ``read_runs``, each with its evidence."""
    probes = []
    happy = mine["happy"][-1]
    day = date.fromisoformat(happy["date"])
    runs = adapter.read_runs(PIPELINE, day)
    run = runs[-1] if runs else None
    probes.append({"name": "run_state", "passed": bool(run and run.state == "success"),
                   "evidence": f"read_runs({PIPELINE}, {day}) -> "
                               f"{[(r.run_id, r.state) for r in runs][-3:]}"})
    truth = {(a["step"], a["map_key"]) for a in happy["ledger"] if a["status"] == "success"}
    seen = {(s.step, s.map_key) for s in (run.steps if run else []) if s.state == "success"}
    probes.append({"name": "step_states", "passed": bool(truth) and truth <= seen,
                   "evidence": f"ledger successes {len(truth)}, recorded successes {len(seen)}; "
                               f"missing {sorted(map(str, truth - seen))[:5]}"})
    transient = mine.get("retries", {}).get("transient", {})
    probes.append({"name": "attempts_match",
                   "passed": bool(transient) and transient["attempts_recorded"]
                   == transient["attempts_truth"],
                   "evidence": f"transient fault on {transient.get('step')}: recorded "
                               f"{transient.get('attempts_recorded')}, ledger "
                               f"{transient.get('attempts_truth')}"})
    errors = []
    # Pair attempts in order per task: not every orchestrator tells a task its attempt number.
    truth_by_task: dict[tuple[str, str | None], list[dict]] = {}
    for a in sorted(happy["ledger"], key=lambda a: a["start"]):
        truth_by_task.setdefault((a["step"], a["map_key"]), []).append(a)
    for s in (run.steps if run else []):
        recorded = sorted(s.attempts, key=lambda att: att.attempt)
        for att, ref in zip(recorded, truth_by_task.get((s.step, s.map_key), [])):
            if ref["duration_s"] is not None and att.duration_s is not None:
                errors.append(abs(att.duration_s - ref["duration_s"]))
    worst = round(max(errors), 3) if errors else None
    probes.append({"name": "durations", "passed": worst is not None and worst <= 2.0,
                   "error_s": worst,
                   "evidence": f"{len(errors)} attempts compared; worst error {worst} s"})
    # Only steps that ran the core have the core's line to show (Airflow's native sensor,
    # for one, never calls it and is not in the ledger).
    raw_logs = [att.log_excerpt for s in (run.steps if run else [])
                if (s.step, s.map_key) in truth_by_task for att in s.attempts]
    logs = [text or "" for text in raw_logs]
    with_line = sum("started" in text for text in logs)
    if raw_logs and all(text is None for text in raw_logs):
        probes.append({"name": "per_attempt_logs", "passed": None,
                       "evidence": f"{adapter.name} keeps no log per attempt"})
    else:
        probes.append({"name": "per_attempt_logs",
                       "passed": bool(logs) and with_line == len(logs),
                       "evidence": f"{with_line}/{len(logs)} attempt logs hold the step's own "
                                   "line" + (f"; e.g. {next((t for t in logs if t), '')[:160]!r}"
                                             if logs else "")})
    permanent = mine.get("retries", {}).get("permanent", {})
    prun = permanent.get("run") or {}
    pstep = next((s for s in prun.get("steps", []) if s["step"] == permanent.get("step")), None)
    message = " ".join((a.get("error") or "") for a in (pstep or {}).get("attempts", []))
    probes.append({"name": "failure_message", "passed": "injected permanent fault" in message,
                   "evidence": message[:300] or "no error recorded"})
    probes.append({"name": "failure_visible", "passed": prun.get("state") == "failed",
                   "evidence": f"permanent-fault run recorded as {prun.get('state')!r}"})
    probes.append({"name": "alert_delivered", "passed": bool(permanent.get("alert_delivered")),
                   "evidence": f"alerts.jsonl has a failure alert from {adapter.name} for "
                               f"{permanent.get('date')}: {permanent.get('alert_delivered')}"})
    return probes


def environment() -> dict[str, Any]:
    """Versions, machine and commit, recorded with every result."""
    import os

    def version_of(impl: str, package: str) -> str | None:
        py = PROJECT_ROOT / impl / ".venv" / "bin" / "python"
        if not py.exists():
            return None
        out = subprocess.run([str(py), "-c", f"import importlib.metadata as m; "
                                             f"print(m.version('{package}'))"],
                             capture_output=True, text=True)
        return out.stdout.strip() or None

    from pipelines_core.spark import java_version

    mem = None
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True).stdout.strip() or None
    import pyspark

    return {"python": platform.python_version(), "java": java_version(),
            "pyspark": pyspark.__version__,
            "apache-airflow": version_of("airflow_impl", "apache-airflow"),
            "prefect": version_of("prefect_impl", "prefect"),
            "dagster": version_of("dagster_impl", "dagster"),
            "luigi": version_of("luigi_impl", "luigi"),
            "machine": {"cores": os.cpu_count(), "memory_bytes": mem,
                        "platform": platform.platform()},
            "git_commit": commit}


def write_results(results: dict[str, Any], out_root: Path) -> Path:
    """``reports/<timestamp>/results.json`` plus the raw ledger; ``reports/latest`` points at it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = out_root / stamp
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2, default=str))
    latest = out_root / "latest"
    tmp = out_root / f".latest.{stamp}"
    tmp.symlink_to(stamp)
    tmp.replace(latest)
    return folder
