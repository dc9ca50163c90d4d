"""What every load shares: the report, the pair key, chunking, the background writer and the
steps after rows are stored (style features, custom groups, name checks).

A format reader (`formats/`, `records.py`) yields pairs; `release_load.py` and `raw_load.py`
turn them into rows and store them through the pieces here. Nothing here reads a file.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import polars as pl

from .. import groups, names
from ..properties import measures, style
from .release_rows import ALL_GROUP
from .sources import SourceError

CHUNK = 5000  # pairs per insert: bounds memory on large files


@dataclass
class LoadReport:
    source: str
    records: int = 0
    new_pairs: int = 0
    existing_pairs: int = 0
    duplicates_in_source: int = 0
    new_labels: int = 0
    usable_pairs: int = 0
    judges: list[str] = field(default_factory=list)
    seconds: float = 0.0
    already_loaded: bool = False
    format: str = "release"
    annotated_in_place: int = 0         # stored raw pairs that got this source's annotations
    skipped: list[str] = field(default_factory=list)  # one line per reason rows or votes were left out

    def summary(self) -> str:
        if self.already_loaded:
            return f"{self.source}: already loaded, nothing changed"
        if self.format != "release":
            return (f"{self.source} ({self.format}): {self.records} rows, {self.new_pairs} new raw pairs, "
                    f"{self.existing_pairs} already present, {self.new_labels} new labels from "
                    f"{len(self.judges)} judges, in {self.seconds:.1f} s")
        filled = f", {self.annotated_in_place} stored raw pairs annotated" if self.annotated_in_place else ""
        return (f"{self.source}: {self.records} records, {self.new_pairs} new pairs "
                f"({self.usable_pairs} usable for fitting), {self.existing_pairs} already present{filled}, "
                f"{self.new_labels} new labels from {len(self.judges)} judges, in {self.seconds:.1f} s")


def pair_key(query: str, response_1: str, response_2: str) -> str:
    h = hashlib.sha1()
    for part in (query, response_1, response_2):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


class BackgroundWriter:
    """A background thread that stores one chunk while the next is read and checked. DuckDB
    and polars release the GIL while they work, so on two cores the inserts overlap the
    Python checks. One chunk at a time: memory stays bounded, and the order is the records'."""

    def __init__(self, con):
        self.con = con
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-writer")
        self.pending: Future | None = None

    def submit(self, fn, *args) -> None:
        self.wait()
        self.pending = self.pool.submit(fn, self.con, *args)

    def wait(self) -> None:
        """Until the chunk being stored is stored; raises its error."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Also after a failed record: the running insert ends before the transaction is rolled back."""
        self.pool.shutdown(wait=True)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """A load makes millions of short-lived objects without reference cycles (refcounting frees
    them); the cyclic collector would scan every live one again and again: about a third of
    the CPU time of reading and checking records."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def add_style_features(con, texts) -> None:
    """The measures (`pipeline.properties.measures`) and, from them, the style features
    (`pipeline.properties.style`) of newly stored pairs: a polars frame, or rows, of
    (pair_id, response_1, response_2), with optional num_words_1 / num_words_2 (a record's
    word counts). Raw pairs get their word counts (pairs.num_words_1/2) from the measures."""
    if len(texts) == 0:
        return
    # polars: the measures are vectorised string expressions over a whole chunk's texts,
    # and DuckDB reads the frames made from them through Arrow without a copy.
    frame = texts if isinstance(texts, pl.DataFrame) else pl.DataFrame(
        texts, schema={"pair_id": pl.Int64, "response_1": pl.String, "response_2": pl.String}, orient="row")
    wide = measures.measure_frame(frame)
    style_rows = style.features_from_measures(wide).to_arrow()  # noqa: F841
    con.execute("INSERT INTO features (pair_id, property, value) SELECT pair_id, property, value FROM style_rows")
    measures.store(con, wide)


def refresh_custom_groups(con) -> None:
    """Custom groups are conditions on the pairs: re-evaluated after every load (`pipeline.groups`)."""
    groups.refresh(con)


def check_names(values: dict[str, str]) -> None:
    """Names from the command line or a file (a judge, a source) go through `pipeline.names`
    (no control, zero-width or bidi characters, not empty, not over-long) once it exists."""
    for what, value in values.items():
        try:
            names.check_name(value, what=what)
        except ValueError as exc:
            raise SourceError(str(exc)) from None


def count_labels(con) -> int:
    return con.execute("SELECT count(*) FROM labels").fetchone()[0]



__all__ = ["ALL_GROUP", "BackgroundWriter", "CHUNK", "LoadReport", "add_style_features", "check_names", "count_labels",
           "cyclic_gc_paused", "pair_key", "refresh_custom_groups"]
