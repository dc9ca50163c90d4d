"""`raw_load`'s sorting of rows into battles, labels and skips done in SQL (issue 18): one DuckDB
pass parses the file, keys every battle and judges every vote, instead of a Python object per row.

It applies to files (one, or a folder of them) of a one-judge layout that has a scan
(`formats/staging.py`): Arena JSON lines, plain, gzip or zstd (`formats/arena_scan.py`), the Kaggle
arena-55k CSV, plain, gzip or zstd (`formats/arena55k_scan.py`), the parquet releases of Chatbot
Arena and LMArena (`formats/parquet_scan.py`), HH-RLHF JSON lines, plain, gzip or zstd
(`formats/hh_rlhf_scan.py`), generic pairs in CSV, parquet, JSON lines or a JSON list
(`formats/generic_scan.py`), AlpacaEval annotations, a judge per row
(`formats/alpaca_eval_scan.py`), and UltraFeedback's binarized parquet, JSON lines and JSON lists,
and openbmb's completions in JSON (`formats/ultrafeedback_scan.py`). A scan stages a file's rows
with the same columns, and takes only rows it can prove plain. A bzip2 or xz archive (DuckDB reads
neither) is decompressed into the scratch folder first, and the scan reads that copy. Anything
else (a row Python must check, more rows than pair ids left) is not for it: `stage` or `prepare`
returns None before anything is written, and `raw_load` reads the files row by row as before. The outcome
is the same either way, row for row: `tests/ingest/test_raw_bulk.py` loads generated files both
ways and compares every table and the report.

The work happens in a private DuckDB (`scan`) in a temporary folder, so the writer's connection is
free for the inserts. Its file is a scratch pad (`_scratch`): the staged rows are written to it
uncompressed, in a transaction that is never committed; `bulk_sort.sort` sorts them (a file of
new pairs only, the short way). `stage` starts it before the database is open (it reads only
the files); `prepare` sorts once the loader holds the database; `chunks()` hands out the new
pairs with their texts a chunk at a time, for the loader to measure on this thread while its
writer thread stores the last.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import duckdb
import polars as pl
import pyarrow as pa

from ..store.errors import TEMP_PREFIX, no_room
from . import bulk_sort, compressed, formats
from .bulk_sort import ALL_NEW_PAIRS, NEW_PAIRS, TEXT_KEY, TIES
from .formats import (
    alpaca_eval,
    alpaca_eval_scan,
    arena,
    arena55k,
    arena55k_scan,
    arena_scan,
    generic,
    generic_scan,
    hh_rlhf,
    hh_rlhf_scan,
    lmarena,
    parquet_scan,
    ultrafeedback,
    ultrafeedback_scan,
)
from .formats.base import (
    CONFLICT,
    EXAMPLES_KEPT,
    OTHER_RATER,
    TIE,
    NoFormat,
)
from .formats.staging import Staging, identifier
from .sources import SourceError
from .writing import MAX_PAIR_ID, ROW_GROUP, LoadReport

CHUNK = ROW_GROUP         # new pairs per chunk: a whole row group (no merging); two chunks of
                          # twice that made DuckDB insert the pairs on two threads, but passed 2 GB
MEMORY_LIMIT = "1GB"      # the scan's buffers while it stages and sorts (at 512MB a million LMArena battles: 2 s more)
STREAM_MEMORY = "256MB"   # the scan's buffers while the new pairs are stored (at 128MB its join spilled: 2x slower)
# The scan's threads while the new pairs are stored: the loader measures a chunk and its writer
# stores the last one, a core each, and a second thread of the scan took their time from them
# (a million Arena battles in JSON lines: 13.6 s against 15.0 s, HH-RLHF 11.9 against 12.3, LMArena
# parquet 16.4 against 17.0; three or four runs each, alternating, 1.2 to 2 CPU-seconds less)
STREAM_THREADS = 1
WRITER_MEMORY = "768MB"   # the writer's buffers while a staged file is stored

# The layouts with a scan: format name -> (its reader module, its scans, the first that applies
# to a file reads it; `formats/staging.py` says what a scan is)
SCANS: dict[str, tuple[ModuleType, tuple]] = {
    arena.NAME: (arena, (arena_scan, parquet_scan.for_layout(arena, rater="judge"))),
    arena55k.NAME: (arena55k, (arena55k_scan,)),
    lmarena.NAME: (lmarena, (parquet_scan.for_layout(lmarena, rater="judge_hash", tags=lmarena.TAGS),)),
    hh_rlhf.NAME: (hh_rlhf, (hh_rlhf_scan,)),
    generic.NAME: (generic, (generic_scan.CSV, generic_scan.PARQUET, generic_scan.JSONL, generic_scan.JSON)),
    alpaca_eval.NAME: (alpaca_eval, (alpaca_eval_scan,)),
    ultrafeedback.NAME: (ultrafeedback, (ultrafeedback_scan.PARQUET, ultrafeedback_scan.JSONL, ultrafeedback_scan.JSON)),
}


@dataclass
class Bulk:
    """A staged file: its counts are in the report and the reading's skips; `chunks` gives its new
    pairs, `labels` its new votes, `ties` its tie votes. `close` drops the scan (`close_behind` on a thread)."""

    scan: duckdb.DuckDBPyConnection
    spill: str
    attributes: tuple[str, ...]  # the staged columns stored as pair_attributes, in this order
    all_new_from: int | None = None  # the pair id offset when every labelled row is a new pair (`bulk_sort.sort`)
    _closing: threading.Thread | None = field(default=None, repr=False)

    def chunks(self) -> Iterator[pa.RecordBatch]:
        """The new pairs (NEW_PAIRS' columns, then the attributes), CHUNK at a time, as Arrow:
        stored as they come."""
        attributes = "".join(f", s.{identifier(name)}" for name in self.attributes)
        if self.all_new_from is None:
            result = self.scan.execute(NEW_PAIRS.format(attributes=attributes))
        else:
            result = self.scan.execute(ALL_NEW_PAIRS.format(attributes=attributes), {"offset": self.all_new_from})
        reader = result.to_arrow_reader(CHUNK)
        for batch in reader:
            if batch.num_rows:
                yield batch

    def labels(self) -> pa.RecordBatchReader:
        """The new votes, streamed (CHUNK at a time): a whole table of them grows with the file."""
        return self.scan.execute(
            "SELECT pair_id::BIGINT AS pair_id, judge, preferred::TINYINT AS preferred, prob_1::DOUBLE AS prob_1, "
            "rater FROM votes WHERE fate = 'new' ORDER BY position").to_arrow_reader(CHUNK)

    def ties(self, source: str):
        """The tie votes (TIES' columns), or None when the file has none: TIES would hash every
        battle to find none (half a second at a million)."""
        if not self.scan.execute(f"SELECT count(*) FROM rows WHERE skip = '{TIE}'").fetchone()[0]:
            return None
        return self.scan.execute(TIES, {"source": source}).to_arrow_table()

    def judges(self) -> set[str]:
        """The judges of the new labels and of the ties: those the load names."""
        return {j for (j,) in self.scan.execute(
            f"SELECT DISTINCT judge FROM votes WHERE fate = 'new' UNION SELECT judge FROM rows WHERE skip = '{TIE}'"
        ).fetchall()}

    def close_behind(self) -> None:
        """Start dropping the scan on a thread (its rollback and the removal of its scratch file:
        0.08 s a million battles), for the load's commit to go on meanwhile; `close` waits for it."""
        if self._closing is None:
            self._closing = threading.Thread(target=self._drop, name="load-scan-close")
            self._closing.start()

    def close(self) -> None:
        self.close_behind()
        self._closing.join()

    def _drop(self) -> None:
        # on its own thread: an error here would be printed as a traceback, and the scan is
        # scratch (its transaction never commits), so a failed close changes nothing the user has
        with suppress(duckdb.Error):
            self.scan.close()
        shutil.rmtree(self.spill, ignore_errors=True)


class Stager:
    """A reading's files being staged on threads (`stage`), before the database is open: DuckDB
    parses them while the loader opens its database (half a second for a new one), and the
    rows are counted beside it. `prepare` takes it from there; `close` drops it unused."""

    def __init__(self, reading: formats.Reading, bulk: Bulk, parts: list[_Part], module: ModuleType, judge: str):
        self.reading, self.bulk, self.parts, self.module, self.judge = reading, bulk, parts, module, judge
        self.taken = False  # by `prepare`, which closes the scan itself when it is not used
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="load-scan")
        queries = [(p.read, _staging_query(p, bulk.attributes)) for p in parts]
        self.staged = self._pool.submit(_stage, bulk.scan, queries)
        self.lines = self._pool.submit(lambda: [p.scanner.row_count(p.read, p.header) for p in parts])

    def wait(self) -> tuple[list[int] | None, list[int | None]]:
        """(the staged rows of each file or None, the rows the scans counted in each)."""
        try:
            return self.staged.result(), self.lines.result()
        finally:
            self._pool.shutdown()

    def close(self) -> None:
        """Stop the staging and drop the scan: DuckDB is interrupted (the scan is closed once its
        statement has ended); the count, which only reads the files, is left to end on its own.
        Once `prepare` has taken it: wait until its scan is dropped (`Bulk.close_behind`)."""
        if self.taken:
            self.bulk.close()
            return
        self.taken = True
        self.bulk.scan.interrupt()
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            self.staged.result()
        except Exception:  # noqa: BLE001 - the load is failing already: its own error is the one to tell
            pass
        self.bulk.close()


def stage(reading: formats.Reading, notes: list[str]) -> Stager | None:
    """Start staging the reading's files, or None (nothing done) when they are not for this path.
    Reads only the files: the database may not be open yet. `notes`: the load report's, told when
    the scan finds no room for its file."""
    if reading.format not in SCANS or not reading.files:
        return None
    _sweep_abandoned()
    spill = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
    try:
        found = _scannable_files(reading, Path(spill))
        if found is None:
            shutil.rmtree(spill, ignore_errors=True)
            return None
        parts, module = found
        judge = formats.judge_name(reading.opts.judge or formats.default_judge(module), parts[0].path.name)
        bulk = Bulk(_scratch(spill), spill, _attributes(parts))
    except BaseException as exc:
        shutil.rmtree(spill, ignore_errors=True)
        # a judge name refused: the row-by-row path says so, naming the row
        if isinstance(exc, SourceError) or _no_scratch_room(exc, notes):
            return None
        raise
    try:
        return Stager(reading, bulk, parts, module, judge)
    except BaseException:
        bulk.close()
        raise


SCRATCH_PREFIX = f"{TEMP_PREFIX}load-"  # then the loading process's id, then mkdtemp's letters


def _sweep_abandoned() -> None:
    """Remove the scratch folders of loads whose process is gone (killed: a million battles leave
    about a gigabyte); a folder whose process id is alive again, or that is not ours, is left."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # alive, another user's
            pass


def _scratch(folder: str) -> duckdb.DuckDBPyConnection:
    """The scan: a DuckDB file in `folder`, written uncompressed in one transaction that is never
    committed (closing it rolls back).

    An in-memory scan spilled what did not fit its limit to temporary files, compressing every
    block it evicted (zstd), and the sort and the stream out evicted the staged texts again and
    again: about 4 CPU-seconds of a million HH-RLHF battles. Blocks of a file are only written
    once, and evicting them drops them; uncompressed, they cost no compression either (the texts
    are read once more). Uncommitted, nothing is fsynced (a committed stage waited a second for
    it). A million HH-RLHF battles load about 1.5 s sooner (of 20)."""
    scan = duckdb.connect(str(Path(folder) / "scan.duckdb"),
                          config={"memory_limit": MEMORY_LIMIT, "temp_directory": folder})
    scan.execute("SET force_compression = 'uncompressed'")
    # Uncommitted tables have no statistics (DuckDB guesses ~0 rows for each), so the joins are
    # planned as written: the big side first (probed), the small one second (its hash table built)
    scan.execute("SET disabled_optimizers = 'join_order,build_side_probe_side'")
    scan.execute("BEGIN TRANSACTION")
    return scan


def prepare(staging: Stager | None, con, offset: int, report: LoadReport) -> Bulk | None:
    """The staged files sorted (`stage`), or None (the scan dropped, nothing written) when they
    are not for this path after all. Fills `report` and `reading.skips` / `reading.rows` as the
    row-by-row path would; `staging` is spent either way."""
    if staging is None:
        return None
    staging.taken = True
    bulk, parts, reading = staging.bulk, staging.parts, staging.reading
    try:
        rows, lines = staging.wait()
        for part in parts:  # the staged rows are in the scan now: a decompressed copy is spent
            if part.read != part.path:
                part.read.unlink(missing_ok=True)
        names = _judges(bulk.scan, parts[0].path.name) if rows else None
        if names is None or rows != lines or not all(lines) or offset + sum(lines) - 1 > MAX_PAIR_ID:
            bulk.close()
            return None
        # the scan keeps its limit while it sorts: DuckDB spills the staged texts on its threads as
        # the sort needs room (a lower limit set here evicted them first, on this one: a second
        # of a million-row load)
        if bulk_sort.sort(bulk.scan, con, reading.opts.multi_turn, offset, staging.judge, [staging.judge, *names]):
            bulk.all_new_from = offset
        _count(bulk.scan, reading, report, staging.judge, staging.module)
        # from here it only streams the new pairs out
        bulk.scan.execute(f"SET memory_limit = '{STREAM_MEMORY}'")
        bulk.scan.execute(f"SET threads = {STREAM_THREADS}")
    except BaseException as exc:
        bulk.close()
        if _no_scratch_room(exc, report.notes):
            return None  # nothing was written yet
        raise
    return bulk


def _no_scratch_room(exc: BaseException, notes: list[str]) -> bool:
    """Whether `exc` is the scan's folder refusing to grow its file; if so, `notes` says so (the
    files are read row by row instead, which needs no room there: slower, with the same result)."""
    found = no_room(exc)
    if found is None:
        return False
    notes.append(f"read row by row, more slowly: the load's scratch file found no room in the temporary folder "
                 f"{tempfile.gettempdir()} (TMPDIR): {found[0]}; it takes about the rows' uncompressed size "
                 "(1 GB a million HH-RLHF battles)")
    return True


@dataclass(frozen=True)
class _Part:
    path: Path
    read: Path            # the file DuckDB reads: `path`, or its plain copy (`_readable`)
    header: list[str]     # its columns as Python reads them
    scanner: object       # the scan that reads it (`formats/staging.py`)
    staging: Staging


def _scannable_files(reading: formats.Reading, spill: Path) -> tuple[list[_Part], ModuleType] | None:
    """(the reading's files, each with its scan, its format's reader module) when every file is of
    a layout with a scan and one a scan can take; else None. An archive DuckDB cannot read is
    decompressed into `spill` first (`_readable`)."""
    module, scanners = SCANS[reading.format]
    parts = []
    for i, path in enumerate(reading.files):
        unread = compressed.duckdb_unread(path)  # its scan is found on its plain copy, below
        scanner = None if unread else next((s for s in scanners if s.applies(path)), None)
        if not (unread or scanner):
            return None
        try:
            table = formats.open_table(path)
            if table.sample is None:  # Python skips a file without rows: so does not this path
                return None
            formats.detect_table(table, reading.opts, forced=module.NAME)
        except (NoFormat, SourceError, ValueError):  # a RowError is a ValueError: Python's reader says so
            return None
        read = path
        if unread:
            read = _readable(path, spill / f"{i}{compressed.data_suffix(path)}")
            scanner = next((s for s in scanners if read is not None and s.applies(read)), None)
            if scanner is None:
                return None
        header = list(table.sample)
        staging = scanner.staging(read, header, reading.opts)
        if staging is None:
            return None
        parts.append(_Part(path, read, header, scanner, staging))
    return parts, module


def _readable(path: Path, copy: Path) -> Path | None:
    """A bzip2 or xz archive (DuckDB reads neither) decompressed to `copy`, for DuckDB to read: a
    million HH-RLHF battles as xz take 8.5 s to decompress, and then load as the plain file does
    (row by row, four times as long). None when the archive is broken (the row-by-row path says
    where); an OSError when the folder has no room (`stage` says so)."""
    try:
        return compressed.plain_copy(path, copy)
    except compressed.ArchiveBroken:
        return None
    except OSError as exc:
        if no_room(exc):
            raise
        return None


def _attributes(parts: list[_Part]) -> tuple[str, ...]:
    """Every file's attributes, in order of first appearance (parquet shards may lack a tag that
    is null throughout them)."""
    return tuple(dict.fromkeys(name for p in parts for name in p.staging.attributes))


def _staging_query(part: _Part, attributes: tuple[str, ...]) -> str:
    """The file's staging SELECT with its text key (`tk`) and every attribute of the load: NULL
    (not stored) where it has none."""
    query = part.staging.query if part.staging.keyed else f"SELECT *, {TEXT_KEY} AS tk FROM ({part.staging.query})"
    if not part.staging.judged:
        query = f"SELECT *, NULL::VARCHAR AS judge FROM ({query})"
    missing = [name for name in attributes if name not in part.staging.attributes]
    if not missing:
        return query
    return "SELECT *, " + ", ".join(f"NULL::VARCHAR AS {identifier(n)}" for n in missing) + f" FROM ({query})"


def _stage(scan, parts: list[tuple[Path, str]]) -> list[int] | None:
    """The files' rows as the scan reads them, in file order, one table: how many of each file, or
    None when DuckDB refuses a file or a row is not plain. The view `staged` gives each row its
    `position` in the source, as the row-by-row path numbers them across files: its place in the
    table (rows of a transaction not committed are numbered from a high rowid on, in order)."""
    counts: list[int] = []
    for i, (path, query) in enumerate(parts):
        into = "CREATE TABLE stage AS" if i == 0 else "INSERT INTO stage BY NAME"  # scans may order columns apart
        try:
            scan.execute(f"{into} {query}", [str(path)])
        except duckdb.Error as exc:
            if no_room(exc):
                raise  # `prepare` says so; the row-by-row path needs no room there
            return None
        counts.append(scan.execute("SELECT count(*) FROM stage").fetchone()[0] - sum(counts))
    plain, first, in_order = scan.execute(
        "SELECT coalesce(bool_and(plain), TRUE), coalesce(min(rowid), 0), "
        "coalesce(max(rowid) - min(rowid) + 1 = count(*), TRUE) FROM stage").fetchone()
    if not (plain and in_order):
        return None
    scan.execute(f"CREATE VIEW staged AS SELECT *, rowid - {int(first)} AS position FROM stage")
    return counts


def _judges(scan, where: str) -> list[str] | None:
    """The judges the staged rows name (`Staging.judged`), normalised as `formats.judge_name`
    normalises them, into the scan's table `judges` (written, name); None when one is refused
    (the row-by-row path says so, naming the row)."""
    written = [w for (w,) in scan.execute("SELECT DISTINCT judge FROM stage WHERE judge <> ''").fetchall()]
    try:
        names = [formats.judge_name(w, where) for w in written]
    except SourceError:
        return None
    scan.register("judges_in", pl.DataFrame({"written": written, "name": names}, schema={"written": pl.String,
                                                                                          "name": pl.String}))
    scan.execute("CREATE TABLE judges AS SELECT * FROM judges_in")
    scan.unregister("judges_in")
    return sorted(set(names))


def _count(scan, reading: formats.Reading, report: LoadReport, judge: str, module: ModuleType) -> None:
    skips = reading.skips
    reading.rows = scan.execute("SELECT count(*) FROM rows").fetchone()[0]
    for reason, n, first in scan.execute(
            "SELECT skip, count(*), list(position ORDER BY position)[1:?] FROM rows WHERE skip IS NOT NULL "
            "GROUP BY skip ORDER BY min(position)", [EXAMPLES_KEPT]).fetchall():  # counted as met: equal counts keep it
        skips.rows[reason] += n
        skips.examples.setdefault(reason, []).extend(first)
    new, existing, doubled = scan.execute(
        "SELECT count(*) FILTER (new), count(*) FILTER (stored_id IS NOT NULL), "
        "count(*) FILTER (stored_id IS NULL AND NOT new) FROM keyed").fetchone()
    report.new_pairs += new
    report.existing_pairs += existing
    report.duplicates_in_source += doubled
    reasons = {"other rater": OTHER_RATER, "conflict": CONFLICT}
    for fate, n in scan.execute("SELECT fate, count(*) FROM votes GROUP BY fate ORDER BY min(position)").fetchall():
        if fate in reasons:
            skips.votes[reasons[fate]] += n
        elif fate == "duplicate":
            skips.duplicates += n
    reading.judge_kinds.setdefault(judge, formats.judge_kind(module))


__all__ = ["CHUNK", "SCANS", "Bulk", "Stager", "prepare", "stage"]
