"""The error that ends a wait when a component of the orchestrator died names the component,
when it was found dead, and the last exception its log shows: the reason travels with the
failure instead of staying in a log that a clean-up may remove."""

from benchmarks.adapters.base import ComponentDied, raised

# The end of a scheduler's log as Airflow writes it when its loop dies, from the start of a
# chained traceback's frames (a tail cuts the first lines off).
SCHEDULER_TAIL = """\
  File "airflow/models/dagrun.py", line 1969, in _create_task_instances
    session.bulk_insert_mappings(TI.__mapper__, tasks)
sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) FOREIGN KEY constraint failed
2026-12-05T00:31:36.469373Z [error    ] Exception when executing SchedulerJob._run_scheduler_loop
Traceback (most recent call last):
  File "sqlalchemy/orm/loading.py", line 1731, in _load_scalar_attributes
    raise orm_exc.ObjectDeletedError(state)
sqlalchemy.orm.exc.ObjectDeletedError: Instance '<DagRun>' has been deleted
2026-12-05T00:31:36.470000Z [info     ] Exited execute loop
"""


def test_the_last_exception_of_a_tail_is_found_even_when_it_starts_inside_a_traceback():
    lines = SCHEDULER_TAIL.splitlines()
    assert raised(lines) == "ObjectDeletedError: Instance '<DagRun>' has been deleted"
    assert raised(lines[:3]) == ("IntegrityError: (sqlite3.IntegrityError) FOREIGN KEY "
                                 "constraint failed")
    assert raised(lines[1:]) == raised(lines)  # the tail may start at any frame's line
    # a log line that merely mentions an exception is not one, nor the first line after
    # indented text that is no traceback
    assert raised(lines[3:4] + lines[-1:]) is None
    assert raised(["    a continued message", "2026-12-05 [info] done"]) is None
    assert raised([]) is None


def test_the_error_names_each_dead_component_and_what_its_log_said():
    err = ComponentDied.of([
        {"component": "scheduler", "time": "2026-12-05T00:31:39Z", "log_tail": SCHEDULER_TAIL},
        {"component": "triggerer", "time": "2026-12-05T00:31:40Z", "log_tail": ""}])
    assert str(err) == (
        "scheduler died, found at 2026-12-05T00:31:39Z (its log's last error: "
        "ObjectDeletedError: Instance '<DagRun>' has been deleted); "
        "triggerer died, found at 2026-12-05T00:31:40Z")
