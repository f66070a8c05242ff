"""Facts about the learner's Luigi task, in Luigi's environment: a real build of
``choose_report`` for 2026-11-02 with a local scheduler."""

import json
from datetime import date

import luigi

from course_kit.exercises import isolated_state, ledger_records, probe_main, work_imports


def facts(work):
    with work_imports(work) as load:
        mod = load("luigi_tasks")
        classes = {c.get_task_family(): c for c in vars(mod).values()
                   if isinstance(c, type) and issubclass(c, luigi.Task)
                   and c.__module__ == mod.__name__}
        out = {"tasks": sorted(classes)}
        cls = classes.get("choose_report")
        if cls is not None:
            out["has_date"] = isinstance(cls.__dict__.get("date") or getattr(cls, "date", None),
                                         luigi.DateParameter)
            with isolated_state() as root:
                try:
                    task = cls(date=date(2026, 11, 2))
                    out["built"] = luigi.build([task], local_scheduler=True, workers=1)
                    target = task.output()
                    if out["built"] and hasattr(target, "open"):
                        with target.open("r") as fh:
                            out["next_step"] = json.load(fh).get("next_step")
                except Exception as exc:  # noqa: BLE001
                    out["run_error"] = f"{type(exc).__name__}: {exc}"
                out["ledger"] = ledger_records(root)
        return out


if __name__ == "__main__":
    probe_main(facts)
