"""A plain Arena JSON-lines file sorted in SQL (ingest/raw_bulk.py) is stored exactly as the
row-by-row path stores it: every table, the report and its skip lines, on generated files with
repeated texts, models, raters and votes, loaded onto a database that already holds some of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest
from formats.test_arena_scan import (  # tests/ingest/formats (no packages here)
    MULTI,
    ODD_ROWS,
    battle,
)
from fuzzing import SLOW
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.ingest import bulk_sort, formats, raw_bulk, raw_load, writing
from pipeline.ingest.formats import Options
from pipeline.ingest.loader import load_source
from pipeline.ingest.sources import SourceError
from pipeline.store import db as dbmod

# Every table a load writes, with an order that does not depend on insertion order.
TABLES = {
    "pairs": "SELECT * EXCLUDE (created_at) FROM pairs ORDER BY pair_id",
    "labels": "SELECT * FROM labels ORDER BY pair_id, judge",
    "pair_attributes": "SELECT * FROM pair_attributes ORDER BY ALL",
    "pair_groups": "SELECT * FROM pair_groups ORDER BY ALL",
    "ties": "SELECT source, judge, model_1, model_2, pair_id, rater FROM ties ORDER BY ALL",
    "features": "SELECT * FROM features ORDER BY ALL",
    "response_measures": "SELECT * FROM response_measures ORDER BY ALL",
    "judges": "SELECT judge, kind, source, note FROM judges ORDER BY judge",
    "sources": "SELECT source, kind, n_pairs FROM sources ORDER BY source",
}


def _columns(con, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def contents(db: Path) -> dict[str, list]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table, sql in TABLES.items():
            if "created_at" in sql and "created_at" not in _columns(con, table):
                sql = sql.replace(" EXCLUDE (created_at)", "")
            out[table] = con.execute(sql).fetchall()
        return out
    finally:
        con.close()


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def load_both_ways(files: list[Path], folder: Path, monkeypatch, **kw) -> tuple[list, list, Path]:
    """Load the files in turn into two databases, one per path: (bulk reports, row reports, bulk db)."""
    calls = []
    real_prepare = raw_bulk.prepare

    def spy(*args, **kwargs):
        staged = real_prepare(*args, **kwargs)
        calls.append(staged is not None)
        return staged

    monkeypatch.setattr(raw_bulk, "prepare", spy)
    reports = {}
    for bulk in (True, False):
        monkeypatch.setattr(raw_load, "BULK", bulk)
        db = folder / f"{'bulk' if bulk else 'rows'}.duckdb"
        reports[bulk] = [_report(load_source(str(f), db=db, name=f"{f.stem}", **kw)) for f in files]
    same = contents(folder / "bulk.duckdb"), contents(folder / "rows.duckdb")
    for table in TABLES:
        assert same[0][table] == same[1][table], table
    return reports[True], reports[False], calls


def taken_alike(files: list[Path], folder: Path, as_folder: bool, monkeypatch, options: Options) -> None:
    """Generated shards (in folder / "parts") loaded both ways, as one load of their folder or a load
    each: the same outcome, and the SQL path took every file (a repeated file is not read again)."""
    sources = [folder / "parts"] if as_folder else files
    bulk, by_row, calls = load_both_ways(sources, folder, monkeypatch, options=options)
    assert bulk == by_row
    assert calls and all(calls)


def _report(report) -> tuple:
    return (report.records, report.new_pairs, report.existing_pairs, report.duplicates_in_source,
            report.new_labels, tuple(report.judges), tuple(report.skipped), report.left_out)


# Few texts, models and raters, so rows repeat battles, votes and ties, across two files.
def _row(i: int, query: int, r1: str, r2: str, m1, m2, winner, rater, multi: bool) -> dict:
    row = battle(i, winner=winner, judge=rater, model_a=m1, model_b=m2)
    row["conversation_a"] = [{"role": "user", "content": f"q{query}"}, {"role": "assistant", "content": r1}]
    row["conversation_b"] = [{"role": "user", "content": f"q{query}"}, {"role": "assistant", "content": r2}]
    if multi:
        row["conversation_a"] = row["conversation_b"] = MULTI
    return row


rows = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["a", "b", " "]), st.sampled_from(["b", "c"]),
                          st.sampled_from(["m1", "m2", ""]), st.sampled_from(["m2", "m3", ""]),
                          st.sampled_from(["model_a", "model_b", "tie", "tie (bothbad)", "", None]),
                          st.sampled_from(["u1", "u2", ""]), st.sampled_from([False] * 5 + [True])),
                min_size=1, max_size=14)


@pytest.mark.slow
@settings(SLOW, max_examples=25)
@given(first=rows, second=rows, multi_turn=st.booleans(), as_folder=st.booleans())
@example(first=[(0, "a", "b", "m1", "m2", "model_a", "u1", False)],  # found by CI: a first row without a model
         second=[(0, "a", "b", "", "m2", "model_a", "u1", True), (0, "a", "b", "m1", "m2", "model_a", "u1", True)],
         multi_turn=True, as_folder=False)
def test_generated_files_store_the_same_both_ways(first, second, multi_turn, as_folder, tmp_path_factory,
                                                  monkeypatch):
    folder = tmp_path_factory.mktemp("bulk")
    (folder / "parts").mkdir()
    files = [write(folder / "parts" / f"part{k}.jsonl", [_row(i, *r) for i, r in enumerate(part)])
             for k, part in enumerate((first, second))]
    taken_alike(files, folder, as_folder, monkeypatch, Options(multi_turn=multi_turn))


def test_repeats_conflicts_ties_and_skips_both_ways(tmp_path, monkeypatch):
    plain = [battle(0), battle(0), battle(0, winner="model_b"), battle(0, judge="other"),  # repeat, conflict, rater
             battle(0, model_a="m-z"), battle(0, model_a="m-z", winner="tie"),               # a battle of its own
             battle(0, model_a=None, model_b=None), battle(1, winner="tie"), battle(2, winner="tie (bothbad)"),
             battle(3, winner=None), battle(4, conversation_a=MULTI, conversation_b=MULTI),
             battle(5, conversation_b=[{"role": "assistant", "content": " "}]), battle(6)]
    first = write(tmp_path / "first.jsonl", plain)
    second = write(tmp_path / "second.jsonl", [battle(6), battle(6, winner="model_b"), battle(1), battle(7)])
    bulk, by_row, calls = load_both_ways([first, second], tmp_path, monkeypatch)
    assert bulk == by_row and calls[:2] == [True, True]
    records, new, existing, doubled, labels, judges, skipped, _ = bulk[0]
    assert (records, new, existing, doubled, labels, judges) == (13, 3, 0, 4, 3, ("human",))
    assert "1 rows left out: multi-turn (rows 10)" in skipped
    assert bulk[1][2] == 2  # the second file's battle 6 twice: stored pairs

    # the first row of some texts without a model owns them: a later row with models is another battle
    (tmp_path / "owner").mkdir()
    owner = write(tmp_path / "owner.jsonl", [battle(8, model_a=None), battle(8), battle(8, model_a=None)])
    bulk, by_row, _ = load_both_ways([owner], tmp_path / "owner", monkeypatch)
    assert bulk == by_row and bulk[0][1:4] == (2, 0, 1)


def test_chunks_and_row_groups_store_the_same_both_ways(tmp_path, monkeypatch):
    """Many chunks, each inserted in several batches (at a million battles: a row group each)."""
    monkeypatch.setattr(raw_bulk, "CHUNK", 7)
    monkeypatch.setattr(writing, "ROW_GROUP", 3)
    rows = [battle(i % 23, model_a=f"m{i % 3}", winner=("model_a", "model_b", "tie")[i % 3], judge=f"u{i % 4}",
                   language=("en", None, "de")[i % 3]) for i in range(60)]
    bulk, by_row, calls = load_both_ways([write(tmp_path / "many.jsonl", rows)], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]
    assert bulk[0][1] > 2 * raw_bulk.CHUNK  # new pairs over several chunks


def test_a_file_of_new_pairs_is_streamed_the_short_way_and_stores_the_same(tmp_path, monkeypatch):
    """A file whose every labelled row is a new pair (`bulk_sort.ALL_NEW`; ties and rows without a
    vote between them), onto a new database and then onto one with other pairs (ids from an
    offset), is sorted the short way, over several chunks with attributes; a file that repeats a
    stored battle goes the long way. Stored alike both ways."""
    monkeypatch.setattr(raw_bulk, "CHUNK", 7)
    ways = []
    real_sort = bulk_sort.sort
    monkeypatch.setattr(bulk_sort, "sort", lambda *a: ways.append(real_sort(*a)) or ways[-1])
    fresh = [battle(i, model_a=f"m{i % 3}", model_b=("m-b", "")[i % 2], language=("en", None)[i % 2],
                    winner=("model_a", "model_b", "tie", "model_a", "")[i % 5]) for i in range(20)]
    more = [battle(i) for i in range(20, 45)]
    files = [write(tmp_path / "fresh.jsonl", fresh), write(tmp_path / "more.jsonl", more),
             write(tmp_path / "again.jsonl", [*more[:3], battle(99)])]
    bulk, by_row, calls = load_both_ways(files, tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True, True, True]
    assert ways == [True, True, False]
    assert [r[1] for r in bulk] == [12, 25, 1]  # new pairs (a tie or no vote: none)


@pytest.mark.parametrize("name", sorted(ODD_ROWS))
def test_odd_rows_store_the_same_both_ways(name, tmp_path, monkeypatch):
    """Rows the SQL path must leave to Python: the file goes row by row, and stores what it always did."""
    odd = ODD_ROWS[name] if isinstance(ODD_ROWS[name], list) else [ODD_ROWS[name]]
    path = write(tmp_path / "odd.jsonl", [battle(0), *odd, battle(9)])
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch)
    if loaded is not None:
        assert loaded[0] == loaded[1]


def loaded_or_refused_alike(path: Path, folder: Path, monkeypatch, **kw) -> tuple | None:
    """`load_both_ways` of one file; None when the load is refused, after checking that each path
    alone refuses it with the same line (the SQL path must not take what Python refuses)."""
    try:
        return load_both_ways([path], folder, monkeypatch, **kw)
    except (SourceError, ValueError) as exc:  # refused (a RowError is a ValueError)
        for bulk in (True, False):
            monkeypatch.setattr(raw_load, "BULK", bulk)
            with pytest.raises(type(exc), match=".+") as again:
                load_source(str(path), db=folder / f"again_{bulk}.duckdb", **kw)
            assert str(again.value) == str(exc)
        return None


def test_a_folder_of_files_stores_the_same_both_ways(tmp_path, monkeypatch):
    """Shards: one stage, its positions running on across the files, as Python numbers them."""
    folder = tmp_path / "parts"
    folder.mkdir()
    write(folder / "a.jsonl", [battle(0), battle(1), battle(1, winner="tie"), battle(2, winner=None)])
    write(folder / "b.jsonl", [battle(1), battle(1, winner="model_b"), battle(3, conversation_a=MULTI,
                                                                             conversation_b=MULTI), battle(4)])
    write(folder / "c.jsonl", [battle(5, judge="x"), battle(0)])
    bulk, by_row, calls = load_both_ways([folder], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]
    records, new, existing, doubled, *_, skipped, _ = bulk[0]
    assert (records, new, existing, doubled) == (10, 4, 0, 3)
    assert "1 rows left out: multi-turn (rows 6)" in skipped  # the second file's third row

    csvs = tmp_path / "csvs"
    csvs.mkdir()
    write_csv(csvs / "a.csv", [kaggle_row(0, query="q0"), kaggle_row(1, query="q1", winner="tie")])
    write_csv(csvs / "b.csv", [kaggle_row(1, query="q1"), kaggle_row(2, query="q2")], header=HEADER_55K[::-1])
    (tmp_path / "csv_dbs").mkdir()
    bulk, by_row, calls = load_both_ways([csvs], tmp_path / "csv_dbs", monkeypatch)
    assert bulk == by_row and calls == [True] and bulk[0][1] == 3


def test_every_archive_is_sorted_in_sql(tmp_path, monkeypatch):
    import bz2
    import gzip
    import lzma

    import zstandard

    folder = tmp_path / "parts"
    folder.mkdir()
    write(folder / "a.jsonl", [battle(0), battle(1)])
    lines = "".join(json.dumps(r) + "\n" for r in [battle(1), battle(2, winner="tie"), battle(3)]).encode()
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(lines[:40]) + gzip.compress(lines[40:]))  # two members
    bulk, by_row, calls = load_both_ways([folder], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True] and bulk[0][1] == 3

    csvs = tmp_path / "csvs"
    csvs.mkdir()
    plain = write_csv(csvs / "k.csv", [kaggle_row(0, query="q0"), kaggle_row(1, query="q1")])
    (csvs / "k.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    (tmp_path / "csv_dbs").mkdir()
    bulk, by_row, calls = load_both_ways([csvs / "k.csv.gz"], tmp_path / "csv_dbs", monkeypatch)
    assert bulk == by_row and calls == [True] and bulk[0][1] == 2

    zst = tmp_path / "zst"
    zst.mkdir()
    frames = zstandard.ZstdCompressor()
    (zst / "b.jsonl.zst").write_bytes(frames.compress(lines[:40]) + frames.compress(lines[40:]))  # two frames
    (zst / "k.csv.zst").write_bytes(frames.compress(gzip.decompress((csvs / "k.csv.gz").read_bytes())))
    for name, new in (("b.jsonl.zst", 2), ("k.csv.zst", 2)):  # b: a tie and two battles
        (tmp_path / f"{name}_dbs").mkdir()
        bulk, by_row, calls = load_both_ways([zst / name], tmp_path / f"{name}_dbs", monkeypatch)
        assert bulk == by_row and calls == [True] and bulk[0][1] == new, name

    # DuckDB reads neither bzip2 nor xz: decompressed into the scratch folder first, then as plain files
    (folder / "c.jsonl.bz2").write_bytes(bz2.compress(json.dumps(battle(4)).encode() + b"\n")
                                          + bz2.compress(json.dumps(battle(5)).encode() + b"\n"))  # two streams
    (folder / "d.jsonl.xz").write_bytes(lzma.compress(json.dumps(battle(6)).encode() + b"\n"))
    (folder / "e.jsonl").write_bytes(gzip.compress(json.dumps(battle(7)).encode() + b"\n"))  # gzip, not named so
    (csvs / "k.csv.xz").write_bytes(lzma.compress(gzip.decompress((csvs / "k.csv.gz").read_bytes())))
    for source, new in ((folder, 7), (csvs / "k.csv.xz", 2)):
        dbs = tmp_path / f"{source.name}_unread_dbs"
        dbs.mkdir()
        bulk, by_row, calls = load_both_ways([source], dbs, monkeypatch)
        assert bulk == by_row and calls == [True] and bulk[0][1] == new, source


@pytest.mark.parametrize("codec", ["gzip", "zstd", "bzip2", "xz"])
def test_a_cut_archive_is_refused_as_python_refuses_it(codec, tmp_path, monkeypatch):
    import bz2
    import gzip
    import lzma

    import zstandard

    text = "".join(json.dumps(battle(i)) + "\n" for i in range(50)).encode()
    packers = {"gzip": (gzip.compress, "gz"), "zstd": (zstandard.ZstdCompressor().compress, "zst"),
               "bzip2": (bz2.compress, "bz2"), "xz": (lzma.compress, "xz")}
    pack, suffix = packers[codec]
    whole = pack(text)
    path = tmp_path / f"cut.jsonl.{suffix}"
    path.write_bytes(whole[: len(whole) // 2])
    errors = []
    for bulk in (True, False):
        monkeypatch.setattr(raw_load, "BULK", bulk)
        with pytest.raises(SourceError) as refused:
            load_source(str(path), db=tmp_path / f"{bulk}.duckdb")
        errors.append(str(refused.value))
    assert errors[0] == errors[1] and codec in errors[0]


def test_rows_past_a_row_group_keep_their_places_across_files(tmp_path, monkeypatch):
    """The scan stages into its own file, uncommitted (raw_bulk._scratch): a row group's worth of
    rows goes to the file, the rest stays in memory, and the next file's rows follow on. Each row's
    place is its position in the source across files; streamed out under a small memory limit (the
    staged blocks evicted and read back), every pair is its row."""
    monkeypatch.setattr(raw_bulk, "STREAM_MEMORY", "32MB")
    folder = tmp_path / "parts"
    folder.mkdir()
    sizes = (writing.ROW_GROUP + 5000, 7)
    start = 0
    for n, name in zip(sizes, ("a.csv", "b.csv")):
        lines = ["prompt,response_1,response_2,winner"]
        lines += [f"q{i},one answer to {i},another answer to {i},{'ab'[i % 2]}" for i in range(start, start + n)]
        (folder / name).write_text("\n".join(lines) + "\n")
        start += n
    made, taken = [], []
    real_scratch, real_prepare = raw_bulk._scratch, raw_bulk.prepare
    monkeypatch.setattr(raw_bulk, "_scratch", lambda f: made.append(Path(f)) or real_scratch(f))
    monkeypatch.setattr(raw_bulk, "prepare", lambda *a, **k: taken.append(real_prepare(*a, **k)) or taken[-1])
    report = load_source(str(folder), db=tmp_path / "db.duckdb", format="generic")
    assert taken and taken[0] is not None and len(made) == 1 and not made[0].exists()
    assert report.new_pairs == report.new_labels == sum(sizes)
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    try:
        assert con.execute(
            "SELECT count(*), count(*) FILTER (query = 'q' || source_index AND response_1 = 'one answer to ' || "
            "source_index AND pair_id = source_index) FROM pairs").fetchone() == (sum(sizes), sum(sizes))
        assert con.execute("SELECT count(*) FILTER (preferred = 1 + p.source_index % 2) FROM labels JOIN pairs p "
                           "USING (pair_id)").fetchone()[0] == sum(sizes)
    finally:
        con.close()


def test_the_new_pairs_stream_out_on_the_scan_s_own_thread_and_budget(tmp_path, monkeypatch):
    """Once sorted, the scan only streams the new pairs out while the loader measures and its
    writer stores: it runs on STREAM_THREADS threads under STREAM_MEMORY, and every pair is stored."""
    seen = []
    real_chunks = raw_bulk.Bulk.chunks

    def chunks(self):
        seen.append(self.scan.execute("SELECT current_setting('threads'), current_setting('memory_limit')").fetchone())
        yield from real_chunks(self)

    monkeypatch.setattr(raw_bulk.Bulk, "chunks", chunks)
    path = tmp_path / "pairs.csv"
    path.write_text("prompt,response_1,response_2,winner\n" + "".join(f"q{i},a{i},b{i},{'ab'[i % 2]}\n" for i in range(50)))
    report = load_source(str(path), db=tmp_path / "db.duckdb")
    assert report.new_pairs == report.new_labels == 50
    threads, memory = seen[0]
    assert len(seen) == 1 and threads == raw_bulk.STREAM_THREADS == 1
    budget = duckdb.connect()
    budget.execute(f"SET memory_limit = '{raw_bulk.STREAM_MEMORY}'")
    assert memory == budget.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    budget.close()


def test_the_files_hash_is_awaited_once_the_first_chunk_is_measured_and_before_any_write(tmp_path, monkeypatch):
    """The loader hashes the files on a thread; a staged load waits for the hash only once its first
    chunk is measured (the hash then takes the core the idle writer leaves), and before it writes.
    A file of no new pairs waits for it before its labels. A hash already stored writes nothing."""
    monkeypatch.setattr(raw_bulk, "CHUNK", 5)
    events: list[str] = []
    real_style, real_staged = raw_load.style_rows, raw_load._store_staged
    monkeypatch.setattr(raw_load, "style_rows", lambda frame: events.append("measured") or real_style(frame))
    monkeypatch.setattr(raw_load, "_store_staged", lambda *a: events.append("stored") or real_staged(*a))
    db = tmp_path / "db.duckdb"

    def load(path: Path, name: str, digest: str):
        reading = formats.Reading("generic", [path], Options())
        return raw_load.load_reading(reading, source=name, location=None, db=db,
                                     fingerprint=lambda: events.append(f"hash {digest}") or digest)

    path = tmp_path / "pairs.csv"
    path.write_text("prompt,response_1,response_2,winner\n" + "".join(f"q{i},a{i},b{i},{'ab'[i % 2]}\n" for i in range(12)))
    report = load(path, "first", "h1")
    assert (report.new_pairs, report.new_labels) == (12, 12)
    assert events[:3] == ["measured", "hash h1", "stored"] and events.count("hash h1") == 1
    assert events.count("measured") == events.count("stored") == 3  # chunks of 5, 5 and 2
    events.clear()
    before = db.read_bytes()
    other = tmp_path / "more.csv"  # new pairs, under a stored hash: the hash decides
    other.write_text(path.read_text().replace("q", "Q"))
    assert load(other, "again", "h1").already_loaded and db.read_bytes() == before
    assert events == ["measured", "hash h1"]  # measured, then nothing stored
    events.clear()
    report = load(path, "the same pairs", "h2")  # no new pair: the labels are the first write
    assert (report.new_pairs, report.existing_pairs) == (0, 12) and events == ["hash h2"]
    with dbmod.reading(db) as con:
        assert con.execute("SELECT source, fingerprint FROM sources ORDER BY source").fetchall() == [
            ("first", "h1"), ("the same pairs", "h2")]


def test_the_votes_and_ties_are_read_while_the_writer_stores_the_last_chunk(tmp_path, monkeypatch):
    """Once the scan has streamed its last pair, it finds the ties and sorts the new votes while the
    writer still stores: the last chunk's store waits here until the votes were asked for (a load
    that asked after would wait for the timeout, and fail below)."""
    monkeypatch.setattr(raw_bulk, "CHUNK", 5)
    asked = threading.Event()
    real_labels, real_ties, real_staged = raw_bulk.Bulk.labels, raw_bulk.Bulk.ties, raw_load._store_staged
    events = []
    monkeypatch.setattr(raw_bulk.Bulk, "labels", lambda self: asked.set() or real_labels(self))
    monkeypatch.setattr(raw_bulk.Bulk, "ties", lambda self, source: events.append("ties") or real_ties(self, source))

    def staged(con, rows, source):
        if len(rows[0]) < 5:  # the last chunk (of 5, 5 and 2 pairs)
            events.append("votes asked" if asked.wait(10) else "stored without them")
        real_staged(con, rows, source)

    monkeypatch.setattr(raw_load, "_store_staged", staged)
    path = tmp_path / "pairs.csv"
    path.write_text("prompt,response_1,response_2,winner\n" + "".join(
        f"q{i},a{i},b{i},{'tie' if i == 3 else 'ab'[i % 2]}\n" for i in range(13)))
    report = load_source(str(path), db=tmp_path / "db.duckdb")
    assert (report.new_pairs, report.new_labels) == (12, 12) and events == ["ties", "votes asked"]
    with dbmod.reading(tmp_path / "db.duckdb") as con:
        assert con.execute("SELECT count(*) FROM ties").fetchone()[0] == 1


def test_the_scan_is_dropped_on_a_thread_behind_the_commit_and_gone_when_the_load_returns(tmp_path, monkeypatch):
    events = []
    real_drop, real_publish = raw_bulk.Bulk._drop, dbmod._publish

    def drop(self):
        events.append(("drop", threading.current_thread().name))
        real_drop(self)
        events.append(("dropped", Path(self.spill).exists()))

    monkeypatch.setattr(raw_bulk.Bulk, "_drop", drop)
    monkeypatch.setattr(dbmod, "_publish", lambda *a: events.append(("published", None)) or real_publish(*a))
    load_source(str(write(tmp_path / "a.jsonl", [battle(i) for i in range(5)])), db=tmp_path / "db.duckdb")
    events.append(("returned", None))
    assert events[0] == ("drop", "load-scan-close")
    assert events.index(("dropped", False)) < events.index(("returned", None))
    assert ("published", None) in events


def test_a_scan_that_fails_to_close_behind_the_commit_prints_nothing_and_leaves_no_spill(tmp_path, monkeypatch):
    """The scan is scratch: when closing it fails on its thread, the load still ends as it should,
    with no traceback from that thread, and its scratch folder goes."""

    class FailingClose:
        def __init__(self, con):
            self._con = con

        def __getattr__(self, name):
            return getattr(self._con, name)

        def close(self):
            self._con.close()
            raise duckdb.ConnectionException("closing failed")

    real_scratch, made, uncaught = raw_bulk._scratch, [], []
    monkeypatch.setattr(raw_bulk, "_scratch", lambda folder: made.append(folder) or FailingClose(real_scratch(folder)))
    monkeypatch.setattr(threading, "excepthook", lambda args: uncaught.append(args.exc_value))
    report = load_source(str(write(tmp_path / "a.jsonl", [battle(i) for i in range(5)])), db=tmp_path / "db.duckdb")
    assert report.new_pairs == 5 and made and not Path(made[0]).exists() and uncaught == []


def test_the_scan_leaves_no_spill_folder(tmp_path, monkeypatch):
    made = []
    real = raw_bulk.tempfile.mkdtemp
    monkeypatch.setattr(raw_bulk.tempfile, "mkdtemp", lambda *a, **kw: made.append(real(*a, **kw)) or made[-1])
    load_source(str(write(tmp_path / "a.jsonl", [battle(i) for i in range(5)])), db=tmp_path / "db.duckdb")
    assert made and not any(Path(m).exists() for m in made if Path(m).name.startswith("prefdissect-load-"))
    # staged, then refused before the first write (the name is a source of another kind): gone too
    with pytest.raises(SourceError, match="is of kind"):
        load_source(str(write(tmp_path / "b.jsonl", [battle(i) for i in range(9, 12)])), db=tmp_path / "db.duckdb",
                    name="a.jsonl", format="generic", options=Options(columns=(("prompt", "model_a"),
                                                                         ("response_1", "model_b"),
                                                                         ("response_2", "judge"),
                                                                         ("winner", "winner"))))
    spills = [m for m in made if Path(m).name.startswith("prefdissect-load-")]
    assert len(spills) == 2 and not any(Path(m).exists() for m in spills)


def test_a_killed_load_s_scratch_folder_goes_at_the_next_load_and_no_other(tmp_path, monkeypatch):
    """A load killed with -9 cannot remove its scratch file (a gigabyte a million battles): the
    next load removes the folders of processes that are gone, and only those."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(raw_bulk.tempfile, "tempdir", str(tmp))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folders = {name: tmp / f"{raw_bulk.SCRATCH_PREFIX}{name}" for name in (
        f"{gone.stdout.strip()}-abc",            # its process has ended
        f"{os.getpid()}-def",                    # this process's (a load under way on another thread)
        f"{os.getppid()}-ghi",                   # a process alive
        "notapid-jkl", "123")}                   # not a name this code gives
    for folder in folders.values():
        folder.mkdir()
        (folder / "scan.duckdb").write_bytes(b"x" * 100)
    load_source(str(write(tmp_path / "a.jsonl", [battle(i) for i in range(5)])), db=tmp_path / "db.duckdb")
    left = {p.name for p in tmp.iterdir() if p.name.startswith(raw_bulk.SCRATCH_PREFIX)}  # (not the empty database)
    assert left == {f.name for name, f in folders.items() if not name.startswith(gone.stdout.strip())}


