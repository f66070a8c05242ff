"""The benchmark's scenarios on one adapter, each returning plain dicts that go into
results.json as they are: the same bronze exports in every namespace, the happy path and its
floor, the four retry faults, the backfill with its re-run, the range with a bad day, and bad
input (a date out of range, broken exports, a double trigger)."""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from benchmarks.adapters.base import Adapter, RunView
from benchmarks.measures import ledger_attempts, max_gap_s, retry_delays, step_seconds
from benchmarks.plan import CRASH_BACKFILL, PIPELINE, RETRY_FAULTS, BenchPlan
from pipelines_core import faults as faults_mod
from pipelines_core import lake
from pipelines_core.alerts import read_alerts
from pipelines_core.config import WorkbenchConfig
from pipelines_core.generator import write_customer_export
from pipelines_core.spec import DateOutOfRange, get_pipeline, retry_policy
from pipelines_core.steps.etl import export_partition
from pipelines_core.verify import output_checksums, output_partitions, outputs_present


def export_key(config: WorkbenchConfig, bad: bool) -> str:
    """What an export is, as the benchmark records it: scale, seed and bad or not."""
    return f"scale={config.scale} seed={config.seed} bad={bad}"


def _exports_path(config: WorkbenchConfig):
    return config.state_dir / "bench" / f"exports-{config.namespace}.json"


def exports_written(config: WorkbenchConfig) -> dict[str, str]:
    """``{date: key}`` of the exports the benchmark wrote in ``config``'s namespace."""
    try:
        return json.loads(_exports_path(config).read_text())
    except (OSError, ValueError):
        return {}


def record_export(config: WorkbenchConfig, day: date, key: str) -> None:
    path = _exports_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**exports_written(config), day.isoformat(): key}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    tmp.replace(path)


def write_export(config: WorkbenchConfig, day: date, *, bad: bool) -> None:
    """Write the bronze export of ``day`` (a bad one if ``bad``) and record what it is."""
    write_customer_export(config.replace(bad_days=(day,) if bad else ()), day)
    record_export(config, day, export_key(config, bad))


def empty(adapter: Adapter, days: list[date]) -> None:
    """None of ``days``' outputs (bronze stays), nor what the orchestrator keeps to judge
    them done; other dates keep theirs, so what the observability probes read of the
    happy run is still there."""
    for d in days:
        for part in output_partitions(adapter.config, PIPELINE, d):
            lake.drop_partition(part)
    adapter.forget(PIPELINE, days)


