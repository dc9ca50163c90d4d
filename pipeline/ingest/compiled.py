"""The load's compiled loops, compiled before the first load.

numba compiles each loop at its first call and keeps the machine code in its disk cache (beside
the module, in `__pycache__`): about 3 s for all of them, which a fresh install's first load
would pay (a 2,000-row HH-RLHF file took 3.3 s instead of 0.5). `python -m
pipeline.ingest.compiled` calls every loop a load may take once, on tiny inputs of the kinds a
load gives it; `make` runs it after installing, and again when one of their modules changes.
The fit's kernel (`model/ep_kernels.py`) still compiles at the first fit, whose cost it is.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa

from ..properties import ascii_counts
from . import line_guard, sources
from .formats import csv_scan, line_scan, list_scan
from .formats.arena_scan import MAX_DIGITS

_TEXTS = ["A list:\n- one\n1. two", "it's `code`, 3,5 and x.y"]


def _read_only(texts: pa.Array) -> pa.Array:
    """The same texts in buffers numpy sees as read-only, as a DuckDB batch's are (numba compiles
    a loop apart for read-only arrays)."""
    _, offsets, data = texts.buffers()
    return pa.Array.from_buffers(texts.type, len(texts), [None, pa.py_buffer(offsets.to_pybytes()),
                                                          pa.py_buffer(data.to_pybytes())])


def warm() -> None:
    """Call every compiled loop of a load once, so numba compiles it into its cache now."""
    # the texts with 32-bit offsets (DuckDB's batches) and 64-bit ones (polars), read-only or not
    for kind in (pa.string(), pa.large_string()):
        texts = pa.array(_TEXTS, kind)
        ascii_counts.counts(texts)
        ascii_counts.counts(_read_only(texts))
    line_guard.scan(b'{"a": [1, 2]}\n', sources.MAX_DEPTH)
    with tempfile.TemporaryDirectory() as folder:
        lines = Path(folder) / "rows.jsonl"
        lines.write_bytes(b'{"content": "x", "n": 12}\n')
        list(line_scan.scan(lines, sources.MAX_DEPTH, MAX_DIGITS))
        listed = Path(folder) / "rows.json"
        listed.write_bytes(b'[{"a": "x", "n": [1]}]')
        list_scan.count(listed, sources.MAX_DEPTH, MAX_DIGITS)
        table = Path(folder) / "rows.csv"
        table.write_bytes(b'a,b\n"x, y",2\n')
        csv_scan.scan(table)


__all__ = ["warm"]

if __name__ == "__main__":
    warm()
