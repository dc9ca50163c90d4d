"""Loading: all or nothing, no duplicates, ids unique across sources, every file format."""

import json
import os
import sys
import threading

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.store import db as dbmod
from pipeline.ingest import sources
from pipeline.ingest.release_load import load_records
from pipeline.ingest.loader import load_source
from pipeline.properties.paper import N_PROPERTIES
from pipeline.ingest.records import RecordError
from records_factory import error, make_record
from dbquery import scalar


# The paper's 29 features; every pair also gets the style set's (tests/ingest/formats/test_raw_loading.py).
PAPER = "WHERE property IN (SELECT property FROM properties WHERE property_set = 'paper')"


def snapshot(path):
    """Every table's rows, to compare a database before and after."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()]
        return {t: sorted(map(repr, con.execute(f"SELECT * EXCLUDE ({_ts(con, t)}) FROM {t}").fetchall()))
                if _ts(con, t) else sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}
    finally:
        con.close()


def _ts(con, table):
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND data_type LIKE 'TIMESTAMP%'",
        [table]).fetchall()]
    return ", ".join(cols)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_load_fills_every_table(tmp_path):
    db = tmp_path / "t.duckdb"
    recs = [make_record(i, r1={"friendly": 3}) for i in range(4)]
    recs[1]["errors_response_2"] = {"applicable or not": "applicable", "errors": [error("minor"), error("severe")]}
    recs[2]["errors_response_1"] = {"applicable or not": "not applicable", "errors": []}
    recs[3]["explicit constraints"] = ["be brief"]
    report = load_records(recs, source="s", db=db)
    assert report.new_pairs == 4 and report.usable_pairs == 3 and report.new_labels == 8
    assert scalar(db, "SELECT count(*) FROM pairs") == 4
    assert scalar(db, "SELECT count(*) FROM labels WHERE judge = 'human' AND preferred = 1") == 4
    assert scalar(db, f"SELECT count(*) FROM features {PAPER}") == 3 * N_PROPERTIES  # the unusable pair has none
    assert scalar(db, f"SELECT count(*) FROM features {PAPER} AND pair_id = 2") == 0
    assert scalar(db, "SELECT count(*) FROM errors WHERE pair_id = 1 AND response = 2") == 2
    assert scalar(db, "SELECT count(*) FROM ratings") == 4 * 2 * 20
    assert scalar(db, "SELECT value FROM features WHERE pair_id = 0 AND property = 'friendly'") == 1
    assert scalar(db, "SELECT count(*) FROM pair_groups WHERE group_name = 'Contain Explicit Constraints'") == 1
    assert scalar(db, "SELECT count(*) FROM pair_groups WHERE group_name = 'Daily Tasks' AND group_kind = 'scenario'") == 4
    assert scalar(db, "SELECT count(*) FROM query_items WHERE item_kind = 'constraint'") == 1
    assert scalar(db, "SELECT count(*) FROM judges") == 2


def test_pair_ids_are_positions_then_continue_for_a_second_source(tmp_path):
    db = tmp_path / "t.duckdb"
    load_records([make_record(i) for i in range(3)], source="first", db=db)
    load_records([make_record(i) for i in range(10, 12)], source="second", db=db)
    with dbmod.reading(db) as con:
        rows = con.execute("SELECT pair_id, source, source_index FROM pairs ORDER BY pair_id").fetchall()
    assert rows == [(0, "first", 0), (1, "first", 1), (2, "first", 2), (3, "second", 0), (4, "second", 1)]


def test_records_own_integer_ids_become_pair_ids_in_an_empty_database(tmp_path):
    db = tmp_path / "t.duckdb"
    load_records([make_record(i, id=100 + i) for i in range(3)], source="s", db=db)
    assert scalar(db, "SELECT min(pair_id) FROM pairs") == 100


def test_loading_the_same_file_twice_changes_nothing(tmp_path):
    db = tmp_path / "t.duckdb"
    path = write_jsonl(tmp_path / "r.jsonl", [make_record(i) for i in range(5)])
    load_source(str(path), db=db)
    before = snapshot(db)
    report = load_source(str(path), db=db)
    assert report.already_loaded
    assert snapshot(db) == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_a_raw_load_hashes_its_files_on_a_thread_of_the_lowest_priority(tmp_path, monkeypatch):
    """The hash yields its core to the load's own work (raw_load asks for it before its first write);
    the thread that loads keeps its priority."""
    seen = []
    real = sources.fingerprint
    monkeypatch.setattr(sources, "fingerprint", lambda files: seen.append(
        (threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))) or real(files))
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    path = tmp_path / "pairs.csv"
    path.write_text("prompt,response_1,response_2,winner\nq,a,b,a\n")
    assert load_source(str(path), db=tmp_path / "t.duckdb").new_pairs == 1
    assert len(seen) == 1 and seen[0][0] != threading.get_native_id() and seen[0][1] == 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_same_pairs_from_another_source_add_only_new_labels(tmp_path):
    db = tmp_path / "t.duckdb"
    load_records([make_record(i) for i in range(3)], source="a", db=db)
    again = [make_record(i, preference_labels={"human": "response_1", "new-judge": "response_2"}) for i in range(3)]
    report = load_records(again, source="b", db=db)
    assert report.new_pairs == 0 and report.existing_pairs == 3 and report.new_labels == 3
    assert scalar(db, "SELECT count(*) FROM pairs") == 3
    assert scalar(db, "SELECT count(*) FROM labels") == 9


def test_a_bad_record_leaves_the_database_exactly_as_before(tmp_path):
    db = tmp_path / "t.duckdb"
    load_records([make_record(i) for i in range(3)], source="a", db=db)
    before = snapshot(db)
    recs = [make_record(i) for i in range(10, 20)]
    recs[7]["basic_response_1"]["polite"] = "very"
    with pytest.raises(RecordError, match=r"record 7.*basic_response_1\.polite"):
        load_records(recs, source="b", db=db)
    assert snapshot(db) == before


def test_a_bad_record_late_in_a_large_file_rolls_back_earlier_chunks(tmp_path, monkeypatch):
    import pipeline.ingest.writing as writing
    monkeypatch.setattr(writing, "CHUNK", 4)
    db = tmp_path / "t.duckdb"
    recs = [make_record(i) for i in range(11)]
    recs[10]["query"] = None
    load_records([make_record(100)], source="a", db=db)
    before = snapshot(db)
    with pytest.raises(RecordError, match="record 10"):
        load_records(recs, source="b", db=db)
    assert snapshot(db) == before


def test_the_writer_gets_the_gil_back_quickly_during_a_load_and_the_default_returns(tmp_path, monkeypatch):
    """While records are checked, the writer thread's calls wait at most GIL_SWITCH for the GIL
    (`writing.quick_gil_handoff`); after the load, done or failed, the interval is as before."""
    import sys

    import pipeline.ingest.release_load as release_load
    import pipeline.ingest.writing as writing

    monkeypatch.setattr(writing, "CHUNK", 4)
    seen = []
    real = release_load._store_chunk

    def spy(con, *args):
        seen.append(sys.getswitchinterval())
        return real(con, *args)

    monkeypatch.setattr(release_load, "_store_chunk", spy)
    before = sys.getswitchinterval()
    assert before > writing.GIL_SWITCH  # Python's default, 5 ms
    db = tmp_path / "t.duckdb"
    load_records([make_record(i) for i in range(10)], source="a", db=db)
    assert len(seen) == 3 and set(seen) == {writing.GIL_SWITCH}
    assert sys.getswitchinterval() == before
    bad = [make_record(i) for i in range(20, 30)]
    bad[9]["query"] = None
    with pytest.raises(RecordError, match="record 9"):
        load_records(bad, source="b", db=db)
    assert len(seen) == 5 and sys.getswitchinterval() == before


def test_a_load_into_a_new_database_leaves_a_duckdb_thread_to_the_checks(tmp_path, monkeypatch):
    """Into a new database (nothing to look up between chunks) the writer's inserts run with
    DuckDB one thread fewer than its default, never under one; onto stored pairs, with all."""
    import duckdb

    import pipeline.ingest.release_load as release_load
    import pipeline.ingest.writing as writing

    monkeypatch.setattr(writing, "CHUNK", 4)
    default = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]
    seen = []
    real = release_load._store_chunk

    def spy(con, *args):
        seen.append(con.execute("SELECT current_setting('threads')").fetchone()[0])
        return real(con, *args)

    monkeypatch.setattr(release_load, "_store_chunk", spy)
    db = tmp_path / "t.duckdb"
    load_records([make_record(i) for i in range(10)], source="a", db=db)
    assert seen == [max(1, default - 1)] * 3
    seen.clear()
    load_records([make_record(i) for i in range(10, 16)], source="b", db=db)
    assert seen == [default] * 2


def test_small_chunks_store_exactly_what_one_chunk_stores(tmp_path, monkeypatch):
    """Chunks are stored by a background thread while the next is checked; repeated pairs in
    the source, pairs of an earlier source and new judges on them come out the same."""
    import pipeline.ingest.writing as writing

    first = [make_record(i, r1={"friendly": i % 4}) for i in range(6)]
    second = [make_record(i, r2={"polite": i % 3}) for i in range(4, 14)]
    second[3]["errors_response_1"] = {"applicable or not": "applicable", "errors": [error("severe")]}
    second[5] = make_record(7, preference_labels={"human": "response_2", "late-judge": "response_1"})  # repeat
    second[8] = make_record(2, preference_labels={"new-judge": "response_2"})  # a pair of the first source
    snapshots = []
    for chunk in (5000, 3):
        monkeypatch.setattr(writing, "CHUNK", chunk)
        db = tmp_path / f"chunk{chunk}.duckdb"
        reports = [load_records(first, source="a", db=db), load_records(second, source="b", db=db)]
        snapshots.append((snapshot(db), [(r.new_pairs, r.existing_pairs, r.duplicates_in_source, r.new_labels,
                                          r.usable_pairs, r.judges) for r in reports]))
    assert snapshots[0] == snapshots[1]
    assert snapshots[0][1][1] == (6, 3, 1, 14, 6, ["gpt-4-turbo", "human", "late-judge", "new-judge"])
    assert scalar(tmp_path / "chunk3.duckdb", "SELECT preferred FROM labels JOIN pairs USING (pair_id) "
                  "WHERE query = 'query number 7' AND judge = 'human'") == 1  # the first record's label stays


def test_stored_raw_pairs_met_again_in_later_chunks_are_annotated_once(tmp_path, monkeypatch):
    """The stored pairs are looked up a chunk at a time (`release_load._look_up`): a raw pair met in
    one chunk and again in a later one is annotated in place once, then counted as present."""
    import pipeline.ingest.writing as writing

    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps({"prompt": make_record(i)["query"], "response_a": make_record(i)["response_1"]["content"],
                                       "response_b": make_record(i)["response_2"]["content"], "winner": "model_a"}) + "\n"
                           for i in range(5)))
    records = [make_record(i, r1={"friendly": i % 4}) for i in (0, 1, 2, 0, 3, 1, 7)]
    results = []
    for chunk in (5000, 2):
        monkeypatch.setattr(writing, "CHUNK", chunk)
        db = tmp_path / f"chunk{chunk}.duckdb"
        load_source(str(raw), db=db)
        r = load_records(records, source="annotated", db=db)
        results.append((snapshot(db), (r.new_pairs, r.existing_pairs, r.duplicates_in_source, r.annotated_in_place)))
    assert results[0] == results[1]
    assert results[1][1] == (1, 6, 0, 4)  # 0, 1, 2 and 3 annotated once; 0 and 1 met again; 7 new
    assert scalar(tmp_path / "chunk2.duckdb", "SELECT count(*) FILTER (annotated) FROM pairs") == 5


def test_json_list_jsonl_and_parquet_load_the_same(tmp_path):
    qs = {"clarify user intent": None, "satisfying explicit constraints": ["be brief | 2"]}
    recs = [make_record(i, r1={"polite": i % 4}, **{"explicit constraints": ["be brief"],
                                                   "query-specific_response_1": qs,
                                                   "query-specific_response_2": qs}) for i in range(4)]
    (tmp_path / "r.json").write_text(json.dumps(recs))
    write_jsonl(tmp_path / "r.jsonl", recs)
    pq.write_table(pa.Table.from_pylist(recs), tmp_path / "r.parquet")
    results = []
    for name in ("r.json", "r.jsonl", "r.parquet"):
        db = tmp_path / f"{name}.duckdb"
        load_source(str(tmp_path / name), db=db)
        with dbmod.reading(db) as con:
            results.append(con.execute(f"SELECT pair_id, property, value FROM features {PAPER} ORDER BY ALL").fetchall())
    assert results[0] == results[1] == results[2]
    assert len(results[0]) == 4 * N_PROPERTIES


def test_bad_files_are_refused_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(make_record(0)) + "\n{not json\n")
    with pytest.raises(sources.SourceError, match=r"bad.jsonl: line 2"):
        load_source(str(bad), db=tmp_path / "t.duckdb")
    (tmp_path / "x.csv").write_text("a")
    with pytest.raises(sources.SourceError, match="unsupported file type"):
        sources.resolve(str(tmp_path / "x.csv"))
    with pytest.raises(sources.SourceError, match="no such file"):
        sources.resolve(str(tmp_path / "missing.jsonl"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(sources.SourceError, match="no records"):
        load_source(str(empty), db=tmp_path / "t2.duckdb")


def test_hf_source_downloads_then_loads_the_local_files(tmp_path, monkeypatch):
    folder = tmp_path / "snapshot"
    (folder / "data").mkdir(parents=True)
    write_jsonl(folder / "data" / "train.jsonl", [make_record(i) for i in range(3)])
    calls = []

    def fake_download(repo_id):
        calls.append(repo_id)
        return folder

    monkeypatch.setattr(sources, "download_hf", fake_download)
    report = load_source("hf:GAIR/preference-dissection", db=tmp_path / "t.duckdb")
    assert calls == ["GAIR/preference-dissection"]
    assert report.source == "GAIR/preference-dissection" and report.new_pairs == 3


def test_hf_source_needs_owner_and_name():
    with pytest.raises(sources.SourceError, match="hf:OWNER/NAME"):
        sources.resolve("hf:justone")


def test_hf_download_failure_is_one_clear_error(monkeypatch):
    import huggingface_hub

    def boom(**kw):
        raise OSError("network unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", boom)
    with pytest.raises(sources.SourceError, match="could not download"):
        sources.download_hf("GAIR/preference-dissection")


def test_hf_download_from_a_silent_host_fails_fast_in_one_line(tmp_path, monkeypatch):
    # A host that accepts connections and never answers (a firewall, a dead proxy): the hub
    # client's API calls have no timeout of their own and would wait for ever.
    import socket
    import time

    from huggingface_hub import constants

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setattr(sources, "HUB_TIMEOUT_S", 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(sources.SourceError, match="could not download") as info:
            sources.download_hf("GAIR/preference-dissection")
    finally:
        silent.close()
    assert time.monotonic() - started < 60  # gives up (a hang never would); margin for a busy machine
    assert "\n" not in str(info.value)
