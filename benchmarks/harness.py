"""The benchmark harness: the same scenarios, data and faults on every orchestrator.

Scenarios (see DESIGN.md and ``benchmarks.scenarios``): happy path with the orchestrator's
floor (all an extra row runs: another profile or mode, after the rounds, every repetition on
one start of its services), retries (transient, crash, hang, permanent), backfill (from
empty, re-run, one bad day), observability probes (``benchmarks.probes``). Fairness: one orchestrator's services at a time
(plus the shared Spark Connect server), repetitions interleaved (A B C D A B C D), each
orchestrator's first run an uncounted warm-up on its first round's services; medians with min
and max. Every figure comes from the run ledger (``benchmarks.measures``) or the
orchestrator's own records, read back through its adapter; memory from /proc
(``benchmarks.sampler``); all of it written as ``results.json`` (``benchmarks.results``).
"""

from __future__ import annotations

import importlib
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from benchmarks.adapters.base import Adapter
from benchmarks.plan import (BENCH_RETRY, PIPELINE, RETRY_FAULTS, SCENARIOS, BenchPlan,
                             interleaved)
from benchmarks.probes import observability
from benchmarks.results import assemble, write_results
from benchmarks.sampler import MemorySampler, benchmark_roots
from benchmarks.scenarios import Scenarios
from pipelines_core import faults as faults_mod
from pipelines_core.config import WorkbenchConfig

__all__ = ["ADAPTERS", "BENCH_RETRY", "PIPELINE", "RETRY_FAULTS", "SCENARIOS", "BenchPlan",
           "Harness", "interleaved", "load_adapter", "write_results"]

ADAPTERS = {
    "direct": "benchmarks.adapters.direct",
    "airflow": "benchmarks.adapters.airflow",
    "prefect": "benchmarks.adapters.prefect",
    "dagster": "benchmarks.adapters.dagster",
    "luigi": "benchmarks.adapters.luigi",
}


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


def phase_timer(into: dict[str, float]) -> Callable[[str], Any]:
    """``with phase(name):`` adds the block's seconds to ``into[name]``."""
    @contextmanager
    def phase(name: str) -> Iterator[None]:
        t0 = time.monotonic()
        try:
            yield
        finally:
            into[name] = round(into.get(name, 0.0) + time.monotonic() - t0, 1)
    return phase


