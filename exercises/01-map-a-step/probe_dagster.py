"""Facts about the learner's Dagster definitions, in Dagster's environment: the assets, and a
real in-process materialisation of ``choose_report`` for the partition 2026-11-01."""

from dagster import AssetsDefinition, DagsterInstance, Definitions, materialize

from course_kit.exercises import isolated_state, ledger_records, probe_main, work_imports


def facts(work):
    with work_imports(work) as load:
        mod = load("dagster_defs")
        assets = {a.key.path[-1]: a for a in vars(mod).values() if isinstance(a, AssetsDefinition)}
        out = {"assets": sorted(assets),
               "has_defs": isinstance(getattr(mod, "defs", None), Definitions)}
        asset = assets.get("choose_report")
        if asset is not None:
            out["partitioned"] = asset.partitions_def is not None
            with isolated_state() as root:
                try:
                    result = materialize([asset], partition_key="2026-11-01",
                                         instance=DagsterInstance.ephemeral(),
                                         raise_on_error=False)
                    out["success"] = result.success
                    if result.success:
                        out["next_step"] = result.output_for_node("choose_report")["next_step"]
                    else:
                        failure = [e for e in result.all_events if e.is_failure]
                        out["run_error"] = failure[0].message if failure else "failed"
                except Exception as exc:  # noqa: BLE001
                    out["run_error"] = f"{type(exc).__name__}: {exc}"
                out["ledger"] = ledger_records(root)
        return out


if __name__ == "__main__":
    probe_main(facts)
