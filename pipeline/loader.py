"""Loading released-format records into the database, in one transaction.

The same path serves the release, the generated demo and freshly annotated pairs: every
record is checked (`records.parse_record`), and each chunk of records turned into rows of
the tidy tables with their features (`release_rows`), stored by a background thread while
the next chunk is checked. A record that breaks the format stops the load and nothing of
it stays. A pair already in the database (same query and responses)
is not stored again; only labels it did not have are added, and a stored raw pair (one
loaded without annotations, `annotated = FALSE`) gets the record's annotations in place.
Every new pair joins the group 'All' and gets its style features (`pipeline.style`).
Raw labelled pairs in other formats (`pipeline.formats`) are stored by `pipeline.raw_pairs`.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from . import db as dbmod
from . import sources
from .features import usable
from .records import MAX_COUNT, Pair, RecordError, parse_record
from .release_rows import ALL_GROUP, ChunkRows, insert_tables, pair_group_rows

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


_JUDGE_ROWS = pa.schema([("judge", pa.string()), ("source", pa.string()), ("kind", pa.string())])


class _Writer:
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


def _store_chunk(con, tables: list, style_texts, labels_may_clash: bool) -> None:
    """The writer thread's part: DuckDB inserts and polars' style counts, both without the GIL."""
    insert_tables(con, tables, labels_may_clash)
    add_style_features(con, style_texts)


def _first_ids_usable(records: list[dict]) -> bool:
    """In an empty database, records' own integer ids become pair ids if they are clean."""
    ids = [r.get("id") for r in records if isinstance(r, dict)]
    return (len(ids) == len(records)
            and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= MAX_COUNT for i in ids)
            and len(set(ids)) == len(ids))


def _own_id(rec: dict, pair: Pair, taken: set[int]) -> int:
    rid = rec.get("id")
    if not isinstance(rid, int) or isinstance(rid, bool) or not 0 <= rid <= MAX_COUNT or rid in taken:
        raise RecordError(f"record {pair.position}", "id",
                          f"the first records carry unique integer ids, so every record must; got {rid!r}")
    return rid


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


def load_records(records: Iterable[dict], *, source: str, kind: str = "release", location: str | None = None,
                 fingerprint: str | None = None, generated: bool = False, db=None,
                 judge_kinds: dict[str, str] | None = None) -> LoadReport:
    """Load released-format records from one source; all or nothing."""
    started = time.perf_counter()
    report = LoadReport(source=source)
    path = dbmod.resolve_db_path(db)
    existed = path.exists()
    try:
        with cyclic_gc_paused():
            _load(con_db=db, records=records, source=source, kind=kind, location=location,
                  fingerprint=fingerprint, generated=generated, judge_kinds=judge_kinds, report=report)
    except BaseException:
        if not existed:  # a failed first load leaves no file behind, as before
            for p in (path, Path(str(path) + ".wal")):
                p.unlink(missing_ok=True)
        raise
    report.seconds = time.perf_counter() - started
    return report


def _load(*, con_db, records, source, kind, location, fingerprint, generated, judge_kinds, report) -> None:
    with dbmod.writing(con_db) as con:
        if fingerprint and con.execute("SELECT 1 FROM sources WHERE fingerprint = ?", [fingerprint]).fetchone():
            report.already_loaded = True
            return
        labels_before = _count_labels(con)
        known = dict(con.execute("SELECT pair_key, pair_id FROM pairs").fetchall())
        raw = {r[0] for r in con.execute("SELECT pair_id FROM pairs WHERE NOT annotated").fetchall()}
        empty = not known
        offset = con.execute("SELECT coalesce(max(pair_id) + 1, 0) FROM pairs").fetchone()[0]
        judges: set[str] = set()
        taken: set[int] = set()  # pair ids given in this load
        # Labels of a new pair cannot clash with stored ones, unless labels point past the last pair.
        labels_may_clash = con.execute("SELECT coalesce(max(pair_id), -1) FROM labels").fetchall()[0][0] >= offset
        records = iter(records)
        position = 0
        use_ids = None
        writer = _Writer(con)
        try:
            while True:
                buffer = [r for _, r in zip(range(CHUNK), records)]
                if not buffer:
                    break
                if use_ids is None:  # decided once, on the first chunk
                    use_ids = empty and _first_ids_usable(buffer)
                chunk = ChunkRows()
                for rec in buffer:
                    pair = parse_record(rec, position)
                    position += 1
                    key = pair_key(pair.query, pair.r1.content, pair.r2.content)
                    if key in known:
                        pid = known[key]
                        if pid >= offset:
                            report.duplicates_in_source += 1
                        else:
                            report.existing_pairs += 1
                        if pid in raw:  # loaded earlier without annotations: annotate it in place
                            raw.discard(pid)
                            report.annotated_in_place += 1
                            chunk.annotated.append((pid, pair, False))
                        chunk.add_labels(pid, pair, fresh=False)
                    else:
                        pid = _own_id(rec, pair, taken) if use_ids else offset + pair.position
                        known[key] = pid
                        taken.add(pid)
                        report.new_pairs += 1
                        chunk.new.append((pid, key, pair))
                        chunk.annotated.append((pid, pair, True))
                        chunk.add_labels(pid, pair, fresh=True)
                    judges.update(pair.labels)
                report.usable_pairs += sum(usable(p) for _, p, _ in chunk.annotated)
                # rows built here, so the writer thread holds the GIL as little as possible
                writer.submit(_store_chunk, chunk.arrow_tables(source), chunk.style_texts(), labels_may_clash)
            writer.wait()
        finally:
            writer.close()
        report.records = position
        if position == 0:
            raise sources.SourceError(f"{source}: no records")
        report.new_labels = _count_labels(con) - labels_before
        con.execute(
            "INSERT INTO sources (source, kind, location, fingerprint, generated, n_pairs) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET n_pairs = sources.n_pairs + excluded.n_pairs, "
            "fingerprint = excluded.fingerprint, loaded_at = now()",
            [source, kind, location, fingerprint, generated, report.new_pairs])
        kinds = judge_kinds or {}
        report.judges = sorted(judges)
        judge_rows = pa.table({"judge": report.judges, "source": [source] * len(judges), "kind": [  # noqa: F841
            kinds.get(j, "human" if j.startswith("human") else "llm") for j in report.judges]}, schema=_JUDGE_ROWS)
        # one statement: each INSERT costs milliseconds in a transaction holding millions of rows
        con.execute("INSERT INTO judges (judge, kind, source) SELECT judge, kind, source FROM judge_rows "
                    "ON CONFLICT DO NOTHING")
        refresh_custom_groups(con)


