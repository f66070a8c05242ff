"""Facts about the learner's Prefect flow, in Prefect's environment: its tasks, and what the
``choose_report`` task's body does when called for 2026-11-01."""

from prefect import Flow, Task

from course_kit.exercises import isolated_state, ledger_records, probe_main, work_imports


def facts(work):
    with work_imports(work) as load:
        mod = load("prefect_flow")
        tasks = {t.name: t for t in vars(mod).values() if isinstance(t, Task)}
        flows = sorted(f.name for f in vars(mod).values() if isinstance(f, Flow))
        out = {"tasks": sorted(tasks), "flows": flows}
        if "choose_report" in tasks:
            with isolated_state() as root:
                try:
                    result = tasks["choose_report"].fn("2026-11-01")
                    out["next_step"] = (result or {}).get("next_step")
                except Exception as exc:  # noqa: BLE001
                    out["run_error"] = f"{type(exc).__name__}: {exc}"
                out["ledger"] = ledger_records(root)
        return out


if __name__ == "__main__":
    probe_main(facts)
