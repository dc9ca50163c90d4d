"""Loading released-format records (the paper's release, the demo, freshly annotated pairs)
into the database, in one transaction.

Every record is checked (`records.parse_record`), and each chunk of records is turned into
rows of the tidy tables with their features (`release_rows`), stored by a background thread
while the next chunk is checked. A record that breaks the format stops the load and nothing
of it stays. A pair already in the database (same query and responses) is not stored again;
only labels it did not have are added, and a stored raw pair (one loaded without
annotations, `annotated = FALSE`) gets the record's annotations in place. Every new pair
joins the group 'All' and gets its style features.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from itertools import chain
from pathlib import Path

import pyarrow as pa

from .. import groups
from ..properties.annotations import Pair
from ..store import db as dbmod
from ..store import upsert
from .records import MAX_COUNT, RecordError, parse_record
from .release_rows import SOURCE_ROW, ChunkRows, insert_tables, style_texts
from .sources import SourceError
from . import release_labels, writing
from .writing import (BackgroundWriter, LoadReport, PairIds, add_style_features, claim_source, count_labels,
                      cyclic_gc_paused, pair_key, quick_gil_handoff, refresh_custom_groups,
                      stored_by_key)

_JUDGE_ROWS = pa.schema([("judge", pa.string()), ("source", pa.string()), ("kind", pa.string())])


def _store_chunk(con, tables: list, texts: pa.Table | None, labels_may_clash: bool) -> None:
    """The writer thread's part: DuckDB inserts and polars' style counts, both without the GIL."""
    insert_tables(con, tables, labels_may_clash)
    if texts is not None:
        add_style_features(con, texts)


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


def load_records(records: Iterable[dict], *, source: str, kind: str = "release", location: str | None = None,
                 fingerprint: str | Callable[[], str] | None = None, generated: bool = False, db=None,
                 judge_kinds: dict[str, str] | None = None) -> LoadReport:
    """Load released-format records from one source; all or nothing. `fingerprint`: the source's
    hash, or a callable giving it (`loader` takes it on a thread while the first records are read)."""
    started = time.perf_counter()
    report = LoadReport(source=source)
    path = dbmod.resolve_db_path(db)
    existed = path.exists() or isinstance(dbmod.locate(db), dbmod.LakeDb)  # a lake's failed write commits nothing
    try:
        with cyclic_gc_paused(), quick_gil_handoff():
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
        records = iter(records)
        first = [r for _, r in zip(range(writing.CHUNK), records)]  # read while a callable's hash is taken
        if callable(fingerprint):
            fingerprint = fingerprint()
        if fingerprint and con.execute("SELECT 1 FROM sources WHERE fingerprint = ?", [fingerprint]).fetchone():
            report.already_loaded = True
            return
        claim_source(con, source, kind, generated)
        types_before = groups.attribute_types(con)
        labels_before = count_labels(con)
        # key -> pair id of this load's pairs and of the stored ones its records met (`_look_up`, a
        # chunk at a time: all the stored keys took a gigabyte at millions of pairs); `raw`: those
        # met that were loaded without annotations and are not annotated yet
        known: dict[str, int] = {}
        raw: set[int] = set()
        offset = con.execute("SELECT coalesce(max(pair_id)::BIGINT + 1, 0) FROM pairs").fetchone()[0]
        empty = offset == 0
        next_id = PairIds(con, offset)
        judges: set[str] = set()
        taken: set[int] = set()  # pair ids given in this load
        # Labels of a new pair cannot clash with stored ones, unless labels point past the last pair.
        labels_may_clash = con.execute("SELECT coalesce(max(pair_id), -1) FROM labels").fetchall()[0][0] >= offset
        records = chain(first, records)
        del first  # the chain holds the first records until they are read, and no longer
        position = 0
        n_votes = 0  # every judge's vote in the records: stored, or counted below
        use_ids = None
        # In a new database nothing is looked up between chunks: DuckDB's inserts leave a core to the checks
        writer = BackgroundWriter(con, spare_thread=empty)
        try:
            while True:
                buffer = [r for _, r in zip(range(writing.CHUNK), records)]  # CHUNK read at run time: tests make it small
                if not buffer:
                    break
                if use_ids is None:  # decided once, on the first chunk
                    use_ids = empty and _first_ids_usable(buffer)
                votes = release_labels.from_records(buffer)  # None: read record by record, as parse_labels does
                parsed = [parse_record(rec, position + i, labels=votes is None) for i, rec in enumerate(buffer)]
                chunk = ChunkRows(release_labels.from_pairs(parsed) if votes is None else votes)
                keys = [pair_key(pair.query, pair.r1.content, pair.r2.content) for pair in parsed]
                if not empty:
                    _look_up(con, writer, {k for k in keys if k not in known}, known, raw)
                for rec, pair, key in zip(buffer, parsed, keys):
                    position += 1
                    if key in known:
                        pid = known[key]
                        if pid in taken:
                            report.duplicates_in_source += 1
                        else:
                            report.existing_pairs += 1
                        if pid in raw:  # loaded earlier without annotations: annotate it in place
                            raw.discard(pid)
                            report.annotated_in_place += 1
                            chunk.annotated.append((pid, pair, False))
                        chunk.add_labels(pid, fresh=False)
                    else:
                        pid = _own_id(rec, pair, taken) if use_ids else next_id(pair.position)
                        known[key] = pid
                        taken.add(pid)
                        report.new_pairs += 1
                        chunk.new.append((pid, key, pair))
                        chunk.annotated.append((pid, pair, True))
                        chunk.add_labels(pid, fresh=True)
                judges |= chunk.votes.names
                n_votes += len(chunk.votes.judges)
                # rows built here, so the writer thread holds the GIL as little as possible
                tables = chunk.arrow_tables(source)
                writer.submit(_store_chunk, tables, style_texts(tables), labels_may_clash)
                report.usable_pairs += chunk.n_usable
            writer.wait()
        finally:
            writer.close()
        report.records = position
        if position == 0:
            raise SourceError(f"{source}: no records")
        report.new_labels = count_labels(con) - labels_before
        report.left_out = n_votes - report.new_labels
        if report.left_out:  # a judge has one label per pair: a stored (or earlier) vote is kept
            report.skipped.append(f"{report.left_out} votes left out: the judge already had a vote on the pair "
                                  "(stored, or earlier in the source); the first is kept")
        con.execute(SOURCE_ROW, [source, kind, location, fingerprint, generated, report.new_pairs])
        kinds = judge_kinds or {}
        report.judges = sorted(judges)
        judge_rows = pa.table({"judge": report.judges, "source": [source] * len(judges), "kind": [  # noqa: F841
            kinds.get(j, "human" if j.startswith("human") else "llm") for j in report.judges]}, schema=_JUDGE_ROWS)
        # one statement: each INSERT costs milliseconds in a transaction holding millions of rows
        con.execute(upsert.insert_new("judges", "judge_rows", ("judge", "kind", "source"), ("judge",)))
        refresh_custom_groups(con, types_before)



def _look_up(con, writer: BackgroundWriter, keys: set[str], known: dict[str, int], raw: set[int]) -> None:
    """The stored pairs of these keys into `known`, those without annotations into `raw`."""
    if not keys:
        return
    writer.wait()  # the connection is the writer thread's until it has stored its chunk
    for key, pid, annotated in stored_by_key(con, keys, "pair_id, annotated"):
        known[key] = pid
        if not annotated:
            raw.add(pid)


__all__ = ["load_records"]