def add_style_features(con, texts) -> None:
    """The style features (`pipeline.style`) of newly stored pairs: a polars frame, or rows, of
    (pair_id, response_1, response_2)."""
    if len(texts) == 0:
        return
    import polars as pl

    from . import style

    # polars: the style properties are vectorised string expressions over a whole chunk's texts,
    # and DuckDB reads the frame they return through Arrow without a copy.
    frame = texts if isinstance(texts, pl.DataFrame) else pl.DataFrame(
        texts, schema={"pair_id": pl.Int64, "response_1": pl.String, "response_2": pl.String}, orient="row")
    style_rows = style.style_features(frame).select("pair_id", "property", "value").to_arrow()  # noqa: F841
    con.execute("INSERT INTO features (pair_id, property, value) SELECT pair_id, property, value FROM style_rows")


def refresh_custom_groups(con) -> None:
    """Custom groups are conditions on the pairs: re-evaluated after every load (`pipeline.groups`)."""
    from . import groups

    groups.refresh(con)


def check_names(names: dict[str, str]) -> None:
    """Names from the command line or a file (a judge, a source) go through `pipeline.names`
    (no control, zero-width or bidi characters, not empty, not over-long) once it exists."""
    if importlib.util.find_spec("pipeline.names") is None:
        return
    from . import names as checker

    for what, value in names.items():
        try:
            checker.check_name(value, what=what)
        except ValueError as exc:
            raise sources.SourceError(str(exc)) from None


def _count_labels(con) -> int:
    return con.execute("SELECT count(*) FROM labels").fetchone()[0]


def load_source(source: str, *, db=None, name: str | None = None, kind: str = "release",
                generated: bool = False, format: str | None = None, options=None) -> LoadReport:
    """Load a local .json/.jsonl/.parquet/.csv file or folder, or hf:OWNER/NAME: released-format
    records, or raw labelled pairs in any format of `pipeline.formats` (detected from the content
    of the first file unless `format` names one; `options` is a `formats.Options`)."""
    from . import formats

    options = options or formats.Options()
    check_names({k: v for k, v in (("judge", options.judge), ("source", name)) if v is not None})
    display, files = formats.resolve(source)
    forced_generic = format is None and (options.columns or options.attribute_columns)
    table = formats.open_table(files[0])
    module = formats.detect_table(table, options, forced="generic" if forced_generic else format)
    if module.NAME == "release":
        if options != formats.Options():
            raise sources.SourceError(f"{source}: --judge, --multi-turn and column options are for raw pairs; "
                                      "released-format records name their judges")
        return load_records(sources.iter_records(files), source=name or display, kind=kind, location=source,
                            fingerprint=sources.fingerprint(files), generated=generated, db=db)
    from .raw_pairs import load_reading

    reading = formats.Reading(module.NAME, files, options)
    # The options change what is read, so they are part of what makes a reload a repeat.
    fp = hashlib.sha256(f"{sources.fingerprint(files)}|{module.NAME}|{options.key()}".encode()).hexdigest()
    return load_reading(reading, source=name or display, location=source, fingerprint=fp, db=db)


__all__ = ["ALL_GROUP", "LoadReport", "load_records", "load_source", "pair_key", "pair_group_rows"]
