"""The error that ends a wait when a component of the orchestrator died names the component,
when it was found dead, and the last exception its log shows: the reason travels with the
failure instead of staying in a log that a clean-up may remove."""

from benchmarks.adapters.base import ComponentDied, last_error

# The end of a scheduler's log, as Airflow writes it when its loop dies.
SCHEDULER_LOG = """\
2026-12-05T00:31:36.458697Z [info     ] Hit IntegrityError while creating the TIs
Traceback (most recent call last):
  File "airflow/models/dagrun.py", line 1969, in _create_task_instances
sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) FOREIGN KEY constraint failed
During handling of the above exception, another exception occurred:
  File "sqlalchemy/orm/loading.py", line 1731, in _load_scalar_attributes
    raise orm_exc.ObjectDeletedError(state)
sqlalchemy.orm.exc.ObjectDeletedError: Instance '<DagRun>' has been deleted
2026-12-05T00:31:36.469373Z [info     ] Exited execute loop
"""


def test_the_last_exception_of_the_log_is_its_last_error():
    assert last_error(SCHEDULER_LOG) == ("sqlalchemy.orm.exc.ObjectDeletedError: "
                                         "Instance '<DagRun>' has been deleted")
    assert last_error("2026-12-05 [info] Exiting gracefully\n") == ""


def test_the_error_names_each_dead_component_and_what_its_log_said():
    err = ComponentDied.of([
        {"component": "scheduler", "time": "2026-12-05T00:31:39Z", "log_tail": SCHEDULER_LOG},
        {"component": "triggerer", "time": "2026-12-05T00:31:40Z", "log_tail": ""}])
    assert str(err) == (
        "scheduler died, found at 2026-12-05T00:31:39Z (its log's last error: "
        "sqlalchemy.orm.exc.ObjectDeletedError: Instance '<DagRun>' has been deleted); "
        "triggerer died, found at 2026-12-05T00:31:40Z")
