"""The benchmark plan: presets, the dates each scenario uses, the fault of each retry
scenario, and how ``workbench bench``'s options narrow or change a preset."""

import argparse
from datetime import date

import pytest

from benchmarks.cli import add_arguments, plan_from
from benchmarks.plan import CRASH_AT_DEFAULTS, SCENARIOS, BenchPlan, interleaved
from pipelines_core.errors import WorkbenchError


def test_rounds_interleave_every_orchestrator():
    assert interleaved(["direct", "a", "b"], 2) == [
        (0, "direct"), (0, "a"), (0, "b"), (1, "direct"), (1, "a"), (1, "b")]


def test_plan_refuses_unknown_scenarios_and_empty_rounds():
    with pytest.raises(ValueError, match="unknown scenario"):
        BenchPlan(["direct"], scenarios=("happy_path", "chaos"))
    with pytest.raises(ValueError, match="unknown scenario.*flood"):
        BenchPlan(["direct"], retry_kinds=("flood",))
    with pytest.raises(ValueError, match="repetitions"):
        BenchPlan(["direct"], repetitions=0)
    with pytest.raises(ValueError, match="bad-day range"):
        BenchPlan(["direct"], bad_range_days=1)


def test_every_scenario_has_dates_of_its_own():
    plan = BenchPlan.preset("full", ["luigi"])
    assert (plan.scale, plan.repetitions, plan.fault_runs_at_once) == (20_000, 3, 2)
    dates = plan.all_data_dates() + plan.floor_dates()
    assert len(dates) == len(set(dates)) == 4 + 4 + 7 + 3 + 3
    assert plan.happy_dates()[0] == date(2026, 11, 2)
    assert plan.bad_range() == ([date(2026, 10, 20), date(2026, 10, 21), date(2026, 10, 22)],
                                date(2026, 10, 21))
    assert plan.retry_dates() == {"transient": date(2026, 11, 16), "crash": date(2026, 11, 17),
                                  "hang": date(2026, 11, 18), "permanent": date(2026, 11, 19)}


def test_the_bad_input_preset_runs_its_scenario_on_dates_of_its_own():
    plan = plan_from(options("--preset", "bad-input"), ["luigi"])
    assert plan.scenarios == ("happy_path", "bad_input") and plan.double_trigger
    assert plan.bad_input_dates() == (date(2026, 10, 26), date(2026, 10, 27))
    dates = plan.all_data_dates() + plan.floor_dates()
    assert len(dates) == len(set(dates)) and set(plan.bad_input_dates()) <= set(dates)
    # the other presets do not write its exports
    assert date(2026, 10, 26) not in BenchPlan.preset("quick", ["luigi"]).all_data_dates()
    assert plan_from(options("--scenarios", "bad_input"), ["luigi"]).scenarios == (
        "happy_path", "bad_input")


def test_the_crash_preset_gives_each_case_a_date_of_its_own():
    plan = plan_from(options("--preset", "crash"), ["airflow"])
    # the case at the detection defaults outlasts Airflow's default orphan check
    assert plan.scenarios == ("happy_path", "crash") and CRASH_AT_DEFAULTS["airflow"] == (
        "scheduler", 420.0)
    assert plan.crash_at_defaults and plan.detection == "default"
    # Airflow's four components and a step's process, tuned, and one case at the defaults
    assert len(plan.crash_dates()) >= 4 + 1 + 1
    dates = plan.all_data_dates() + plan.floor_dates()
    assert len(dates) == len(set(dates)) and set(plan.crash_dates()) <= set(dates)
    assert not set(plan.crash_dates()) & set(BenchPlan.preset("full", ["x"]).all_data_dates())
    narrowed = plan_from(options("--preset", "crash", "--crash-targets", "worker, step process"),
                         ["prefect"])
    assert narrowed.crash_targets == ("worker", "step process")


