"""The baseline adapter: the core's direct runner, no orchestrator.

Each run is a ``workbench run`` subprocess (so a crash fault kills that run, not the
harness); its record is the line the runner appends to ``<state_dir>/runs/<namespace>.jsonl``
joined with the ledger's attempts. A run killed before it could write that line shows as
``failed`` with the ledger's ``lost`` attempt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date as Date
from datetime import datetime, timezone

from benchmarks.adapters.base import (Adapter, AttemptView, BackfillView, Capabilities,
                                      RunView, StepView)
from pipelines_core.config import PROJECT_ROOT
from pipelines_core.ledger import Ledger
from pipelines_core.runner import date_range


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


class DirectAdapter(Adapter):
    name = "direct"
    mode = "direct runner (the core steps, one process)"
    namespace = "direct"
    capabilities = Capabilities(
        exponential_backoff=True, max_retry_delay=True, retry_jitter=False,
        attempt_timeout=True, attempt_number_in_task=True, native_backfill=False,
        metrics_endpoint=False,
        notes={"backfill": "a thread pool over dates sharing one Spark session",
               "attempt_timeout": "SIGALRM, enforced only with parallelism 1",
               "crash": "no supervisor: a killed process ends the run"})

    def _cli(self, args: list[str], env: dict[str, str] | None, timeout_s: float) -> int:
        full_env = {**os.environ, **self.config.to_env(), **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "pipelines_core.cli", *args],
                              cwd=PROJECT_ROOT, env=full_env, timeout=timeout_s,
                              capture_output=True, text=True)
        return proc.returncode

    def run_date(self, pipeline, day, *, env=None, timeout_s=900):
        self.refuse_out_of_range(pipeline, day)
        started = time.time()
        self._cli(["run", "--pipeline", pipeline, "--date", day.isoformat()], env, timeout_s)
        runs = [r for r in self.read_runs(pipeline, day) if r.start and r.start >= _iso(started - 1)]
        return runs[-1] if runs else self._lost_run(pipeline, day, started)

    def backfill(self, pipeline, start, end, *, parallelism=2, env=None, timeout_s=1800):
        self.refuse_out_of_range(pipeline, start, end)
        t0 = time.time()
        self._cli(["backfill", "--pipeline", pipeline, "--start", start.isoformat(),
                   "--end", end.isoformat(), "--parallelism", str(parallelism)], env, timeout_s)
        wall = time.time() - t0
        runs = []
        for day in date_range(start, end):
            found = [r for r in self.read_runs(pipeline, day) if r.start and r.start >= _iso(t0 - 1)]
            runs.append(found[-1] if found else self._lost_run(pipeline, day, t0))
        return BackfillView(pipeline, [d.isoformat() for d in date_range(start, end)],
                            parallelism, wall, runs, mechanism="workbench backfill (thread pool)")

    def _attempts(self, pipeline: str, day: str, since: float, until: float | None):
        ledger = Ledger(self.config.ledger_path)
        recs = ledger.read_attempts(pipeline=pipeline, date=day, namespace=self.config.namespace,
                                    orchestrator=self.name)
        lo, hi = _iso(since - 1), _iso(until + 1) if until else None
        return [r for r in recs if r.start >= lo and (hi is None or r.start <= hi)]

    def _lost_run(self, pipeline: str, day: Date, since: float) -> RunView:
        """A run whose process died: rebuilt from the ledger alone."""
        steps = self._steps(self._attempts(pipeline, day.isoformat(), since, None))
        return RunView(f"direct-{pipeline}-{day}-{int(since)}", pipeline, day.isoformat(),
                       "failed", _iso(since), None, steps)

    @staticmethod
    def _steps(recs) -> list[StepView]:
        steps: dict[tuple[str, str | None], StepView] = {}
        for r in recs:
            sv = steps.setdefault((r.step, r.map_key), StepView(r.step, r.status, r.map_key))
            sv.attempts.append(AttemptView(r.attempt, r.status, r.start, r.end, r.duration_s,
                                           r.error))
            sv.state = "success" if r.status == "success" else "failed"
        return list(steps.values())

    def read_runs(self, pipeline, day=None):
        path = self.config.state_dir / "runs" / f"{self.config.namespace}.jsonl"
        if not path.exists():
            return []
        views = []
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec["pipeline"] != pipeline or (day and rec["date"] != day.isoformat()):
                continue
            attempts = self._attempts(pipeline, rec["date"], rec["start"], rec["end"])
            steps = self._steps(attempts)
            seen = {(s.step, s.map_key) for s in steps}
            steps += [StepView(s["step"], s["state"], s["map_key"]) for s in rec["steps"]
                      if (s["step"], s["map_key"]) not in seen]
            views.append(RunView(f"direct-{pipeline}-{rec['date']}-{int(rec['start'])}",
                                 pipeline, rec["date"], rec["state"], _iso(rec["start"]),
                                 _iso(rec["end"]), steps))
        return views