def test_the_files_are_staged_before_the_database_opens_and_dropped_when_it_does_not(tmp_path, monkeypatch):
    """DuckDB reads the files while the database opens (raw_bulk.stage); when it cannot open, the
    staging is stopped and its scan and spill folder go, and the error is the database's."""
    from pipeline.store.errors import NotADatabase

    events, stagers, made = [], [], []
    real_stage, real_writing, real_mkdtemp = raw_bulk.stage, dbmod.writing, raw_bulk.tempfile.mkdtemp
    monkeypatch.setattr(raw_bulk, "stage", lambda *a: events.append("stage") or stagers.append(real_stage(*a))
                        or stagers[-1])
    monkeypatch.setattr(dbmod, "writing", lambda *a, **k: events.append("writing") or real_writing(*a, **k))
    monkeypatch.setattr(raw_bulk.tempfile, "mkdtemp", lambda *a, **kw: made.append(real_mkdtemp(*a, **kw)) or made[-1])
    source = write(tmp_path / "a.jsonl", [battle(i) for i in range(5)])
    report = load_source(str(source), db=tmp_path / "db.duckdb")
    assert events == ["stage", "writing"] and report.new_pairs == 5 and stagers[0].taken
    folder = tmp_path / "a folder"
    folder.mkdir()
    with pytest.raises(NotADatabase, match="is a folder"):
        load_source(str(source), db=folder)
    assert events[2:] == ["stage", "writing"] and stagers[1] is not None and stagers[1].taken
    with pytest.raises(duckdb.ConnectionException):
        stagers[1].bulk.scan.execute("SELECT 1")  # closed
    assert len(made) == 2 and not any(Path(m).exists() for m in made)
    assert not list(folder.iterdir())


