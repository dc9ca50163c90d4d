"""Parquet releases of Chatbot Arena and LMArena sorted in SQL (formats/parquet_scan.py) store
exactly what the row-by-row path stores: generated files with content parts, tags and repeats;
every odd Arena row that parquet can hold; and the schemas the scan must decline."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from formats.test_arena_scan import (  # tests/ingest/formats (no packages here)
    MULTI,
    ODD_ROWS,
    battle,
)
from fuzzing import SLOW
from hypothesis import given, settings
from hypothesis import strategies as st
from test_raw_bulk import load_both_ways, loaded_or_refused_alike, taken_alike

from pipeline.ingest.formats import Options, lmarena, parquet_scan

FIXTURES = Path(__file__).parent / "formats" / "fixtures"


def write_parquet(path: Path, rows: list[dict], schema: pa.Schema | None = None) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def part(text, kind="text") -> dict:
    return {"type": kind, "text": text, "image": "img.png" if kind == "image" else None,
            "mimeType": "image/png" if kind == "image" else None}


def message(role: str, parts: list[dict]) -> dict:
    return {"role": role, "content": parts}


def lm_row(i: int, query: int, r1: str, r2: str, m1, m2, winner, rater, multi: bool, image: bool, tag) -> dict:
    """One LMArena 140k-style row: content as parts (an image part beside the text, when asked)."""
    extra = [part(None, "image")] if image else []
    side_a = [message("user", [part(f"q{query}"), *extra]), message("assistant", [part(r1), part("")])]
    side_b = [message("user", [part(f"q{query}")]), message("assistant", [*extra, part(r2)])]
    if multi:
        side_a = side_b = [message("user", [part("one")]), message("assistant", [part("r1")]),
                           message("user", [part("two")]), message("assistant", [part("r2"), part("more")])]
    return {"id": f"id{i}", "model_a": m1, "model_b": m2, "winner": winner, "judge_hash": rater,
            "evaluation_session_id": f"s{i % 3}", "evaluation_order": i % 2 + 1,
            "conversation_a": side_a, "conversation_b": side_b, "full_conversation": None,
            "category_tag": {"criteria_v0.1": {"complexity": tag, "real_world": not tag if tag is not None else None},
                             "if_v0.1": {"if": True, "score": i % 5 if tag else None}, "math_v0.1": {"math": tag}},
            "language": ("en", "de", None)[i % 3], "is_code": bool(i % 2), "timestamp": None}


lm_rows = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["a", "b", " ", "", "é 😀"]),
                             st.sampled_from(["b", "c", ""]), st.sampled_from(["m1", "m2", "", None]),
                             st.sampled_from(["m2", "m3"]),
                             st.sampled_from(["model_a", "model_b", "tie", "both_bad", "Model_B", "", None]),
                             st.sampled_from(["h1", "h2", None]), st.sampled_from([False] * 5 + [True]),
                             st.booleans(), st.sampled_from([True, False, None])),
                   min_size=1, max_size=12)


@pytest.mark.slow
@settings(SLOW, max_examples=15)
@given(first=lm_rows, second=lm_rows, multi_turn=st.booleans(), as_folder=st.booleans())
def test_generated_lmarena_parquet_stores_the_same_both_ways(first, second, multi_turn, as_folder, tmp_path_factory,
                                                              monkeypatch):
    folder = tmp_path_factory.mktemp("bulkpq")
    (folder / "parts").mkdir()
    files = [write_parquet(folder / "parts" / f"train-{k}.parquet", [lm_row(i, *r) for i, r in enumerate(rows)])
             for k, rows in enumerate((first, second))]
    taken_alike(files, folder, as_folder, monkeypatch, Options(multi_turn=multi_turn))


def test_the_140k_fixture_as_parquet_is_taken_with_its_tags(tmp_path, monkeypatch):
    rows = json.loads((FIXTURES / "lmarena_140k.json").read_text())
    path = write_parquet(tmp_path / "arena-140k.parquet", rows + [dict(rows[0], id="again", winner="model_a")])
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]
    records, new, *_, skipped, _ = bulk[0]
    assert (records, new) == (5, 2)  # a tie and a both-bad left out; the haiku again, voted the other way
    assert any("conflicting vote" in line for line in skipped)
    import duckdb

    con = duckdb.connect(str(tmp_path / "bulk.duckdb"), read_only=True)
    keys = {k for (k,) in con.execute("SELECT DISTINCT key FROM pair_attributes").fetchall()}
    con.close()
    assert {"math_v0.1.math", "criteria_v0.1.creativity", "if_v0.1.score", "is_code", "language"} <= keys


def _arena_parquet_cases() -> dict[str, list[dict]]:
    """ODD_ROWS (Arena rows the JSON-lines scan leaves to Python) that pyarrow can write as one table."""
    cases = {}
    for name, odd in ODD_ROWS.items():
        rows = [battle(0), *(odd if isinstance(odd, list) else [odd]), battle(9)]
        try:
            pa.Table.from_pylist(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            continue  # mixed types in one column: no parquet file holds that
        cases[name] = rows
    return cases


ARENA_PARQUET = _arena_parquet_cases()


@pytest.mark.parametrize("name", sorted(ARENA_PARQUET))
def test_odd_arena_rows_in_parquet_store_the_same_both_ways(name, tmp_path, monkeypatch):
    path = write_parquet(tmp_path / "odd.parquet", ARENA_PARQUET[name])
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch)
    if loaded is not None:
        assert loaded[0] == loaded[1]


def test_most_odd_rows_are_parquet_files_and_plain_arena_parquet_is_taken(tmp_path, monkeypatch):
    assert len(ARENA_PARQUET) >= 15  # the sweep above covers most odd rows, not a handful
    rows = [battle(i % 4, judge=f"u{i % 2}", winner=("model_a", "model_b", "tie")[i % 3], turn=i % 2 + 1)
            for i in range(12)] + [battle(5, conversation_a=MULTI, conversation_b=MULTI)]
    bulk, by_row, calls = load_both_ways([write_parquet(tmp_path / "arena.parquet", rows)], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]


# Columns whose types Python reads in ways the scan does not write in SQL: the file goes row by row.
lm = json.loads((FIXTURES / "lmarena_140k.json").read_text())
DECLINED = {
    "a float attribute": [dict(r, evaluation_order=1.0) for r in lm],
    "a float tag": [dict(r, category_tag={"if_v0.1": {"score": 4.5}}) for r in lm],
    "a list attribute": [dict(r, language=["en"]) for r in lm],
    "tags as JSON text": [dict(r, category_tag=json.dumps(r["category_tag"])) for r in lm],
    "conversation as JSON text": [dict(r, conversation_a=json.dumps(r["conversation_a"])) for r in lm],
    "winner as a number": [dict(r, winner=1) for r in lm],
    "a model as a float": [dict(r, model_a=1.5) for r in lm],
    "a tag named like a column": [dict(r, category_tag={"query": True}) for r in lm],
    "a blank tag name": [dict(r, category_tag={" ": True}) for r in lm],
    "tags alike but for case": [dict(r, category_tag={"math": {"Hard": True, "hard": False}}) for r in lm],
    "a tag named like an attribute but for case": [dict(r, category_tag={"Language": "x"}) for r in lm],
    "columns alike but for case": [dict(r, Winner="model_b") for r in lm],
    "content as one part object": [dict(r, conversation_b=[{"role": "user", "content": {"type": "text", "text": "q"}}])
                                   for r in lm],
}


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_declined_schemas_go_row_by_row(name, tmp_path, monkeypatch):
    path = write_parquet(tmp_path / "declined.parquet", DECLINED[name])
    scan = parquet_scan.for_layout(lmarena, rater="judge_hash", tags=lmarena.TAGS)
    assert scan.staging(path, list(DECLINED[name][0]), Options()) is None
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch)
    if loaded is not None:
        bulk, by_row, calls = loaded
        assert bulk == by_row and calls == [False]


def test_whole_number_ids_and_categories_are_taken(tmp_path, monkeypatch):
    """Integer ids and models, and a dictionary-encoded column (pandas' categories), read as Python reads them."""
    rows = [dict(r, id=1000 + k, evaluation_session_id=f"s{k % 2}") for k, r in enumerate(lm)]
    table = pa.Table.from_pylist(rows)
    column = table.schema.get_field_index("model_a")
    table = table.set_column(column, "model_a", table.column("model_a").dictionary_encode())
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]


def test_shards_with_other_tags_are_taken_together(tmp_path, monkeypatch):
    """A shard whose tag is null throughout has no such column: its pairs have no such attribute."""
    folder = tmp_path / "shards"
    folder.mkdir()
    tail = [dict(r, conv_metadata=None) for r in lm[2:]]  # (pyarrow cannot write an empty struct)
    write_parquet(folder / "a.parquet", lm[:2])
    write_parquet(folder / "b.parquet", [dict(r, category_tag={"math_v0.1": {"math": True}}, language=None)
                                         for r in tail])
    bulk, by_row, calls = load_both_ways([folder], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]
    (tmp_path / "declined").mkdir()
    write_parquet(folder / "b.parquet", [dict(r, evaluation_order=1.5) for r in tail])
    bulk, by_row, calls = load_both_ways([folder], tmp_path / "declined", monkeypatch)
    assert bulk == by_row and calls == [False]  # one shard the scan declines: all of them row by row
