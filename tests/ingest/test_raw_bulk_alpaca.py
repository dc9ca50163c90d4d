"""AlpacaEval annotations sorted in SQL (formats/alpaca_eval_scan.py), a judge per row: the same
tables and report as the row-by-row path for generated files (lists and JSON lines, several
annotators, ties, probabilities, repeats and conflicts, loads on top of each other), for the
real sample, and for values Python must judge (read row by row, or refused alike)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from fuzzing import SLOW
from hypothesis import given, settings
from hypothesis import strategies as st
from test_raw_bulk import load_both_ways, loaded_or_refused_alike

from pipeline.ingest.formats import Options


def annotation(i: int, instruction="q", out1="a", out2="b", gen1="m1", gen2="m2", annotator="gpt4",
               preference=1, **over) -> dict:
    row = {"instruction": instruction, "output_1": out1, "generator_1": gen1, "output_2": out2, "generator_2": gen2,
           "annotator": annotator, "preference": preference, "dataset": f"d{i % 2}"}
    row.update(over)
    return row


def write(path: Path, rows: list[dict]) -> Path:
    """A .json list (indented, as AlpacaEval writes it), JSON lines, or either gzipped, by the name."""
    text = ("".join(json.dumps(r) + "\n" for r in rows) if ".jsonl" in path.name
            else json.dumps(rows, indent=2))
    path.write_bytes(gzip.compress(text.encode()) if path.name.endswith(".gz") else text.encode())
    return path


PREFERENCES = [1, 2, 1.5, 0, 1.0, 2.0, 1.25, 1.9, "1.75", "2", "", None]
annotations = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["a", "b", " "]), st.sampled_from(["b", "c"]),
                                 st.sampled_from(["m1", "m2", None]), st.sampled_from(["m2", "m3"]),
                                 st.sampled_from(["gpt4", "claude", "", None, " GPT4 "]),
                                 st.sampled_from(PREFERENCES), st.sampled_from([None, 0, 1])),
                       min_size=1, max_size=12)


def _row(i, query, out1, out2, gen1, gen2, annotator, preference, index) -> dict:
    row = annotation(i, instruction=f"q{query}", out1=out1, out2=out2, gen1=gen1, gen2=gen2, annotator=annotator,
                     preference=preference)
    if index is not None:
        row["annotator_index"] = index
    return row


@pytest.mark.slow
@settings(SLOW, max_examples=12)
@given(first=annotations, second=annotations, name=st.sampled_from(["a.json", "a.jsonl", "a.json.gz"]))
def test_generated_annotations_store_the_same_both_ways(first, second, name, tmp_path_factory, monkeypatch):
    """Two files loaded in turn: the second meets the first's battles and votes, judge by judge."""
    folder = tmp_path_factory.mktemp("bulkalpaca")
    files = [write(folder / f"{k}{name}", [_row(i, *r) for i, r in enumerate(rows)])
             for k, rows in enumerate((first, second))]
    bulk, by_row, calls = load_both_ways(files, folder, monkeypatch, options=Options(judge="crowd"))
    assert bulk == by_row
    assert calls == [True, True]


def test_several_annotators_ties_and_probabilities_both_ways(tmp_path, monkeypatch):
    rows = [annotation(0, preference=1), annotation(1, annotator="claude", preference=2),   # two judges, one battle
            annotation(2, preference=2),                                                   # gpt4 conflicts
            annotation(3, annotator="claude", preference=2, annotator_index=1),            # another rater
            annotation(4, instruction="q2", preference=1.25), annotation(5, instruction="q3", preference="1.75"),
            annotation(6, instruction="q4", preference=1.5), annotation(7, instruction="q5", preference=0),
            annotation(8, instruction="q6", annotator=None, preference=1),                 # the load's judge
            annotation(9, instruction="q7", annotator=" GPT4 ", preference=2),             # stored as GPT4
            annotation(10, instruction="q8", preference=None), annotation(11, instruction="q9", out2=" ")]
    path = write(tmp_path / "annotations.json", rows)
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]
    records, new, existing, doubled, labels, judges, skipped, left_out = bulk[0]
    assert judges == ("GPT4", "claude", "gpt4", "human")
    assert (records, labels) == (12, 6)


def test_the_real_sample_stores_the_same_both_ways(shared_real, tmp_path, monkeypatch):
    """AlpacaEval's own annotations (gzipped JSON lists, read by DuckDB as they are)."""
    folder = tmp_path / "alpaca"
    folder.mkdir()
    for path in sorted((shared_real / "alpaca-eval").glob("gpt-3.5-turbo-1106*.annotations.json.gz")):
        shutil.copyfile(path, folder / path.name)
    bulk, by_row, calls = load_both_ways([folder], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]
    assert bulk[0][0] == 3 * 805


# Values Python must judge, or refuse: the file goes row by row, or both paths refuse it alike.
ODD = {"preference true": {"preference": True}, "preference 3": {"preference": 3},
       "preference 0.5": {"preference": 0.5},
       "preference a list": {"preference": [1]}, "preference padded": {"preference": " 1.5"},
       "preference nan": {"preference": "nan"}, "preference huge": {"preference": 10 ** 40},
       "preference 1e0": {"preference": 1e0}, "preference exponent": {"preference": 1.5e0},
       "annotator an object": {"annotator": {"a": 1}}, "annotator a float": {"annotator": 1.5},
       "annotator a number": {"annotator": 7}, "annotator refused": {"annotator": "\u200b"},
       "annotator index a float": {"annotator_index": 0.5}, "dataset a boolean": {"dataset": True},
       "dataset empty": {"dataset": ""}, "output a list": {"output_1": [{"type": "text", "text": "hi"}]},
       "generator a boolean": {"generator_2": False},
       "empty output beside a bad preference": {"output_2": "", "preference": True}}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_values_store_the_same_both_ways_or_are_refused_alike(name, tmp_path, monkeypatch):
    rows = [annotation(0), {**annotation(1, instruction="q2"), **ODD[name]}]
    loaded = loaded_or_refused_alike(write(tmp_path / "odd.json", rows), tmp_path, monkeypatch)
    if loaded is not None:
        bulk, by_row, _ = loaded
        assert bulk == by_row