def test_a_lake_stores_what_the_file_stores(pg_lake, tmp_path, monkeypatch):
    """The SQL path on a PostgreSQL lake; its copy into a file holds what the row-by-row path
    stored in a file (tables in the same order as on the file: `copy --to` keeps them)."""
    from pipeline.store.copying import copy_database

    lake, data = pg_lake
    monkeypatch.setenv(dbmod.ENV_DATA_PATH, str(data))
    first = write(tmp_path / "first.jsonl", [battle(0), battle(0, winner="model_b"), battle(1, winner="tie"),
                                             battle(2), battle(2, model_a="m-z", judge="x")])
    second = write(tmp_path / "second.jsonl", [battle(2), battle(1), battle(3, winner="tie"), battle(4)])
    calls = []
    real = raw_bulk.prepare
    monkeypatch.setattr(raw_bulk, "prepare", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    on_lake = [_report(load_source(str(f), db=lake, name=f.stem)) for f in (first, second)]
    assert len(calls) == 2 and all(calls)
    monkeypatch.setattr(raw_load, "BULK", False)
    on_file = [_report(load_source(str(f), db=tmp_path / "rows.duckdb", name=f.stem)) for f in (first, second)]
    assert on_lake == on_file
    copy_database(lake, tmp_path / "copy.duckdb")
    assert contents(tmp_path / "copy.duckdb") == contents(tmp_path / "rows.duckdb")


# The Kaggle arena-55k CSV (formats/arena55k_scan.py): the same comparisons on CSV files.
HEADER_55K = ["id", "model_a", "model_b", "prompt", "response_a", "response_b", "winner_model_a", "winner_model_b",
              "winner_tie"]
FLAGS = {"model_a": ("1", "0", "0"), "model_b": ("0", "1", "0"), "tie": ("0", "0", "1"), "": ("0", "0", "0"),
         None: ("", "", "")}


def kaggle_row(i, query="q", r1="a", r2="b", m1="m-a", m2="m-b", winner="model_a", **over) -> dict:
    """One arena-55k row: the turn lists as JSON text (json.dumps: non-ASCII as escapes)."""
    turns = {"prompt": [query] if isinstance(query, str) else query,
             "response_a": [r1] if isinstance(r1, str) or r1 is None else r1,
             "response_b": [r2] if isinstance(r2, str) or r2 is None else r2}
    row = {"id": f"k{i}", "model_a": m1, "model_b": m2, **{k: json.dumps(v) for k, v in turns.items()},
           **dict(zip(HEADER_55K[-3:], FLAGS[winner]))}
    row.update(over)
    return row


def write_csv(path: Path, rows: list[dict], header=HEADER_55K, ending: str = "\n") -> Path:
    import csv
    import io

    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=ending)
    writer.writerow(header)
    writer.writerows([row.get(c, "") for c in header] for row in rows)
    path.write_bytes(out.getvalue().encode("utf-8"))
    return path


