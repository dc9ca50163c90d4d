"""UltraFeedback's binarized parquet sorted in SQL (formats/ultrafeedback_scan.py): the same tables
and report as the row-by-row path, on generated files (roles, system messages, multi-turn,
empty replies, the prompt override, equal and missing scores, repeats across two files), on
odd rows (read row by row, or refused alike) and on schemas the scan declines."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fuzzing import SLOW
from hypothesis import given, settings
from hypothesis import strategies as st
from test_raw_bulk import load_both_ways, loaded_or_refused_alike

from pipeline.ingest.formats import Options

MESSAGE = pa.struct([("content", pa.string()), ("role", pa.string())])
SCHEMA = pa.schema([("prompt", pa.string()), ("prompt_id", pa.string()), ("chosen", pa.list_(MESSAGE)),
                    ("rejected", pa.list_(MESSAGE)), ("score_chosen", pa.float64()), ("score_rejected", pa.float64()),
                    ("source", pa.string())])


def conv(*turns) -> list[dict]:
    return [{"role": role, "content": content} for role, content in turns]


def row(i: int, query="q", chosen="good", rejected="bad", s_c=8.0, s_r=6.5, prompt=None, before=(), **over) -> dict:
    head = [*before, ("user", query)]
    out = {"prompt": query if prompt is None else prompt, "prompt_id": f"p{i}",
           "chosen": conv(*head, ("assistant", chosen)), "rejected": conv(*head, ("assistant", rejected)),
           "score_chosen": s_c, "score_rejected": s_r, "source": f"src{i % 2}"}
    out.update(over)
    return out


def write(path: Path, rows: list[dict], schema: pa.Schema = SCHEMA) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


SCORES = [8.0, 6.5, 10.0, 1.25, None, math.nan, 7.123456789, 0.0]
generated = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["good", "ok", " ", ""]),
                               st.sampled_from(["bad", "meh"]), st.sampled_from(SCORES), st.sampled_from(SCORES),
                               st.sampled_from([None, "", "P"]),
                               st.sampled_from([(), (("system", "be nice"),), (("user", "hi"), ("assistant", "yo"))])),
                     min_size=1, max_size=10)


def _row(i, query, chosen, rejected, s_c, s_r, prompt, before) -> dict:
    return row(i, query=f"q{query}", chosen=chosen, rejected=rejected, s_c=s_c, s_r=s_r, prompt=prompt, before=before)


@pytest.mark.slow
@settings(SLOW, max_examples=12)
@given(first=generated, second=generated, multi_turn=st.booleans())
def test_generated_files_store_the_same_both_ways(first, second, multi_turn, tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("bulkuf")
    files = [write(folder / f"train_prefs-{k}.parquet", [_row(i, *r) for i, r in enumerate(rows)])
             for k, rows in enumerate((first, second))]
    bulk, by_row, calls = load_both_ways(files, folder, monkeypatch, options=Options(multi_turn=multi_turn))
    assert bulk == by_row
    assert calls == [True, True]


def test_ties_the_prompt_and_multi_turn_both_ways(tmp_path, monkeypatch):
    rows = [row(0), row(1, s_c=7.0, s_r=7.0), row(2, prompt="the prompt"), row(3, prompt=""),
            row(4, before=(("user", "hi"), ("assistant", "yo"))), row(5, chosen=" "), row(6, s_c=None),
            row(7, before=(("system", "sys"),)), row(8, query="q0"), row(9, before=(("user", None), ("assistant", "yo")))]
    path = write(tmp_path / "prefs.parquet", rows)
    for multi_turn in (False, True):
        folder = tmp_path / f"multi_turn_{multi_turn}"
        folder.mkdir()
        bulk, by_row, calls = load_both_ways([path], folder, monkeypatch, options=Options(multi_turn=multi_turn))
        assert bulk == by_row and calls == [True]


ODD = {"role unknown": {"chosen": conv(("user", "q"), ("robot", "a"))},
       "last not the assistant": {"rejected": conv(("user", "q"), ("assistant", "a"), ("user", "b"))},
       "empty conversation": {"chosen": []}, "no conversation": {"chosen": None},
       "role missing": {"rejected": [{"role": None, "content": "a"}]},
       "infinite score": {"score_chosen": math.inf},
       "infinite score, empty reply": {"score_chosen": math.inf, "chosen": conv(("user", "q"), ("assistant", ""))},
       "role padded": {"chosen": conv((" user", "q"), ("assistant", "a"))}}
TAKEN = {"infinite score, empty reply"}  # plain after all: Python skips the row before it reads a score


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_rows_store_the_same_both_ways_or_are_refused_alike(name, tmp_path, monkeypatch):
    path = write(tmp_path / "odd.parquet", [row(0), {**row(1, query="q1"), **ODD[name]}])
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch)
    if loaded is not None:
        bulk, by_row, calls = loaded
        assert bulk == by_row and calls == [name in TAKEN]


DECLINED = {
    "scores as text": pa.schema([f if not f.name.startswith("score") else pa.field(f.name, pa.string())
                                 for f in SCHEMA]),
    "chosen as text": pa.schema([f if f.name not in ("chosen", "rejected") else pa.field(f.name, pa.string())
                                 for f in SCHEMA]),
}


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_schemas_the_scan_cannot_read_go_row_by_row(name, tmp_path, monkeypatch):
    schema = DECLINED[name]
    rows = [row(i, query=f"q{i}") for i in range(3)]
    if name == "scores as text":
        rows = [{**r, "score_chosen": "8", "score_rejected": "6.5"} for r in rows]
    else:
        rows = [{**r, "chosen": "good", "rejected": "bad"} for r in rows]
    path = write(tmp_path / "declined.parquet", rows, schema)
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [False]
