"""Deprecated: the app's data layer is `pipeline.queries` (one module per page concern).

Only what pages/7_SQL.py still imports from here is left; remove this module once it
imports `DatabaseBusy` from `pipeline.queries` and downloads with `ui.layout.csv_bytes`.
"""

from __future__ import annotations

import pandas as pd

from .queries import DatabaseBusy


def csv_bytes(df: pd.DataFrame, *, index: bool = False) -> bytes:
    """A DataFrame as UTF-8 CSV (see ui.layout.csv_bytes)."""
    return df.to_csv(index=index).encode("utf-8")


__all__ = ["DatabaseBusy", "csv_bytes"]