texts = st.sampled_from(["a", "b", " ", "", "x, \"quoted\"\nnew line", "é ü 😀", "a\\b", "[1]", "tab\there", "\u2028"])
csv_rows = st.lists(st.tuples(st.integers(0, 2), texts, texts, st.sampled_from(["m1", "m2", ""]),
                              st.sampled_from(["m2", "m3", ""]), st.sampled_from(["model_a", "model_b", "tie", "", None]),
                              st.sampled_from([False] * 4 + [True]), st.booleans()),
                    min_size=1, max_size=12)


def _kaggle(i: int, query: int, r1: str, r2: str, m1: str, m2: str, winner, multi: bool, nulls: bool) -> dict:
    prompt = [f"q{query}", "again?"] if multi else f"q{query}"
    side_1 = [r1, None] if nulls else r1  # a null turn is an empty reply
    return kaggle_row(i, prompt, side_1, [r2, ""] if multi else r2, m1, m2, winner)


@pytest.mark.slow
@settings(SLOW, max_examples=25)
@given(first=csv_rows, second=csv_rows, multi_turn=st.booleans(), ending=st.sampled_from(["\n", "\r\n"]),
       as_folder=st.booleans())
def test_generated_csv_files_store_the_same_both_ways(first, second, multi_turn, ending, as_folder, tmp_path_factory,
                                                      monkeypatch):
    folder = tmp_path_factory.mktemp("bulk55k")
    (folder / "parts").mkdir()
    files = [write_csv(folder / "parts" / f"part{k}.csv", [_kaggle(i, *r) for i, r in enumerate(part)], ending=ending)
             for k, part in enumerate((first, second))]
    taken_alike(files, folder, as_folder, monkeypatch, Options(multi_turn=multi_turn))


