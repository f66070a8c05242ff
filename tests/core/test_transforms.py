"""Each transform on tiny hand-built frames: actual rows against expected rows."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from pipelines_core import transforms

COLS = ["event_id", "customer_id", "op", "op_ts", "name", "email", "region", "segment",
        "lifetime_value"]


def ts(h, m=0, day=2):
    return datetime(2026, 11, day, h, m)


def events(spark, rows):
    return spark.createDataFrame(rows, "event_id string, customer_id long, op string, "
                                       "op_ts timestamp, name string, email string, "
                                       "region string, segment string, "
                                       "lifetime_value decimal(12,2)")


def row(eid, cid, op, t, region="emea", value="10.00"):
    dead = op == "D"
    return (eid, cid, op, t, None if dead else f"C{cid}", None if dead else f"c{cid}@x",
            None if dead else region, None if dead else "smb",
            None if dead else Decimal(value))


def resolved(spark, rows):
    out = transforms.resolve_cdc(events(spark, rows), date(2026, 11, 2))
    return {r["customer_id"]: r.asDict() for r in out.collect()}


def test_latest_operation_wins_whatever_the_arrival_order(spark):
    # Arrival order: the delete arrives first, then a *late* update with an earlier op time.
    got = resolved(spark, [row("e1", 1, "I", ts(1)), row("e2", 1, "D", ts(9)),
                           row("e3", 1, "U", ts(5), value="99.00")])
    assert got[1]["is_deleted"] is True
    assert got[1]["last_op"] == "D"
    assert got[1]["name"] is None


def test_update_after_insert_keeps_the_update(spark):
    got = resolved(spark, [row("e2", 2, "U", ts(8), region="apac", value="20.00"),
                           row("e1", 2, "I", ts(2), region="emea")])
    assert (got[2]["region"], got[2]["lifetime_value"], got[2]["last_op"]) == (
        "apac", Decimal("20.00"), "U")
    assert got[2]["is_deleted"] is False


def test_duplicate_events_count_once_and_null_keys_are_dropped(spark):
    rows = [row("e1", 3, "I", ts(1)), row("e1", 3, "I", ts(1)), row("e9", None, "U", ts(4))]
    got = resolved(spark, rows)
    assert list(got) == [3]


def test_tie_on_operation_time_prefers_delete_then_update(spark):
    got = resolved(spark, [row("e1", 4, "U", ts(3)), row("e2", 4, "D", ts(3))])
    assert got[4]["last_op"] == "D"


def test_event_from_an_earlier_day_is_flagged_late(spark):
    got = resolved(spark, [row("e1", 5, "U", ts(23, day=1)), row("e2", 6, "U", ts(1))])
    assert (got[5]["is_late"], got[6]["is_late"]) == (True, False)


def silver_of(spark, rows):
    return transforms.resolve_cdc(events(spark, rows), date(2026, 11, 2))


def test_quality_checks_pass_on_clean_data(spark):
    rows = [row(f"e{i}", i, "I", ts(1), region=r) for i, r in
            enumerate(["emea", "amer", "apac", "latam"] * 25)]
    b = events(spark, rows)
    checks = transforms.quality_checks(b, silver_of(spark, rows), expected_rows=100)
    assert {c["name"]: c["passed"] for c in checks} == {
        "null_keys": True, "duplicate_keys": True, "row_count": True,
        "referential_region": True, "null_email": True}


def test_quality_checks_trip_on_null_keys_unknown_regions_and_volume(spark):
    rows = [row(f"e{i}", i, "I", ts(1)) for i in range(60)]
    rows += [row("bad1", None, "I", ts(1)), row("bad2", 999, "I", ts(1), region="??")]
    b = events(spark, rows)
    checks = {c["name"]: c for c in
              transforms.quality_checks(b, silver_of(spark, rows), expected_rows=1000)}
    assert checks["null_keys"]["passed"] is False
    assert checks["null_keys"]["observed"] == pytest.approx(1 / 62, abs=1e-6)
    assert checks["referential_region"]["observed"] == 1
    assert checks["row_count"]["passed"] is False  # 62 rows, expected 500..2000
    assert checks["duplicate_keys"]["passed"] is True


def test_region_aggregates(spark):
    rows = [row("e1", 1, "I", ts(1), "emea", "10.50"), row("e2", 2, "U", ts(1), "emea", "4.25"),
            row("e3", 3, "U", ts(1, day=1), "amer", "1.00"), row("e4", 4, "D", ts(2))]
    agg = transforms.region_aggregates(silver_of(spark, rows), "emea").first().asDict()
    assert agg == {"region": "emea", "customers_touched": 2, "new_customers": 1,
                   "updated_customers": 1, "late_events": 0,
                   "lifetime_value_total": Decimal("14.75")}


def test_report_totals_add_exactly():
    rows = [{"customers_touched": 2, "new_customers": 1, "updated_customers": 1,
             "late_events": 0, "lifetime_value_total": Decimal("0.10")},
            {"customers_touched": 3, "new_customers": 0, "updated_customers": 3,
             "late_events": 2, "lifetime_value_total": Decimal("0.20")}]
    assert transforms.report_totals(rows) == {
        "customers_touched": 5, "new_customers": 1, "updated_customers": 4, "late_events": 2,
        "lifetime_value_total": "0.30"}
