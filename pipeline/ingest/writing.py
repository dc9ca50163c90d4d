"""What every load shares: the report, the pair key, chunking, the background writer and the
steps after rows are stored (style features, custom groups, name checks).

A format reader (`formats/`, `records.py`) yields pairs; `release_load.py` and `raw_load.py`
turn them into rows and store them through the pieces here. Nothing here reads a file.
"""

from __future__ import annotations

import gc
import hashlib
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TypeVar

import duckdb
import polars as pl
import pyarrow as pa

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
    left_out: int = 0                   # rows and votes without a stored label: skipped or duplicate, counted
    notes: list[str] = field(default_factory=list)  # how the load went, where a user would ask (read row by row: why)

    def summary(self) -> str:
        if self.already_loaded:
            return f"{self.source}: already loaded, nothing changed"
        if self.format != "release":
            counted = f", {self.left_out} votes left out or duplicate (below)" if self.left_out else ""
            return (f"{self.source} ({self.format}): {self.records} rows, {self.new_pairs} new raw pairs, "
                    f"{self.existing_pairs} already present, {self.new_labels} new labels from "
                    f"{len(self.judges)} judges{counted}, in {self.seconds:.1f} s")
        filled = f", {self.annotated_in_place} stored raw pairs annotated" if self.annotated_in_place else ""
        filled += f", {self.left_out} votes left out (below)" if self.left_out else ""
        return (f"{self.source}: {self.records} records, {self.new_pairs} new pairs "
                f"({self.usable_pairs} usable for fitting), {self.existing_pairs} already present{filled}, "
                f"{self.new_labels} new labels from {len(self.judges)} judges, in {self.seconds:.1f} s")