def test_csv_repeats_ties_and_skips_both_ways(tmp_path, monkeypatch):
    rows = [kaggle_row(0), kaggle_row(0), kaggle_row(0, winner="model_b"), kaggle_row(0, m1="m-z"),
            kaggle_row(1, winner="tie"), kaggle_row(2, winner=""), kaggle_row(3, winner=None), kaggle_row(4, r2=" "),
            kaggle_row(5, query=["one", "two"]), kaggle_row(6, r1=[None, "late"]), kaggle_row(7, id="", m1="", m2=""),
            kaggle_row(8, query=[]), kaggle_row(9)]
    first = write_csv(tmp_path / "first.csv", rows)
    second = write_csv(tmp_path / "second.csv", [kaggle_row(9), kaggle_row(9, winner="model_b"), kaggle_row(10)],
                       header=[*reversed(HEADER_55K), "extra"])  # columns found by name, in any order
    bulk, by_row, calls = load_both_ways([first, second], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True, True]
    records, new, existing, doubled, labels, judges, skipped, _ = bulk[0]
    assert (records, new, existing, doubled, labels, judges) == (13, 4, 0, 4, 4, ("human",))  # same texts: 4 battles
    assert "1 rows left out: multi-turn (rows 8)" in skipped


# Rows and files the CSV scan must leave to Python: loaded row by row, or refused with Python's error.
ODD_CSV = {
    "prompt a bare string": [kaggle_row(1, prompt="just text")],
    "prompt padded": [kaggle_row(1, prompt=' ["q"]')],
    "prompt an object": [kaggle_row(1, prompt='{"q": 1}')],
    "prompt empty": [kaggle_row(1, prompt="")],
    "turn a number": [kaggle_row(1, response_a="[1.5]"), kaggle_row(2, response_b="[7]")],
    "turn parts": [kaggle_row(1, response_a='[{"type": "text", "text": "hi"}]')],
    "turn a boolean": [kaggle_row(1, response_b="[true]")],
    "trailing comma": [kaggle_row(1, response_a='["a",]')],
    "comma and bracket in a text": [kaggle_row(1, response_a='["a,]"]')],
    "invalid JSON": [kaggle_row(1, response_b='["a" "b"]')],
    "lone surrogate": [kaggle_row(1, response_a='["x\\ud800"]')],
    "NUL escape": [kaggle_row(1, response_a='["x\\u0000y"]')],
    "flag spellings": [kaggle_row(1, winner_model_a="1.0"), kaggle_row(2, winner_model_b="true"),
                       kaggle_row(3, winner_tie=" 1"), kaggle_row(4, winner_model_a="True")],
    "flag unknown": [kaggle_row(1, winner_model_a="yes")],
    "two flags": [kaggle_row(1, winner_model_b="1")],
    "two flags on a skipped row": [kaggle_row(1, response_b="[null]", winner_model_b="1")],
}
# plain after all: DuckDB and Python both read "\u0000" as a NUL character, and ",]" inside a string
# is no trailing comma
TAKEN_CSV = {"NUL escape", "comma and bracket in a text"}
ODD_CSV_BYTES = {
    "short row": b"k9,m,m\n",
    "stray quote": b'k9,m"x,m-b,"[""q""]","[""a""]","[""b""]",1,0,0\n',
    "text after a closing quote": b'"k9"x,m,m-b,"[""q""]","[""a""]","[""b""]",1,0,0\n',
    "CRLF after LF": b'k9,m,m-b,"[""q""]","[""a""]","[""b""]",1,0,0\r\n',
    "lone CR": b'k9,m\rx,m-b,"[""q""]","[""a""]","[""b""]",1,0,0\n',
    "unterminated quote": b'k9,m,m-b,"[""q""]","[""a""]","[""b',
}