@dataclass
class Scenarios:
    """The scenarios of ``plan``, run on whichever adapter they are given."""

    plan: BenchPlan
    progress: Callable[[str], None] = print

    def prepare_data(self, adapter: Adapter, source: WorkbenchConfig | None = None) -> None:
        """Bronze exports for every date the scenarios use, in the adapter's namespace, at
        the plan's scale: an export an earlier benchmark wrote at another scale or seed is
        written again (the benchmark's own record of what it wrote says which). One that
        ``source``'s namespace holds as wanted is copied from there, byte for byte, rather
        than generated again."""
        cfg = adapter.config
        bad = self.plan.bad_range()[1]
        written = exports_written(cfg)
        copyable = exports_written(source) if source is not None else {}
        for day in self.plan.all_data_dates():
            key = export_key(cfg, day == bad)
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
                    record_export(cfg, day, key)
                    continue
            write_export(cfg, day, bad=day == bad)

    # --- happy path and floor ---------------------------------------------------------------

    def _timed_run(self, adapter: Adapter, day: date, env: dict[str, str] | None = None
                   ) -> tuple[RunView, float, float]:
        empty(adapter, [day])  # an orchestrator that skips done dates runs it too
        t0 = time.time()
        run = adapter.checked(adapter.run_date(PIPELINE, day, env=env,
                                               timeout_s=self.plan.run_timeout_s))
        return run, t0, time.time() - t0

    def happy(self, adapter: Adapter, day: date, rep: int) -> dict[str, Any]:
        """One date end to end: wall time, time in steps, the rest (overhead), the longest
        wait between steps, and the time inside the orchestrator's own run record."""
        run, t0, wall = self._timed_run(adapter, day)
        attempts = ledger_attempts(adapter.config, adapter.config.namespace, day, t0)
        steps = step_seconds(attempts)
        run_s = None  # the run as the orchestrator timed it: after pickup, before read-back
        if run.start and run.end:
            run_s = round((datetime.fromisoformat(run.end)
                           - datetime.fromisoformat(run.start)).total_seconds(), 3)
        return {"repetition": rep, "warmup": rep == 0, "date": day.isoformat(),
                "state": run.state, "wall_s": round(wall, 3), "step_s": round(steps, 3),
                "overhead_s": round(wall - steps, 3), "max_gap_s": max_gap_s(attempts),
                "run_s": run_s, "run": run.to_dict(),
                "ledger": [a.to_dict() for a in attempts]}

    def floor(self, adapter: Adapter, day: date, rep: int) -> dict[str, Any]:
        """The same graph with no-op steps: what the orchestrator costs on its own."""
        run, t0, wall = self._timed_run(adapter, day, env={"WORKBENCH_NOOP": "true"})
        return {"repetition": rep, "warmup": False, "date": day.isoformat(),
                "state": run.state, "wall_s": round(wall, 3)}

    # --- retries ----------------------------------------------------------------------------

    def fault_env(self) -> dict[str, str]:
        """The retry scenarios' fault plan, every fault limited to its own date."""
        faults, dates = self.plan.faults(), self.plan.retry_dates()
        return faults_mod.plan_to_env(faults_mod.merge_plans(
            {dates[k].isoformat(): {faults[k][0]: faults[k][1]} for k in dates}))

    def retries(self, adapter: Adapter) -> dict[str, Any]:
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
        env = self.fault_env()
        empty(adapter, list(dates.values()))
        at_once = min(self.plan.fault_runs_at_once, len(kinds))
        self.progress(f"  retries ({', '.join(kinds)}) on {adapter.name}, "
                      f"{at_once} at a time")
        t0 = time.time()
        timed: dict[str, tuple[RunView, float]] = {}

        def one(kind: str) -> None:
            started = time.time()
            run = adapter.checked(adapter.run_date(PIPELINE, dates[kind], env=env,
                                                   timeout_s=self.plan.run_timeout_s))
            timed[kind] = (run, time.time() - started)

        with ThreadPoolExecutor(at_once) as pool:
            for future in [pool.submit(one, k) for k in kinds]:
                future.result()
        return {kind: self._retry_outcome(adapter, kind, dates[kind], faults[kind], *timed[kind],
                                          since=t0, policy=policy,
                                          alerts_before=alerts_before[kind], at_once=at_once)
                for kind in RETRY_FAULTS if kind in dates}

    @staticmethod
    def _retry_outcome(adapter: Adapter, kind: str, day: date,
                       step_fault: tuple[str, dict[str, Any]], run: RunView, wall: float, *,
                       since: float, policy: Any, alerts_before: int,
                       at_once: int) -> dict[str, Any]:
        step, fault = step_fault
        attempts = ledger_attempts(adapter.config, adapter.config.namespace, day, since)
        truth = [a for a in attempts if a.step == step]
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
        ran_downstream = {a.step for a in attempts if a.step in downstream}
        alerts = read_alerts(adapter.config, kind="failure", orchestrator=adapter.name,
                             date=day.isoformat())
        return {
            "step": step, "fault": fault, "date": day.isoformat(),
            "recovered": run.state == "success",
            "attempts_recorded": recorded, "attempts_truth": len(truth),
            "delays_observed_s": retry_delays(truth, recorded_ends),
            "killed_attempt_end": "orchestrator's record" if any(
                a.end is None for a in truth[:-1]) else None,
            "delays_configured_s": policy.delays()[:max(len(truth) - 1, 0)],
            "recovery_s": recovery, "wall_s": round(wall, 3),
            "downstream_skipped": not ran_downstream if run.state != "success" else None,
            "alert_delivered": len(alerts) > alerts_before,
            "runs_at_once": at_once,
            "run": run.to_dict(),
        }

    # --- backfill ---------------------------------------------------------------------------

    def backfill(self, adapter: Adapter, direct: Adapter) -> dict[str, Any]:
        """The plan's range from empty, its outputs compared with the direct runner's, then
        the same range again (what does the orchestrator run a second time?)."""
        days = self.plan.backfill_dates()
        empty(adapter, days)
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

    def bad_day(self, adapter: Adapter) -> dict[str, Any]:
        """A range with one bad day, backfilled from empty, then again after the fix."""
        days, bad = self.plan.bad_range()
        self.progress(f"  backfill with a bad day on {adapter.name}")
        # From empty, as the backfill: an earlier benchmark over the same state left the
        # range done, which an orchestrator that skips complete dates would not run.
        empty(adapter, days)
        # The bad export again: an earlier benchmark over the same state left the fixed one.
        write_export(adapter.config, bad, bad=True)
        first = adapter.backfill(PIPELINE, days[0], days[-1], parallelism=self.plan.parallelism,
                                 timeout_s=self.plan.run_timeout_s * 2)
        states = {r.date: r.state for r in first.runs}
        write_export(adapter.config, bad, bad=False)  # the fix: a clean export of the bad day
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

    # --- crash ------------------------------------------------------------------------------

    def crash(self, adapter: Adapter, direct: Adapter) -> dict[str, Any]:
        """Each component of the adapter's services, then the process running a step, killed
        mid-run on a date of its own (``benchmarks.crash``), with the crash-detection
        settings tuned; first the kill its defaults decide (``CRASH_AT_DEFAULTS``) with them
        at their defaults. Switching the settings restarts the services (in the open:
        stop, then start, as the turn does)."""
        from benchmarks.crash import (WITH_STEP, CrashCase, planned_cases, run_backfill_case,
                                      run_case, targets)

        plan = self.plan
        known = targets(adapter)
        names, cases = planned_cases(plan, adapter.name, known)
        if not cases:
            asked = ", ".join(plan.crash_targets)
            return {"none of the targets asked for": {
                "target": asked, "step": "–", "date": "–", "verdict": "not run",
                "error": f"{adapter.name} has none of the targets asked for ({asked}); its "
                         f"targets: {', '.join(known)}, or a component followed by "
                         f"'{WITH_STEP}'"}}
        out = {}
        for (key, target, mode, bound), day in zip(cases, plan.crash_dates()):
            detection = adapter.detection()
            running = detection.get("mode")
            if not detection.get("tuned"):  # nothing to tune (Luigi, the direct runner)
                mode = running
            if running != mode:
                self.progress(f"  {adapter.name}: services restarted with detection {mode}")
                adapter.use_detection(mode)
                adapter.stop()
                adapter.start()
            self.progress(f"  crash: {target} of {adapter.name} killed mid-run "
                          f"(detection {mode})")
            out[key] = run_case(adapter, direct, CrashCase(target, pause_s=plan.crash_pause_s),
                                day, bound_s=bound, progress=self.progress)
        target = CRASH_BACKFILL.get(adapter.name)
        if plan.crash_backfill_days and target in names:
            days = plan.crash_backfill_dates()
            self.progress(f"  crash: {target} of {adapter.name} killed during a "
                          f"{len(days)}-day backfill")
            out[f"{target}, during a {len(days)}-day backfill"] = run_backfill_case(
                adapter, direct, CrashCase(target, pause_s=plan.crash_pause_s), days,
                parallelism=plan.parallelism, bound_s=plan.crash_bound_s,
                progress=self.progress)
        return out

    # --- bad input --------------------------------------------------------------------------

    def bad_input(self, adapter: Adapter, direct: Adapter) -> dict[str, Any]:
        """Inputs nobody planned for, each case with the orchestrator's verdict and error
        line: a date before the pipeline's start; an unreadable export and one lacking a
        column, of a date never run; a double trigger of a date (two runs at once, or one
        run when the plan says so); then a re-export of that date lacking a column, while
        its outputs exist. Every broken export is put back as it was, whatever happens."""
        fresh, rerun = self.plan.bad_input_dates()
        self.progress(f"  bad input on {adapter.name}")
        cases = {"before_start": self._out_of_range(adapter)}
        empty(adapter, [fresh])
        cases["unreadable_export"] = self._broken(adapter, fresh, truncate_export)
        cases["missing_column"] = self._broken(adapter, fresh, drop_column(MISSING_COLUMN))
        cases["double_trigger"] = self._double_trigger(adapter, direct, rerun)
        cases["changed_input_rerun"] = self._broken(adapter, rerun,
                                                    drop_column(MISSING_COLUMN))
        return cases

    def _out_of_range(self, adapter: Adapter) -> dict[str, Any]:
        spec = get_pipeline(PIPELINE)
        early = spec.start_date - timedelta(days=1)
        t0 = time.time()
        try:
            run = adapter.checked(adapter.run_date(PIPELINE, early,
                                                   timeout_s=self.plan.run_timeout_s))
            verdict, state, error = f"ran ({run.state})", run.state, run.error
        except DateOutOfRange as exc:
            verdict, state, error = "refused before anything started", "refused", str(exc)
        ran = ledger_attempts(adapter.config, adapter.config.namespace, early, t0)
        return {"date": early.isoformat(), "verdict": verdict, "state": state, "error": error,
                "steps_run": sorted({a.step for a in ran}),
                "wall_s": round(time.time() - t0, 3)}

    def _broken(self, adapter: Adapter, day: date,
                breaker: Callable[[Path, Path], str]) -> dict[str, Any]:
        """Publish a broken export of ``day`` (``breaker`` writes it from the good one and
        says what it broke), run the date, and put the good export back."""
        cfg = adapter.config
        part = export_partition(cfg, day)
        before = downstream_fingerprint(cfg, day)
        alerts_before = len(read_alerts(cfg, kind="failure", orchestrator=adapter.name,
                                        date=day.isoformat()))
        keep = lake.stage_dir(part)  # the good export, to put back
        shutil.copytree(part.path, keep)
        # copytree gives the copy its source's times: an export older than the lake's
        # retention would be collected by the next swap before it is put back
        os.utime(keep)
        # until it is put back, the record says the export is not the one wanted: an
        # interrupted benchmark's next run writes it again
        record_export(cfg, day, "broken")
        try:
            version = lake.stage_dir(part)
            version.mkdir()
            broke = breaker(keep, version)
            (version / "_SUCCESS").touch()
            lake.swap_in(part, version)
            t0 = time.time()
            # the ledger's clock slack reaches back half a second: what is there already
            # belongs to the case before
            earlier = {(a.step, a.map_key, a.start)
                       for a in ledger_attempts(cfg, cfg.namespace, day, t0)}
            run = adapter.checked(adapter.run_date(PIPELINE, day,
                                                   timeout_s=self.plan.run_timeout_s))
            wall = time.time() - t0
        finally:
            lake.swap_in(part, keep)
            record_export(cfg, day, export_key(cfg, False))
        attempts = [a for a in ledger_attempts(cfg, cfg.namespace, day, t0)
                    if (a.step, a.map_key, a.start) not in earlier]
        ingest = [a for a in attempts if a.step == "ingest_cdc"]
        alerts = len(read_alerts(cfg, kind="failure", orchestrator=adapter.name,
                                 date=day.isoformat())) - alerts_before
        if run.state == "skipped":
            verdict = "skipped: outputs exist, the new export was not read"
        elif run.state == "failed" and [a.status for a in ingest] == ["gate_failed"]:
            verdict = "stopped at the contract, not retried"
        elif run.state == "failed":
            verdict = f"failed after {len(ingest)} attempt(s) of ingest_cdc"
        else:
            verdict = f"{run.state}: the broken export was taken"
        return {"date": day.isoformat(), "broken": broke, "verdict": verdict,
                "state": run.state, "error": reported_error(run),
                "ingest_attempts": len(ingest), "steps_run": sorted({a.step for a in attempts}),
                "alerts": alerts, "outputs_before": len(before),
                "downstream_untouched": downstream_fingerprint(cfg, day) == before,
                "wall_s": round(wall, 3), "run": run.to_dict()}

    def _double_trigger(self, adapter: Adapter, direct: Adapter, day: date) -> dict[str, Any]:
        """``day`` from empty, triggered twice at once (or once, when the plan says so): do
        both runs end, what does the ledger show, are the outputs those of one run?"""
        empty(adapter, [day])
        n = 2 if self.plan.double_trigger else 1
        t0 = time.time()

        def trigger(_: int) -> tuple[str, str | None]:
            try:
                run = adapter.checked(adapter.run_date(PIPELINE, day,
                                                       timeout_s=self.plan.run_timeout_s))
                return run.state, run.error
            except Exception as exc:  # noqa: BLE001 - a refused trigger is the answer
                return "refused", f"{type(exc).__name__}: {exc}".splitlines()[0]

        with ThreadPoolExecutor(n) as pool:
            ends = list(pool.map(trigger, range(n)))
        wall = time.time() - t0
        identical = None if adapter.name == "direct" else identical_to_direct(adapter, direct,
                                                                               day)
        attempts = ledger_attempts(adapter.config, adapter.config.namespace, day, t0)
        runs_of_summary = sum(a.step == "gold_summary" and a.status == "success"
                              for a in attempts)
        states = [state for state, _ in ends]
        verdict = (f"{'triggered twice' if n == 2 else 'triggered once'}: "
                   f"{', '.join(states)}; the ledger shows gold_summary done "
                   f"{runs_of_summary} time(s)")
        if identical is not None:
            verdict += "; outputs " + ("identical to one run" if identical else "DIFFER")
        return {"date": day.isoformat(), "triggers": n, "verdict": verdict, "states": states,
                "error": next((e for _, e in ends if e), None),
                "summary_successes": runs_of_summary, "identical_to_direct": identical,
                "wall_s": round(wall, 3)}