def pair_key(query: str, response_1: str, response_2: str) -> str:
    h = hashlib.sha1()
    for part in (query, response_1, response_2):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def battle_key(text_key: str, model_1: str | None, model_2: str | None) -> str:
    """The key of a battle whose texts equal a stored pair's but whose models differ: a battle is its
    query, both texts and both models. The first battle of some texts keeps the plain `pair_key`, so
    keys stored before battles were told apart stay valid."""
    h = hashlib.sha1(text_key.encode())
    for model in (model_1, model_2):
        h.update(b"\x1f")
        h.update(b"\x00" if model is None else model.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


MAX_PAIR_ID = 2**31 - 1  # pairs.pair_id is INTEGER


def stored_by_key(con, keys: set[str], columns: str) -> list[tuple]:
    """(pair_key, *columns) of the stored pairs with these keys: a load looks up a chunk's keys
    this way, never every stored key at once (a dict of them took 1.45 GB at 2.85 million pairs).
    The caller has the connection to itself (its writer thread idle)."""
    if not keys:
        return []
    wanted = pa.table({"pair_key": sorted(keys)})  # noqa: F841 - read by DuckDB below
    return con.execute(f"SELECT pair_key, {columns} FROM pairs WHERE pair_key IN (SELECT pair_key FROM wanted)"
                       ).fetchall()


class PairIds:
    """Pair ids for a load: `offset + position` while that fits an INTEGER; past it, the unused ids
    below the largest stored one (a release may have put its own ids near the top). No id is ever
    out of range, and a database with no id left refuses the load in one line."""

    def __init__(self, con, offset: int):
        self.con, self.offset = con, offset
        self.free: Iterator[int] | None = None

    def __call__(self, position: int) -> int:
        pid = self.offset + position
        if pid <= MAX_PAIR_ID:
            return pid
        if self.free is None:
            self.free = self._gaps()
        for pid in self.free:
            return pid
        raise SourceError(f"no pair ids left: the database holds pairs up to id {MAX_PAIR_ID:,}, "
                          "the largest an INTEGER column takes; load into a new database")

    def _gaps(self) -> Iterator[int]:
        # ids below the offset not stored yet: every id this load gave so far is >= the offset
        rows = self.con.execute(
            "SELECT pair_id + 1, coalesce(next_id, ?) - 1 FROM (SELECT pair_id::BIGINT AS pair_id, lead(pair_id::BIGINT) OVER "
            "(ORDER BY pair_id) AS next_id FROM (SELECT -1 AS pair_id UNION ALL SELECT pair_id FROM pairs)) "
            "WHERE coalesce(next_id, ?) > pair_id + 1 AND pair_id + 1 < ? ORDER BY 1",
            [self.offset, self.offset, self.offset]).fetchall()
        for start, stop in rows:
            yield from range(start, min(stop, self.offset - 1) + 1)


def claim_source(con, source: str, kind: str, generated: bool) -> None:
    """A load joins an existing source only if it is of the same kind: real pairs never join a
    generated source (the demo's rebuild deletes those), and no source changes kind."""
    row = con.execute("SELECT source, kind, generated FROM sources WHERE source = ?", [source]).fetchone()
    if row is None:
        return
    if bool(row[2]) != bool(generated):
        what = "generated (synthetic) data" if row[2] else "loaded (real) data"
        raise SourceError(f"source {row[0]!r} holds {what}; load under another --name")
    if row[1] != kind:
        raise SourceError(f"source {row[0]!r} is of kind {row[1]!r}, not {kind!r}; a source does not change "
                          "kind: load under another --name")


class BackgroundWriter:
    """A background thread that stores one chunk while the next is read and checked. DuckDB
    and polars release the GIL while they work, so on two cores the inserts overlap the
    Python checks. One chunk at a time: memory stays bounded, and the order is the records'."""

    def __init__(self, con, *, spare_thread: bool = False):
        """`spare_thread`: DuckDB runs one thread fewer (at least one) until `close`, for a load
        whose checks in Python are what it waits for: on two cores DuckDB's second thread took
        the core the checks run on. 100,000 release records x 50 judges into a new database,
        alternating: 12.2 to 12.6 s against 13.4 to 15.0 s (17.6 to 18.2 CPU-seconds against
        20.1 to 23.3). Set here, before the thread stores anything, and restored once it is done:
        a connection is not used by two threads at once."""
        self.con = con
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-writer")
        self.pending: Future | None = None
        self.threads_before: int | None = None
        if spare_thread:
            self.threads_before = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
            con.execute(f"SET threads = {max(1, self.threads_before - 1)}")

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
        if self.threads_before is not None:
            with suppress(duckdb.Error):  # after a failed write the connection is closed anyway
                self.con.execute(f"SET threads = {self.threads_before}")
            self.threads_before = None


T = TypeVar("T")
_END = object()


def read_ahead(items: Iterable[T]) -> Iterator[T]:
    """The items, each next one fetched on a thread while the caller works on this one (a
    staged file's chunks: DuckDB fetches the next while polars measures this one and the writer
    stores the last). One item ahead at most, so memory stays bounded; when the caller stops
    early, the fetch under way ends before this returns."""
    it = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-fetch") as pool:
        ahead = pool.submit(next, it, _END)
        while (item := ahead.result()) is not _END:
            ahead = pool.submit(next, it, _END)
            yield item


# How long a thread may hold the GIL while another waits for it (Python's default: 5 ms).
GIL_SWITCH = 0.0005


@contextmanager
def quick_gil_handoff() -> Iterator[None]:
    """A release-format load checks records in Python on one thread while the writer thread's
    DuckDB and polars calls each need the GIL back for a moment between their GIL-free parts;
    at Python's default the writer waits up to 5 ms each time. At 0.5 ms, 100,000 records x 50
    judges loaded 0.75 s sooner (12.9 s against 13.6 s, six runs each, alternating); 0.2 and 0.1
    ms were slower again. Process-wide while it lasts, restored after."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, GIL_SWITCH))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


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
    word counts), or an Arrow table of them. Raw pairs get their word counts (pairs.num_words_1/2)
    from the measures."""
    if len(texts) == 0:
        return
    frame = texts if isinstance(texts, (pl.DataFrame, pa.Table)) else pl.DataFrame(
        texts, schema={"pair_id": pl.Int64, "response_1": pl.String, "response_2": pl.String}, orient="row")
    insert_style_rows(con, style_rows(frame))


@dataclass
class StyleRows:
    """A chunk's style features, measures and word counts (pair_id, words_1, words_2), as Arrow."""

    features: object
    measures: object
    word_counts: object


def style_rows(frame: pl.DataFrame | pa.Table | pa.RecordBatch) -> StyleRows:
    """The rows `insert_style_rows` stores for a frame of (pair_id, response_1, response_2[, num_words_k])
    (`measures.measure_frame` reads an Arrow one's texts in place).
    polars: the measures are vectorised string expressions over a whole chunk's texts (computed
    apart from the inserts, so a loader can do it on another thread); DuckDB reads the Arrow
    tables without a copy."""
    wide = measures.measure_frame(frame)
    return StyleRows(row_groups(style.features_from_measures(wide)), row_groups(measures.count_rows(wide)),
                     measures.word_counts(wide))


ROW_GROUP = 122_880  # DuckDB's rows per row group


def row_groups(rows: pl.DataFrame | pa.Table) -> pa.Table:
    """The rows as Arrow in batches of a row group: DuckDB inserts the batches on its threads
    (one batch is one thread's work), and in their order."""
    table = rows.to_arrow() if isinstance(rows, pl.DataFrame) else rows
    return pa.Table.from_batches(table.to_batches(max_chunksize=ROW_GROUP), schema=table.schema)


def insert_style_rows(con, rows: StyleRows, *, fill_word_counts: bool = True) -> None:
    """Store `style_rows`; `fill_word_counts=False` when the pairs were stored with their counts."""
    style_rows_ = rows.features  # noqa: F841 - read by DuckDB
    con.execute("INSERT INTO features (pair_id, property, value) SELECT pair_id, property, value FROM style_rows_")
    measures.insert(con, rows.measures, rows.word_counts if fill_word_counts else None)


def refresh_custom_groups(con, types_before: list[tuple[str, str]] | None = None) -> None:
    """Custom groups are conditions on the pairs: re-evaluated after every load (`pipeline.groups`).
    A group whose condition no longer works after the load (an attribute changed type) would keep its
    old members in silence: the load is refused instead, naming the group and the value."""
    try:
        results = groups.refresh(con)
    except groups.GroupError as exc:
        raise SourceError(str(exc)) from None
    broken = [r for r in results if r.error is not None]
    if not broken:
        return
    r = broken[0]
    changed = groups.type_changes(con, types_before) if types_before is not None else []
    why = "; ".join(f"attribute {key!r} was {old} and this load adds the value {value!r}"
                    for key, old, value in changed[:3]) or r.error
    raise SourceError(f"custom group {r.name!r} would stop working: {why}; fix the data, or change the group "
                      f"with `group add {r.name} --where ... --replace`, or remove it")


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



__all__ = ["ALL_GROUP", "BackgroundWriter", "MAX_PAIR_ID", "PairIds", "battle_key", "claim_source", "CHUNK", "LoadReport", "add_style_features", "check_names", "count_labels",
           "ROW_GROUP", "StyleRows", "insert_style_rows", "row_groups", "style_rows",
           "cyclic_gc_paused", "pair_key", "quick_gil_handoff", "GIL_SWITCH", "refresh_custom_groups", "stored_by_key"]
