"""Queries of the judge_difference view (how two judges differ). Fixed SQL, `$name` parameters."""

from __future__ import annotations

import duckdb
import pandas as pd

from .base import Db, frame, reading

DIFFERENCE = """
    SELECT d.property, d.difference, d.ci_low, d.ci_high, d.prob_positive, d.sd,
           a.weight AS weight_a, b.weight AS weight_b
    FROM judge_difference d
    JOIN fits a ON a.judge = d.judge_a AND a.group_name = d.group_name AND a.property_set = d.property_set
               AND a.property = d.property
    JOIN fits b ON b.judge = d.judge_b AND b.group_name = d.group_name AND b.property_set = d.property_set
               AND b.property = d.property
    LEFT JOIN properties p ON p.property = d.property
    WHERE d.judge_a = $judge_a AND d.judge_b = $judge_b AND d.group_name = $group
      AND d.property_set = $property_set
    ORDER BY p.property_set, p.property_index, d.property
"""
FITTED = "SELECT DISTINCT judge, group_name, property_set FROM fits"


def difference(con: duckdb.DuckDBPyConnection, judge_a: str, judge_b: str, group: str,
               property_set: str) -> pd.DataFrame:
    return frame(con, DIFFERENCE, {"judge_a": judge_a, "judge_b": judge_b, "group": group,
                                   "property_set": property_set})


def fitted(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in con.execute(FITTED).fetchall()]


def for_page(db: Db, judge_a: str, judge_b: str, group: str, property_set: str) -> pd.DataFrame:
    """The two judges' differences in a group (the Dissection page ranks them)."""
    with reading(db) as con:
        return difference(con, judge_a, judge_b, group, property_set)
