"""HH-RLHF JSON lines sorted in SQL (formats/hh_rlhf_scan.py): each generated transcript pair is
staged as `hh_rlhf.read` reads it (turn marks, stripping, the hash-decided order), a row Python
refuses is never plain, and loads store the same both ways, the published file included."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
import zstandard
from conftest import HH_RLHF
from fuzzing import SLOW
from hypothesis import given, settings
from hypothesis import strategies as st
from test_raw_bulk import load_both_ways, loaded_or_refused_alike

from pipeline.ingest.formats import Options, hh_rlhf, hh_rlhf_scan
from pipeline.ingest.formats.base import EMPTY, MULTI_TURN, RawPair, RowError, Skip
from pipeline.ingest.writing import pair_key

# Pieces that make marks, near-marks and Python's whitespace, in any order.
PIECES = ["\n\nHuman: ", "\n\nAssistant: ", "Human: ", "Assistant:", "\n\nHuman:", "\nHuman: ", "Human:\t",
          "\n\nAssistant:  ", " ", "\t", "\u3000", "\x1f", "\u2028", "x", "Hi there", "é😀", "\n\n", "\n", "Human"]
transcripts = st.lists(st.sampled_from(PIECES), max_size=9).map("".join)
sides = st.one_of(transcripts, transcripts.map(lambda t: "\n\nHuman: q" + t + "\n\nAssistant: a"),
                  st.sampled_from([None, 5, ["x"], "plain text", True,
                                   # not strings, though their JSON text holds a transcript (read as VARCHAR)
                                   {"t": "\n\nHuman: q\n\nAssistant: a"}, ["Human: q\n\nAssistant: a"]]))


def hh_row(chosen, rejected) -> dict:
    return {"chosen": chosen, "rejected": rejected}


def python_item(row: dict, multi_turn: bool):
    try:
        (item,) = hh_rlhf.read(iter([(0, row)]), Options(multi_turn=multi_turn, judge="human"), None, lambda p: "row")
    except RowError:
        return None
    return item


def staged(path: Path) -> list[dict]:
    con = duckdb.connect()
    try:
        cursor = con.execute(hh_rlhf_scan.staging(path, ["chosen", "rejected"], Options()).query, [str(path)])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]
    finally:
        con.close()


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(sides, sides), min_size=1, max_size=20), multi_turn=st.booleans())
def test_each_row_is_staged_as_python_reads_it(rows, multi_turn, tmp_path_factory):
    path = tmp_path_factory.mktemp("hh") / "hh.jsonl"
    path.write_text("".join(json.dumps(hh_row(c, r)) + "\n" for c, r in rows))
    for (chosen, rejected), got in zip(rows, staged(path), strict=True):
        item = python_item(hh_row(chosen, rejected), multi_turn)
        if item is None:  # Python refuses the row: the scan must not call it plain
            assert not got["plain"]
            continue
        assert got["plain"]
        n_turns = max(got["n_users"], 1)
        if isinstance(item, Skip):
            assert item.reason in (MULTI_TURN, EMPTY)
            assert (n_turns > 1 and not multi_turn) == (item.reason == MULTI_TURN)
            assert item.reason != EMPTY or got["empty"]
            continue
        assert isinstance(item, RawPair) and not got["empty"] and n_turns == item.n_turns
        assert (got["query"], got["response_1"], got["response_2"]) == (item.query, item.response_1, item.response_2)
        assert got["tk"] == pair_key(item.query, item.response_1, item.response_2)  # the scan's own text key
        assert got["winner"] == ("model_a", "model_b")[item.labels[0].preferred - 1]


@pytest.mark.slow
@settings(SLOW, max_examples=10)
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "b", " "]), st.sampled_from(["c", "d"]),
                               st.sampled_from(["q1", "q2"]), st.booleans()), min_size=1, max_size=12),
       multi_turn=st.booleans(), packed=st.sampled_from(["", ".gz", ".zst"]))
def test_generated_files_store_the_same_both_ways(rows, multi_turn, packed, tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("bulkhh")
    lines = []
    for chosen, rejected, query, multi in rows:
        before = f"\n\nHuman: {query}" + ("\n\nAssistant: ok\n\nHuman: more" if multi else "")
        lines.append(json.dumps(hh_row(f"{before}\n\nAssistant: {chosen}", f"{before}\n\nAssistant: {rejected}")))
    text = "".join(line + "\n" for line in lines).encode()
    path = folder / f"hh.jsonl{packed}"
    pack = {"": bytes, ".gz": gzip.compress, ".zst": zstandard.ZstdCompressor().compress}[packed]
    path.write_bytes(pack(text))
    bulk, by_row, calls = load_both_ways([path], folder, monkeypatch, options=Options(multi_turn=multi_turn))
    assert bulk == by_row and calls == [True]


@pytest.mark.parametrize("multi_turn", [False, True])
def test_the_published_file_stores_the_same_both_ways(multi_turn, shared_real, tmp_path, monkeypatch):
    bulk, by_row, calls = load_both_ways([HH_RLHF], tmp_path, monkeypatch, options=Options(multi_turn=multi_turn))
    assert bulk == by_row and calls == [True]
    records, new, *_ = bulk[0]
    assert records == 2312 and new > (2000 if multi_turn else 600)


@pytest.mark.parametrize("odd", ["no turns", "ends with Human", "chosen a number", "rejected missing"])
def test_a_row_python_refuses_is_refused_alike(odd, tmp_path, monkeypatch):
    good = hh_row("\n\nHuman: q\n\nAssistant: a", "\n\nHuman: q\n\nAssistant: b")
    bad = {"no turns": hh_row("just text", "\n\nHuman: q\n\nAssistant: b"),
           "ends with Human": hh_row("\n\nHuman: q\n\nAssistant: a\n\nHuman: ?", "\n\nHuman: q\n\nAssistant: b"),
           "chosen a number": hh_row(5, "\n\nHuman: q\n\nAssistant: b"),
           "rejected missing": {"chosen": "\n\nHuman: q\n\nAssistant: a"}}[odd]
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    assert loaded_or_refused_alike(path, tmp_path, monkeypatch) is None  # Python names row 1: so does the load
