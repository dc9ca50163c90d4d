"""Tie votes are kept at load in the `ties` table (m0005), for boards that count a tie as half a win."""

from __future__ import annotations

import json

from dbquery import rows as query
from typer.testing import CliRunner

from pipeline.cli import app


def _load(tmp_path, name: str, content: str):
    path = tmp_path / name
    path.write_text(content)
    db = tmp_path / "t.duckdb"
    res = CliRunner().invoke(app, ["load", str(path), "--db", str(db)])
    assert res.exit_code == 0, res.output
    return db, res.output


def test_alpaca_eval_ties_are_kept_with_their_judge_and_models(tmp_path):
    rows = [{"instruction": f"q{i}", "output_1": f"a{i}", "generator_1": "ref", "output_2": f"b{i}",
             "generator_2": "m", "annotator": "gpt4", "preference": p} for i, p in enumerate([1.0, 2.0, 1.5, 0])]
    db, output = _load(tmp_path, "annotations.json", json.dumps(rows))
    assert "2 rows left out: tie" in output                      # still counted as skipped rows
    assert query(db, "SELECT source, judge, model_1, model_2, pair_id FROM ties ORDER BY ALL") == \
        [("annotations.json", "gpt4", "ref", "m", None)] * 2
    assert query(db, "SELECT count(*) FROM labels")[0][0] == 2  # labels hold only choices


def test_a_tie_on_a_stored_pair_names_it(tmp_path):
    data = {"metadata": {"version": "2.0"},
            "annotators": {"h1": {"name": "Human", "type": "human"}, "h2": {"name": "Other", "type": "human"}},
            "comparisons": [{"id": "c1", "prompt": "Describe a lighthouse.",
                             "response_a": {"text": "A tower.", "model": "x"},
                             "response_b": {"text": "A light.", "model": "y"},
                             "annotations": {"h1": {"pref": "a"}, "h2": {"pref": "tie"}}},
                            {"id": "c2", "prompt": "Name a colour.", "response_a": {"text": "Red.", "model": "y"},
                             "response_b": {"text": "Blue.", "model": "x"}, "annotations": {"h2": {"pref": "b"}}}]}
    db, _ = _load(tmp_path, "forensics.json", json.dumps(data))
    pid = query(db, "SELECT pair_id FROM pairs WHERE query = 'Describe a lighthouse.'")[0][0]
    assert query(db, "SELECT judge, model_1, model_2, pair_id FROM ties") == [("Other", "x", "y", pid)]
    res = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--ties", "half", "--min-battles", "1"])
    assert res.exit_code == 0, res.output
    assert query(db, "SELECT judge, ties, n_ties FROM leaderboard_runs ORDER BY judge") == \
        [("Human", "half", 0), ("Other", "half", 1)]