@dataclass
class Harness:
    config: WorkbenchConfig
    plan: BenchPlan
    progress: Callable[[str], None] = print
    results: dict[str, Any] = field(default_factory=dict)
    # Constructor options per orchestrator, e.g. {"luigi": {"port": 18082}} (tests use free ports).
    adapter_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    turns: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: set[str] = field(default_factory=set)

    def bench_config(self) -> WorkbenchConfig:
        return self.config.replace(scale=self.plan.scale, spark_mode="connect", **BENCH_RETRY,
                                   step_timeout_s=self.plan.step_timeout_s)

    @property
    def scenarios(self) -> Scenarios:
        return Scenarios(self.plan, self.progress)

    def run(self) -> dict[str, Any]:
        cfg = self.bench_config()
        sampler = MemorySampler(lambda: benchmark_roots(cfg))
        sampler.start()
        t0 = time.monotonic()
        try:
            results = self._run(cfg, sampler)
        finally:
            sampler.stop()
        results["resources"] = {
            "wall_s": round(time.monotonic() - t0, 1), **sampler.figures(),
            # where the time went: each orchestrator's turns (start, runs, probes, stop) and
            # what starting its services took of them
            "turn_s_by_orchestrator": {k: v["turn_s"] for k, v in self.turns.items()},
            "services_start_s_by_orchestrator": {
                k: v["services_start_s"] for k, v in self.turns.items()},
            # and, summed over its turns, each part of them
            "phase_s_by_orchestrator": {k: v["phases_s"] for k, v in self.turns.items()}}
        self.results = results
        return results

    def _run(self, cfg: WorkbenchConfig, sampler: MemorySampler) -> dict[str, Any]:
        rows = self.plan.rows()
        names = [row for row, *_ in rows]
        self.extra = {row for row, orchestrator, *_ in rows if row != orchestrator}
        faults_mod.reset(cfg.state_dir)
        per: dict[str, dict[str, Any]] = {n: {"happy": [], "floor": [], "errors": []}
                                          for n in names}
        adapters: dict[str, Adapter] = {}
        for n, orchestrator, options, profile in rows:
            try:
                adapters[n] = load_adapter(orchestrator, cfg, **{
                    **self.adapter_options.get(orchestrator, {}), **options})
                adapters[n].use_profile(profile)
                adapters[n].use_detection(self.plan.detection)
            except Exception as exc:  # noqa: BLE001 - a missing adapter is a reported result
                per[n]["errors"].append(f"adapter unavailable: {type(exc).__name__}: {exc}")
        scenarios = self.scenarios
        first: WorkbenchConfig | None = None
        for n, a in adapters.items():
            self.progress(f"data for {n} ({self.plan.scale:,} rows/day)")
            scenarios.prepare_data(a, source=first)  # the first namespace's exports, copied
            first = first or a.config
        rounds = self.plan.repetitions
        main = [n for n in names if n in adapters and n not in self.extra]
        for rep, name in interleaved(main, rounds):
            sampler.phase = name
            self.progress(f"round {rep + 1}/{rounds}: {name}")
            self._turn(scenarios, adapters, name, rep, per[name])
        # An extra row (another profile or mode of an orchestrator) runs once, after the
        # rounds: its warm-up, then every counted happy path and floor, on one start of its
        # services (a start per round would cost more than its runs).
        for name in [n for n in names if n in adapters and n in self.extra]:
            sampler.phase = name
            self.progress(f"extra row: {name}")
            self._turn(scenarios, adapters, name, 0, per[name])
        return assemble(self.plan, cfg, adapters, per)

    def _turn(self, scenarios: Scenarios, adapters: dict[str, Adapter], name: str, rep: int,
              mine: dict[str, Any]) -> None:
        """One orchestrator's turn in round ``rep``: its services up, the happy path (with the
        warm-up in the first round) and the floor, in the last round the other scenarios,
        then its services down. What fails is recorded in ``mine["errors"]``."""
        # an extra row (another profile or mode) runs the happy path and the floor only
        adapter = adapters[name]
        last = rep == self.plan.repetitions - 1 and name not in self.extra
        turn = self.turns.setdefault(name, {"turn_s": 0.0, "services_start_s": [],
                                            "phases_s": {}})
        t_turn = time.monotonic()
        phase = phase_timer(turn["phases_s"])
        seen = len(adapter.incidents)
        try:
            adapter.start()
            turn["services_start_s"].append(round(time.monotonic() - t_turn, 1))
            self.progress(f"  {name} ready in {turn['services_start_s'][-1]} s")
            reps = range(self.plan.repetitions) if name in self.extra else [rep]
            for r in reps:
                with phase("happy_path"):
                    if r == 0:  # the warm-up, on the services of the first round
                        mine["happy"].append(
                            scenarios.happy(adapter, self.plan.happy_dates()[0], 0))
                    mine["happy"].append(
                        scenarios.happy(adapter, self.plan.happy_dates()[r + 1], r + 1))
                    floor = scenarios.floor(adapter, self.plan.floor_dates()[r], r + 1)
                mine["floor"].append(floor)
                if floor["state"] != "success":  # a failed floor run measures nothing
                    mine["errors"].append(
                        f"floor run of {floor['date']} ended {floor['state']!r}")
            if last:
                self._last_round(scenarios, adapter, adapters["direct"], phase, mine)
        except Exception as exc:  # noqa: BLE001 - one orchestrator's failure is a result
            mine["errors"].append(f"{type(exc).__name__}: {exc}")
            self.progress(f"{name} failed: {exc}\n{traceback.format_exc()}")
        finally:
            # a component that died in this turn is a result: named among the errors, its
            # incident (when, its log's tail) in the results; nothing restarted it
            adapter.components_died()
            for died in adapter.incidents[seen:]:
                mine["errors"].append(f"{died['component']} died (found {died['time']}); "
                                      "the runs after it count as failed")
            self.progress(f"  stopping {name}")
            with phase("stop"):
                adapter.stop()
            turn["turn_s"] = round(turn["turn_s"] + time.monotonic() - t_turn, 1)

    def _last_round(self, scenarios: Scenarios, adapter: Adapter, direct: Adapter,
                    phase: Callable[[str], Any], mine: dict[str, Any]) -> None:
        """Retries and backfill, then the probes, one after the other, on the services of the
        last round. A scenario that raises leaves out the others' figures too: no half
        results."""
        out: dict[str, Any] = {}
        if "retries" in self.plan.scenarios:
            with phase("retries"):
                out["retries"] = scenarios.retries(adapter)
        if "backfill" in self.plan.scenarios:
            with phase("backfill"):
                out["backfill"] = scenarios.backfill(adapter, direct)
            with phase("bad_day"):
                out["backfill"]["bad_day"] = scenarios.bad_day(adapter)
        if "bad_input" in self.plan.scenarios:
            with phase("bad_input"):
                out["bad_input"] = scenarios.bad_input(adapter, direct)
        if "crash" in self.plan.scenarios:
            with phase("crash"):
                out["crash"] = scenarios.crash(adapter, direct)
        mine.update(out)
        if "observability" in self.plan.scenarios:
            self.progress(f"  observability probes on {adapter.name}")
            with phase("observability"):
                mine["observability"] = observability(adapter, mine)
