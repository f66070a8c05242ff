"""Small readers over a Dagster instance's event log, shared by the run tests."""

from __future__ import annotations

from collections import defaultdict

from dagster import DagsterEventType

from workbench_dagster.stepnames import parse_step_key


def step_events(instance, run_id: str) -> dict[str, list[str]]:
    """Event types per step key, in order."""
    out: dict[str, list[str]] = defaultdict(list)
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.step_key:
            out[event.step_key].append(event.event_type_value)
    return dict(out)


def steps_run(instance, run_id: str) -> set[tuple[str, str | None]]:
    """(spec step, map key) of every core step that started in the run."""
    out = set()
    for key, types in step_events(instance, run_id).items():
        name, map_key, aux = parse_step_key(key)
        if not aux and DagsterEventType.STEP_START.value in types:
            out.add((name, map_key))
    return out
