"""Checks exercise 05: the new rule and the gate on tiny hand-built frames."""

from __future__ import annotations

from pathlib import Path

from pipelines_core.errors import GateFailed
from course_kit.exercises import Kit, import_failed, need, short_error, work_imports

TITLE = {"en": "A new data-quality rule as a gate",
         "es": "Una regla de calidad de datos nueva como compuerta"}

SILVER = ("customer_id string, name string, email string, region string, segment string, "
          "lifetime_value decimal(12,2), is_deleted boolean")


def frames(spark, values):
    from decimal import Decimal

    regions = ["amer", "apac", "emea", "latam"]
    silver = [(f"c{i}", f"n{i}", f"c{i}@x.io", regions[i % 4], "smb",
               Decimal(str(values.get(i, 100))), i in (7, 8)) for i in range(40)]
    bronze = spark.createDataFrame([(f"c{i}",) for i in range(40)], "customer_id string")
    return bronze, spark.createDataFrame(silver, SILVER)


def check(work: Path, kit: Kit):
    spark = kit.spark()
    good = frames(spark, {})
    # c3 and c5 are active with negative values; c7 is deleted (its value does not count)
    bad = frames(spark, {3: -5, 5: -0.01, 7: -100})
    with work_imports(work) as load:
        try:
            rules = load("rules")
        except Exception as exc:  # noqa: BLE001
            return import_failed("rules", exc)
        reqs = []
        try:
            ok_result = rules.negative_value_check(good[1])
            bad_result = rules.negative_value_check(bad[1])
            reqs.append(need(
                ok_result.get("name") == "negative_lifetime_value"
                and ok_result.get("passed") is True and bad_result.get("passed") is False
                and bad_result.get("observed") == 2 and bad_result.get("limit") == 0,
                "negative_value_check must pass clean data and fail data with two active "
                f"customers below zero (observed 2, limit 0; a deleted one does not count); "
                f"it returned {bad_result!r}",
                "negative_value_check debe aprobar datos limpios y suspender datos con dos "
                "clientes activos por debajo de cero (observed 2, limit 0; uno borrado no "
                f"cuenta); devolvió {bad_result!r}"))
        except Exception as exc:  # noqa: BLE001
            reqs.append(need(False, f"negative_value_check fails: {short_error(exc)}",
                             f"negative_value_check falla: {short_error(exc)}"))
        try:
            good_checks = rules.all_checks(*good, 40)
            bad_checks = rules.all_checks(*bad, 40)
            names = [c["name"] for c in bad_checks]
            reqs.append(need(
                "negative_lifetime_value" in names and "null_keys" in names
                and all(c["passed"] for c in good_checks)
                and [c["name"] for c in bad_checks if not c["passed"]]
                == ["negative_lifetime_value"],
                "all_checks must return the core's five checks plus negative_lifetime_value "
                f"(got {names})",
                "all_checks debe devolver las cinco comprobaciones del núcleo más "
                f"negative_lifetime_value (devolvió {names})"))
        except Exception as exc:  # noqa: BLE001
            reqs.append(need(False, f"all_checks fails: {short_error(exc)}",
                             f"all_checks falla: {short_error(exc)}"))
            good_checks = bad_checks = None
        failed_check = {"name": "negative_lifetime_value", "passed": False, "observed": 2,
                        "limit": 0}
        passed_check = {"name": "null_keys", "passed": True, "observed": 0, "limit": 0.01}
        stopped, message = False, ""
        try:
            rules.gate([passed_check, failed_check])
        except GateFailed as exc:
            stopped, message = True, str(exc)
        except Exception as exc:  # noqa: BLE001
            message = short_error(exc)
        reqs.append(need(stopped and "negative_lifetime_value" in message,
                         "gate must raise GateFailed naming the failed rule "
                         "(GateFailed, so no orchestrator retries a verdict on the data)"
                         + (f"; it raised {message}" if message and not stopped else ""),
                         "gate debe lanzar GateFailed nombrando la regla incumplida "
                         "(GateFailed, para que ningún orquestador reintente un veredicto "
                         "sobre los datos)"
                         + (f"; lanzó {message}" if message and not stopped else "")))
        try:
            rules.gate([passed_check])
            lets_through = True
        except Exception:  # noqa: BLE001
            lets_through = False
        reqs.append(need(lets_through, "gate must let a run whose checks all passed go on",
                         "gate debe dejar seguir una ejecución cuyas comprobaciones pasaron"))
        return reqs
