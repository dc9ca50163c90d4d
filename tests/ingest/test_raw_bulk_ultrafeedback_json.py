"""UltraFeedback's JSON forms sorted in SQL (formats/ultrafeedback_scan.py, `JSONL` and `JSON`):
the binarized rows as JSON lines or a JSON list, and openbmb's `completions`. The same tables
and report as the row-by-row path on generated files (scores of every kind, ties, blank and
missing replies, multi-turn, repeats across two files) and on odd rows, which go row by row or
are refused alike."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from fuzzing import SLOW
from hypothesis import given, settings
from hypothesis import strategies as st
from test_raw_bulk import load_both_ways, loaded_or_refused_alike
from test_raw_bulk_ultrafeedback import conv, row

from pipeline.ingest.formats import Options


def write(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".json":  # a JSON list, indented as datasets publish them
        path.write_text(json.dumps(rows, indent=2))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def completion(model, response, score, **extra) -> dict:
    return {"model": model, "response": response, "overall_score": score, "annotations": {"helpfulness": {"Rating": "4"}},
            **extra}


def openbmb(i: int, instruction="q", completions=(), **over) -> dict:
    out = {"source": f"src{i % 2}", "instruction": instruction, "models": [c["model"] for c in completions],
           "completions": list(completions), "correct_answers": ["None"]}
    out.update(over)
    return out


# Few texts, scores and models, so rows repeat pairs, tie and skip.
SCORES = [8, 6.5, 10.0, 1.25, None, 7.123456789, 0, 12345678901234567890]
binarized = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["good", "ok", " ", ""]), st.sampled_from(["bad", "meh"]),
                               st.sampled_from(SCORES), st.sampled_from(SCORES), st.sampled_from([None, "", "P"]),
                               st.sampled_from([(), (("system", "be nice"),), (("user", "hi"), ("assistant", "yo")),
                                                (("user", None), ("assistant", "yo"))])),
                     min_size=1, max_size=10)
completions = st.lists(st.tuples(st.integers(0, 2),
                                 st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3", 7, None]),
                                                    st.sampled_from(["r1", "r2", " ", "", None, "\t\u2028\x1c", "\u200b", "\\t"]),
                                                    st.sampled_from(SCORES)), max_size=4)),
                       min_size=1, max_size=10)


def _binarized(i, query, chosen, rejected, s_c, s_r, prompt, before) -> dict:
    return row(i, query=f"q{query}", chosen=chosen, rejected=rejected, s_c=s_c, s_r=s_r, prompt=prompt, before=before)


def _openbmb(i, query, done) -> dict:
    return openbmb(i, instruction=f"q{query}", completions=[completion(*c) for c in done])


@pytest.mark.slow
@settings(SLOW, max_examples=12)
@given(first=binarized, second=binarized, multi_turn=st.booleans(), suffix=st.sampled_from([".jsonl", ".json"]))
def test_generated_binarized_rows_store_the_same_both_ways(first, second, multi_turn, suffix, tmp_path_factory,
                                                           monkeypatch):
    folder = tmp_path_factory.mktemp("bulkufj")
    files = [write(folder / f"prefs-{k}{suffix}", [_binarized(i, *r) for i, r in enumerate(rows)])
             for k, rows in enumerate((first, second))]
    bulk, by_row, calls = load_both_ways(files, folder, monkeypatch, options=Options(multi_turn=multi_turn))
    assert bulk == by_row
    assert calls == [True, True]


@pytest.mark.slow
@settings(SLOW, max_examples=12)
@given(first=completions, second=completions, suffix=st.sampled_from([".jsonl", ".json"]))
def test_generated_completions_store_the_same_both_ways(first, second, suffix, tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("bulkufc")
    files = [write(folder / f"evol-{k}{suffix}", [_openbmb(i, *r) for i, r in enumerate(rows)])
             for k, rows in enumerate((first, second))]
    bulk, by_row, calls = load_both_ways(files, folder, monkeypatch)
    assert bulk == by_row
    assert calls == [True, True]


def test_the_best_against_the_worst_first_of_each_score_both_ways(tmp_path, monkeypatch):
    rows = [openbmb(0, completions=[completion("a", "r1", 7.5), completion("b", "r2", 3), completion("c", "r3", 7.5),
                                    completion("d", "r4", 3)]),
            openbmb(1, completions=[completion("a", "same", 5), completion("b", "other", 5)]),   # a tie
            openbmb(2, completions=[completion("a", "only", 5), completion("b", "  ", 9)]),     # one scored: empty
            openbmb(3, completions=[]), openbmb(4, instruction=None, completions=[completion("a", "x", 1),
                                                                                  completion(None, "y", 2)])]
    path = write(tmp_path / "evol.jsonl", rows)
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]
    records, new, *_ = bulk[0]
    assert (records, new) == (5, 2)  # the tie is a vote left out, as the empty rows are
    with duckdb.connect(str(tmp_path / "bulk.duckdb"), read_only=True) as con:
        pairs = con.execute("SELECT query, model_1, model_2, response_1, response_2 FROM pairs ORDER BY pair_id").fetchall()
    assert [({m1, m2}, {r1, r2}) for _, m1, m2, r1, r2 in pairs] == [({"a", "b"}, {"r1", "r2"}), ({"a", None}, {"x", "y"})]
    assert pairs[1][0] == ""  # a null instruction is an empty query, as Python reads it


ODD = {
    # binarized rows Python refuses or reads otherwise than the scan would: row by row
    "content a number": {"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": 5}]},
    "content as parts": {"chosen": [{"role": "user", "content": "q"},
                                    {"role": "assistant", "content": [{"type": "text", "text": "a"}]}]},
    "chosen as text": {"chosen": "good", "rejected": "bad"},
    "score as text": {"score_chosen": "8"},
    "score a boolean": {"score_rejected": True},
    "score too large": {"score_chosen": 1e400},
    "prompt a number": {"prompt": 5},
    "prompt_id a list": {"prompt_id": ["x"]},
    "role unknown": {"chosen": conv(("user", "q"), ("robot", "a"))},
    "last not the assistant": {"rejected": conv(("user", "q"), ("assistant", "a"), ("user", "b"))},
    "no conversation": {"chosen": None},
    "negative zero scores": {"score_chosen": -0.0, "score_rejected": 0.0},
}
ODD_COMPLETIONS = {
    "completions an object": {"completions": {"model": "a"}},
    "a completion a string": {"completions": ["a", completion("b", "r", 1)]},
    "response a number": {"completions": [completion("a", 5, 1), completion("b", "r", 2)]},
    "response a list": {"completions": [completion("a", "r1", 1), completion("b", ["r"], 2)]},
    "model a list": {"completions": [completion(["a"], "r1", 1), completion("b", "r", 2)]},
    "score as text": {"completions": [completion("a", "r1", "7"), completion("b", "r", 2)]},
    "instruction an object": {"instruction": {"text": "q"}},
    "no completions": {"completions": None},
    "a binarized row among them": row(9),
}
TAKEN = {"negative zero scores"}  # plain after all


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])  # contents: a line check for one, a SQL check for the other
@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_binarized_rows_store_the_same_both_ways_or_are_refused_alike(name, suffix, tmp_path, monkeypatch):
    path = write(tmp_path / f"odd{suffix}", [row(0), {**row(1, query="q1"), **ODD[name]}])
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch)
    if loaded is not None:
        bulk, by_row, calls = loaded
        assert bulk == by_row and calls == [name in TAKEN]


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])  # replies: a line check for one, a SQL check for the other
@pytest.mark.parametrize("name", sorted(ODD_COMPLETIONS))
def test_odd_completions_store_the_same_both_ways_or_are_refused_alike(name, suffix, tmp_path, monkeypatch):
    first = openbmb(0, completions=[completion("a", "r1", 7), completion("b", "r2", 3)])
    odd = ODD_COMPLETIONS[name] if "prompt_id" in ODD_COMPLETIONS[name] else {**openbmb(1, "q1"), **ODD_COMPLETIONS[name]}
    path = write(tmp_path / f"odd{suffix}", [first, odd])
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch)
    if loaded is not None:
        bulk, by_row, calls = loaded
        assert bulk == by_row and calls == [False]