def identical_to_direct(adapter: Adapter, direct: Adapter, day: date) -> bool:
    """Whether ``adapter``'s outputs of ``day`` equal the direct runner's (run first when
    it has none yet)."""
    if adapter.name == "direct":
        return True
    if not outputs_present(direct.config, PIPELINE, day):
        direct.run_date(PIPELINE, day)
    return (output_checksums(adapter.config, PIPELINE, day)
            == output_checksums(direct.config, PIPELINE, day))


MISSING_COLUMN = "op_ts"


def truncate_export(good: Path, into: Path) -> str:
    """Every data file of ``good`` cut in half (its parquet footer gone)."""
    for f in sorted(good.iterdir()):
        if f.is_file() and not f.name.startswith(("_", ".")):
            data = f.read_bytes()
            (into / f.name).write_bytes(data[: len(data) // 2])
    return "every parquet file cut in half"


def drop_column(column: str) -> Callable[[Path, Path], str]:
    """A breaker: the export rewritten without ``column`` (pyarrow, no Spark)."""
    def breaker(good: Path, into: Path) -> str:
        import pyarrow.parquet as pq

        for f in sorted(good.iterdir()):
            if f.is_file() and not f.name.startswith(("_", ".")):
                table = pq.read_table(f)
                pq.write_table(table.drop_columns([column]), into / f.name)
        return f"column {column} dropped"
    return breaker


def downstream_fingerprint(config: WorkbenchConfig, day: date) -> dict[str, str]:
    """``{partition: checksum of its files}`` of the outputs of ``day`` that exist."""
    return {p.relative: lake.checksum_files(p.path)
            for p in output_partitions(config, PIPELINE, day) if p.path.exists()}


def reported_error(run: RunView) -> str | None:
    """The error line the orchestrator reports for ``run``: the first line naming the export
    in its failed step's last attempt, else that attempt's first line, else the harness's
    reason."""
    for step in run.steps:
        failed = [a for a in step.attempts if a.error and a.state != "success"]
        if failed:
            lines = [ln.strip() for ln in failed[-1].error.splitlines() if ln.strip()]
            return next((ln for ln in lines if "the export of" in ln), lines[0] if lines else None)
    return run.error