@pytest.mark.parametrize("name", sorted(ODD_CSV) + sorted(ODD_CSV_BYTES))
def test_odd_csv_rows_store_the_same_both_ways(name, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "odd.csv", [kaggle_row(0), *ODD_CSV.get(name, []), kaggle_row(9)])
    if name in ODD_CSV_BYTES:
        path.write_bytes(path.read_bytes() + ODD_CSV_BYTES[name])
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch)
    if loaded is not None:
        bulk, by_row, calls = loaded
        assert bulk == by_row
        assert calls == [name in TAKEN_CSV], "the SQL path took a file it cannot prove plain"


def test_a_crlf_csv_is_taken_and_a_duplicate_column_is_not(tmp_path, monkeypatch):
    crlf = write_csv(tmp_path / "crlf.csv", [kaggle_row(i, r1=f"a\r\n{i}") for i in range(4)], ending="\r\n")
    bulk, by_row, calls = load_both_ways([crlf], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True] and bulk[0][1] == 4
    doubled = write_csv(tmp_path / "doubled.csv", [kaggle_row(0)], header=[*HEADER_55K, "model_a"])
    calls = []
    real = raw_bulk.prepare
    monkeypatch.setattr(raw_bulk, "prepare", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    with pytest.raises(SourceError, match="appears more than once"):
        load_source(str(doubled), db=tmp_path / "doubled.duckdb")
    assert calls == []  # refused as the format is detected, before any scan


def _generic(i: int) -> dict:
    return {"prompt": f"p{i}", "response_1": "a", "response_2": "b", "winner": "1"}


@pytest.mark.parametrize("rows, ahead", [(battle, False), (_generic, True)], ids=["attributes", "plain"])
def test_a_load_that_fails_between_chunks_stops_its_fetch_and_leaves_the_file(rows, ahead, tmp_path, monkeypatch):
    """The next chunk is fetched on a thread (`writing.read_ahead`) when the pairs carry no
    attributes: when measuring a chunk fails, that fetch ends before the scan is closed, and the
    file is as it was, with or without the read-ahead."""
    monkeypatch.setattr(raw_bulk, "CHUNK", 5)
    db = tmp_path / "db.duckdb"
    load_source(str(write(tmp_path / "a.jsonl", [rows(i) for i in range(3)])), db=db)
    before = db.read_bytes()
    real, calls, fetches = raw_load.style_rows, [], []

    def failing(frame):
        calls.append(len(frame))
        if len(calls) == 2:
            raise SourceError("measuring failed")
        return real(frame)

    def read_ahead(items):
        fetches.append(True)
        return real_ahead(items)

    real_ahead = raw_load.read_ahead
    monkeypatch.setattr(raw_load, "style_rows", failing)
    monkeypatch.setattr(raw_load, "read_ahead", read_ahead)
    with pytest.raises(SourceError, match="measuring failed"):
        load_source(str(write(tmp_path / "b.jsonl", [rows(i) for i in range(100, 140)])), db=db)
    assert len(calls) == 2
    assert fetches == ([True] if ahead else [])
    assert not [t for t in threading.enumerate() if t.name.startswith("load-fetch")]
    assert db.read_bytes() == before