def test_crash_targets_pick_components_the_step_s_process_or_both_at_once():
    from benchmarks.crash import planned_cases

    known = ["server", "worker", "step process"]
    lost_machine = "worker with the step's process"
    plan = plan_from(options("--preset", "crash"), ["prefect"])
    names, cases = planned_cases(plan, "prefect", known)
    assert names == known
    assert [(key, mode) for key, _, mode, _ in cases] == [
        (f"{lost_machine}, detection at defaults", "default"), ("server", "tuned"),
        ("worker", "tuned"), ("step process", "tuned"), (lost_machine, "tuned")]
    # the lost machine alone: at the defaults (watched as its preset says), then tuned
    plan = plan_from(options("--preset", "crash", "--crash-targets", lost_machine), ["prefect"])
    names, cases = planned_cases(plan, "prefect", known)
    assert names == [lost_machine] and cases == [
        (f"{lost_machine}, detection at defaults", lost_machine, "default",
         CRASH_AT_DEFAULTS["prefect"][1]), (lost_machine, lost_machine, "tuned", 180.0)]
    # the step's process alone: nothing at the defaults, whose kill is another one
    plan = plan_from(options("--preset", "crash", "--crash-targets", "step process"),
                     ["prefect"])
    assert planned_cases(plan, "prefect", known)[1] == [
        ("step process", "step process", "tuned", 180.0)]
    # a target the orchestrator does not have: no case
    plan = plan_from(options("--preset", "crash", "--crash-targets", "scheduler"), ["prefect"])
    assert planned_cases(plan, "prefect", known) == ([], [])


def test_the_hang_outlasts_the_plan_s_timeout():
    plan = BenchPlan.preset("quick", ["luigi"])
    assert plan.step_timeout_s == 15.0
    assert plan.faults()["hang"] == ("daily_report", {"kind": "hang", "times": 1,
                                                      "hang_s": 20.0})
    assert plan.faults()["transient"] == ("gold_summary", {"kind": "raise", "times": 2})
    narrowed = BenchPlan(["luigi"], retry_kinds=("crash",))
    assert list(narrowed.retry_dates()) == ["crash"]
    assert narrowed.to_dict()["happy_start"] == "2026-11-02"


def options(*argv):
    return add_arguments(argparse.ArgumentParser()).parse_args(list(argv))


def test_options_narrow_the_preset():
    args = options("--scenarios", "happy_path", "--orchestrators", "prefect",
                   "--repetitions", "3", "--preset", "full")
    plan = plan_from(args, ["prefect"])
    assert (plan.scenarios, plan.repetitions, plan.scale) == (("happy_path",), 3, 20_000)
    plan = plan_from(options("--scenarios", " retries , backfill"), ["luigi"])
    assert plan.scenarios == ("happy_path", "retries", "backfill")
    assert plan.scale == 2_000 and plan.repetitions == 1
    args = options()
    args.scale = 500  # ``--scale`` comes with the command line's common options
    assert plan_from(args, ["luigi"]).scenarios == SCENARIOS
    assert plan_from(args, ["luigi"]).scale == 500


def test_options_that_make_no_plan_are_refused():
    with pytest.raises(WorkbenchError, match="unknown scenario"):
        plan_from(options("--scenarios", "happy_path,chaos"), ["luigi"])
    with pytest.raises(WorkbenchError, match="repetitions"):
        plan_from(options("--repetitions", "0"), ["luigi"])


def test_rows_the_presets_run_besides_each_orchestrator_s_own():
    quick = BenchPlan.preset("quick", ["airflow", "dagster"])
    assert quick.profile == "production"
    assert quick.rows() == [
        ("direct", "direct", {}, "production"), ("airflow", "airflow", {}, "production"),
        ("dagster", "dagster", {}, "production")]
    # the full preset adds each documented faster mode and every orchestrator's default
    # profile; rows of orchestrators not in the plan are left out
    full = BenchPlan.preset("full", ["airflow", "dagster"])
    assert [r[0] for r in full.rows()][3:] == [
        "dagster (in_process executor)", "airflow (default profile)",
        "dagster (default profile)"]
    assert full.rows()[3] == ("dagster (in_process executor)", "dagster",
                              {"in_process": True}, "production")
    assert full.rows()[-1] == ("dagster (default profile)", "dagster", {}, "default")
    assert [r[0] for r in BenchPlan.preset("full", ["luigi"]).rows()] == [
        "direct", "luigi", "luigi (default profile)"]
    on_default = plan_from(options("--profile", "default"), ["luigi"])
    assert on_default.profile == "default" and on_default.rows()[1][3] == "default"
    with pytest.raises(ValueError, match="unknown profile 'sqlite'"):
        BenchPlan(["luigi"], profile="sqlite")
    with pytest.raises(ValueError, match="rows dagster \\(in_process executor\\)"):
        BenchPlan(["luigi"], extra_rows=("luigi (in_process executor)",))
