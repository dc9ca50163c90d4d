"""`writing`: `read_ahead` fetches a staged file's chunks one ahead, on a thread, while the
loader measures the current one (issue 18); the writer's spare thread; style rows stored as the
long frame."""

from __future__ import annotations

import threading
import time

import duckdb
import numpy as np
import polars as pl
import pytest

from pipeline.ingest import writing
from pipeline.ingest.writing import read_ahead
from pipeline.properties import measures, style


def _source(n: int, produced: list, threads: list, fail_at: int | None = None):
    for i in range(n):
        if i == fail_at:
            raise ValueError(f"broken at {i}")
        threads.append(threading.current_thread().name)
        produced.append(i)
        yield i


def test_every_item_comes_in_order_fetched_on_another_thread():
    produced, threads = [], []
    assert list(read_ahead(_source(7, produced, threads))) == list(range(7))
    assert produced == list(range(7))
    assert all(name.startswith("load-fetch") for name in threads)
    assert list(read_ahead([])) == []


def test_the_next_item_is_fetched_while_the_caller_works_and_no_further():
    produced, threads = [], []
    seen = []
    for item in read_ahead(_source(5, produced, threads)):
        deadline = time.monotonic() + 5
        while len(produced) < min(item + 2, 5) and time.monotonic() < deadline:
            time.sleep(0.005)  # the next one arrives while this one is held
        time.sleep(0.02)
        seen.append((item, len(produced)))
    assert seen == [(0, 2), (1, 3), (2, 4), (3, 5), (4, 5)]  # never two ahead


def test_an_error_of_the_source_reaches_the_caller_after_the_items_before_it():
    produced, threads = [], []
    got = []
    with pytest.raises(ValueError, match="broken at 3"):
        for item in read_ahead(_source(6, produced, threads, fail_at=3)):
            got.append(item)
    assert got == [0, 1, 2]


def test_a_caller_that_stops_leaves_no_fetch_running():
    produced, threads = [], []
    items = read_ahead(_source(100, produced, threads))
    for item in items:
        if item == 2:
            break
    items.close()  # as a for loop's generator is closed when the load fails
    assert produced == [0, 1, 2, 3]  # the one fetched ahead, and no more
    assert not [t for t in threading.enumerate() if t.name.startswith("load-fetch")]


def test_a_writer_with_a_spare_thread_runs_duckdb_one_thread_fewer_until_it_closes():
    """`BackgroundWriter(spare_thread=True)`: DuckDB one thread fewer (never under one) while the
    writer stores, as set before its thread starts; as before once it is closed, also after a
    failed chunk. Without it, DuckDB's threads are left alone."""
    import duckdb

    from pipeline.ingest.writing import BackgroundWriter

    def threads(con):
        return con.execute("SELECT current_setting('threads')").fetchone()[0]

    for start, during in ((3, 2), (1, 1)):
        con = duckdb.connect()
        con.execute(f"SET threads = {start}")
        writer = BackgroundWriter(con, spare_thread=True)
        seen = []
        writer.submit(lambda c: seen.append(threads(c)))
        writer.submit(lambda c: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            writer.wait()
        writer.close()
        assert seen == [during] and threads(con) == start
    plain = BackgroundWriter(con)
    plain.submit(lambda c: seen.append(threads(c)))
    plain.wait()
    plain.close()
    assert seen[-1] == 1 and threads(con) == 1


def test_style_rows_are_stored_as_the_long_frame_in_its_order(tmp_path):
    """The stored rows are `style.features_from_measures`' long frame of the pairs' measures, row for
    row and in order (a pair's properties side by side in the registry's order), for pairs in any
    id order, over more than two row groups (DuckDB inserts the batches on its threads, each in its place)."""
    texts = ["# Title\n\n- one\n- two\n\n**bold** and [a link](http://x.org)?", "short", "",
             "As an AI, I'm sorry, but I can't. Do you want ```code```?", "ünïcode words ✨ here 1,000.5"]
    n = 3 * writing.ROW_GROUP // len(style.STYLE_NAMES) + 7  # more than three row groups of feature rows
    ids = np.random.default_rng(3).permutation(n)
    frame = pl.DataFrame({"pair_id": ids, "response_1": [texts[i % 5] for i in range(n)],
                          "response_2": [texts[(i * 3 + 1) % 5] + " " * (i % 2) for i in range(n)]})
    con = duckdb.connect(str(tmp_path / "f.duckdb"))
    con.execute("CREATE TABLE features (pair_id INTEGER NOT NULL, property VARCHAR NOT NULL, value TINYINT NOT NULL)")
    con.execute("CREATE TABLE response_counts AS SELECT * FROM (SELECT 0::INTEGER AS pair_id, 0::TINYINT AS side, "
                + ", ".join(f"0::INTEGER AS {m}" for m in measures.MEASURES) + ") WHERE false")
    rows = writing.style_rows(frame)
    assert rows.features.num_rows > 3 * writing.ROW_GROUP and len(rows.features.to_batches()) > 3
    writing.insert_style_rows(con, rows, fill_word_counts=False)
    stored = pl.from_arrow(con.execute("SELECT pair_id, property, value FROM features ORDER BY rowid").to_arrow_table())
    con.close()
    expected = style.features_from_measures(measures.measure_frame(frame))
    assert stored.height == n * len(style.STYLE_NAMES)
    assert stored.cast({"pair_id": pl.Int64}).equals(expected.cast({"pair_id": pl.Int64}))
    assert set(expected["value"].to_list()) == {-1, 0, 1}  # the texts tell some properties apart both ways
