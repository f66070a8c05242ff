"""What one benchmark run does: the scenarios, the fault of each retry scenario, the dates each
scenario uses and the two presets, ``quick`` and ``full``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pipelines_core.runner import date_range

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
SCENARIOS = ("happy_path", "retries", "backfill", "observability")
# Not in the quick and full presets' default list: the ``bad-input`` preset runs it.
OPTIONAL_SCENARIOS = ("bad_input", "crash")
CRASH_DATES = 8  # one date per crash case: every component of a service, and a step
# The kill whose cost each orchestrator's crash-detection defaults decide, and how long that
# case is watched: run once with the detection settings at their defaults, before every case
# runs with them tuned (the service command's ``--detection``). Airflow: a killed scheduler's
# running task waits for the next scheduler's orphan check (300 s after its restart, then the
# task again). Prefect: its worker marks a flow run Crashed when the run's process dies, but a
# worker and its flow run lost together (a machine, a container) leave the run Running:
# nothing at the defaults acts on a silent run. Dagster: a killed code server takes the
# run's worker with it, and with run monitoring off nothing fails the run. The last two are
# watched long enough to show the run still going, not for a timer that does not exist.
# Luigi's docs suggest no tuned values: every one of its cases runs at the defaults.
CRASH_AT_DEFAULTS: dict[str, tuple[str, float]] = {
    "airflow": ("scheduler", 420.0), "prefect": ("worker with the step's process", 180.0),
    "dagster": ("code-server", 180.0)}
AT_DEFAULTS = "detection at defaults"
# The component that schedules a backfill's dates, killed during one (tuned detection).
CRASH_BACKFILL = {"airflow": "scheduler", "prefect": "server", "dagster": "daemon",
                  "luigi": "luigid"}
PROFILES = ("production", "default")
DETECTIONS = ("default", "tuned")
PRESETS = ("quick", "full", "bad-input", "crash")
# Rows beside each orchestrator's own (the plan's profile, the mode its docs recommend for a
# deployment): ``{row: (orchestrator, adapter options, profile or None for the plan's)}``.
# They run the happy path and the floor only, on the same data. A faster mode an
# orchestrator documents for one machine is named for what it is; one it does not document
# is not invented (each implementation's README lists its modes).
MODE_ROWS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "dagster (in_process executor)": ("dagster", {"in_process": True}, None),
    "prefect (flow called in-process)": ("prefect", {"in_process": True}, None),
}
PROFILE_ROWS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    f"{name} (default profile)": (name, {}, "default")
    for name in ("airflow", "prefect", "dagster", "luigi")}
EXTRA_ROWS = {**MODE_ROWS, **PROFILE_ROWS}


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
    # Bad input: a broken export of a date never run, then a broken re-export of a date
    # whose outputs exist (after one run of it, or two at once: a double trigger).
    bad_input_start: date = date(2026, 10, 26)
    double_trigger: bool = True
    # The crash scenario: each component of the orchestrator's services (or only
    # ``crash_targets``), and the process running a step, killed mid-run on a date of its
    # own, restarted after ``crash_pause_s``; ``crash_bound_s`` bounds the wait for the run
    # to end after the kill (then a human re-runs the date).
    crash_start: date = date(2026, 11, 6)
    crash_targets: tuple[str, ...] = ()
    crash_pause_s: float = 5.0
    crash_bound_s: float = 180.0
    # the case at the detection defaults (CRASH_AT_DEFAULTS, which says how long it is watched)
    crash_at_defaults: bool = True
    # and the component that schedules a backfill's dates (CRASH_BACKFILL), killed during a
    # backfill of dates of its own
    crash_backfill_start: date = date(2026, 10, 28)
    crash_backfill_days: int = 3
    # The services' crash-detection settings for the turn (``default`` or ``tuned``); the
    # crash scenario switches them as its cases need, restarting the services in the open.
    detection: str = "default"
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
    # Where the orchestrators keep their metadata: ``production`` (the workbench's
    # PostgreSQL, as every orchestrator's docs recommend beyond development) or ``default``
    # (each quickstart's SQLite).
    profile: str = "production"
    # Keys of EXTRA_ROWS to run too (those of an orchestrator not in the plan are left out).
    extra_rows: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [s for s in self.scenarios if s not in SCENARIOS + OPTIONAL_SCENARIOS]
        unknown += [k for k in self.retry_kinds if k not in RETRY_FAULTS]
        unknown += [r for r in self.extra_rows if r not in EXTRA_ROWS]
        if self.fault_runs_at_once < 1:
            raise ValueError("fault_runs_at_once must be at least 1")
        if self.bad_range_days < 2:
            raise ValueError("the bad-day range needs at least 2 days: a good one and the bad")
        if self.repetitions < 1:
            raise ValueError("repetitions must be at least 1")
        if self.detection not in DETECTIONS:
            raise ValueError(f"unknown detection {self.detection!r}; known: "
                             f"{', '.join(DETECTIONS)}")
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; known: {', '.join(PROFILES)}")
        if unknown:
            raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; known: "
                             f"{', '.join(SCENARIOS + OPTIONAL_SCENARIOS)}, retry kinds {', '.join(RETRY_FAULTS)} "
                             f"and rows {', '.join(EXTRA_ROWS)}")

    @classmethod
    def preset(cls, name: str, orchestrators: list[str]) -> "BenchPlan":
        if name == "quick":
            # production only: the extra rows (faster modes, the default profile) belong to
            # the full preset, whose three repetitions give them medians
            return cls(orchestrators, scale=2_000, repetitions=1, backfill_days=3,
                       bad_range_days=2, step_timeout_s=15.0)
        if name == "full":
            # Two fault runs at a time, not four: the reference figures; four at once slowed
            # Airflow's and Dagster's scheduling enough to stretch their retry delays.
            # and the happy path with its floor in each documented faster mode and on the
            # default profile: what Postgres changes for each orchestrator
            return cls(orchestrators, scale=20_000, repetitions=3, backfill_days=7,
                       fault_runs_at_once=2, extra_rows=tuple(EXTRA_ROWS))
        if name == "crash":
            # every component of each orchestrator's services killed mid-run, with the
            # detection settings its service command runs with (recorded per row)
            return cls(orchestrators, scale=2_000, repetitions=1,
                       scenarios=("happy_path", "crash"), step_timeout_s=15.0)
        if name == "bad-input":
            # what each orchestrator answers to inputs nobody planned for (and a double
            # trigger), beside the happy path that warms it up
            return cls(orchestrators, scale=2_000, repetitions=1,
                       scenarios=("happy_path", "bad_input"), step_timeout_s=15.0)
        raise ValueError(f"unknown preset {name!r}")

    def rows(self) -> list[tuple[str, str, dict[str, Any], str]]:
        """``(row, orchestrator, adapter options, profile)`` of every row, the direct
        baseline first, then each orchestrator's own row, then the extra rows of the
        orchestrators in the plan."""
        names = ["direct"] + [n for n in self.orchestrators if n != "direct"]
        rows = [(n, n, {}, self.profile) for n in names]
        for key in self.extra_rows:
            orchestrator, options, profile = EXTRA_ROWS[key]
            if orchestrator in names:
                rows.append((key, orchestrator, dict(options), profile or self.profile))
        return rows

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

    def bad_input_dates(self) -> tuple[date, date]:
        """``(never run, run before)``: the two dates of the bad-input scenario."""
        return self.bad_input_start, self.bad_input_start + timedelta(days=1)

    def crash_dates(self) -> list[date]:
        return [self.crash_start + timedelta(days=n) for n in range(CRASH_DATES)]

    def crash_backfill_dates(self) -> list[date]:
        return date_range(self.crash_backfill_start, self.crash_backfill_start
                          + timedelta(days=self.crash_backfill_days - 1))

    def all_data_dates(self) -> list[date]:
        extra = list(self.bad_input_dates()) if "bad_input" in self.scenarios else []
        if "crash" in self.scenarios:
            extra += self.crash_dates() + (self.crash_backfill_dates()
                                           if self.crash_backfill_days else [])
        return (self.happy_dates() + list(self.retry_dates().values()) + self.backfill_dates()
                + self.bad_range()[0] + extra)

    def to_dict(self) -> dict[str, Any]:
        """The plan as results.json records it (dates as ISO strings)."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in vars(self).items()}


def interleaved(names: list[str], rounds: int) -> list[tuple[int, str]]:
    """A B C D A B C D: every round visits every orchestrator once, in the same order."""
    return [(r, n) for r in range(rounds) for n in names]
