"""Storing judges: metadata checked, replace and remove, the CLI, a round trip (pipeline.judges.store)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import SHARED_REFERENCE
from dbquery import rows
from judges_db import N, flat, small_db, small_template, write  # noqa: F401 - fixtures
from pipeline.cli import app
from pipeline.judges import JudgeError, JudgeExists, UnknownJudge, add_judge, parse_labels_file, remove_judge

HUMAN_LABELS = SHARED_REFERENCE / "human_preference_labels.json"


def test_metadata_is_checked(small_db):
    with pytest.raises(JudgeError, match="kind 'robot'"):
        add_judge("j", [(0, 1)], db=small_db, kind="robot", fit=False)
    with pytest.raises(JudgeError, match="positive number"):
        add_judge("j", [(0, 1)], db=small_db, size_b=-3, fit=False)
    with pytest.raises(JudgeError, match="needs a name"):
        add_judge("  ", [(0, 1)], db=small_db, fit=False)
    with pytest.raises(JudgeError, match="no pair with this id"):
        add_judge("j", [(999, 1)], db=small_db, fit=False)
    assert rows(small_db, "SELECT count(*) FROM judges WHERE judge = 'j'") == [(0,)]


# ---------------------------------------------------------------- replace and remove


def test_replace_is_explicit_and_remove_takes_everything(small_db, tmp_path):
    first = parse_labels_file(json.dumps(["A"] * N).encode(), "a.json", db=small_db)
    report = add_judge("mine", first, db=small_db, fit=True)
    assert report.fit.fitted >= 1
    fitted = rows(small_db, "SELECT count(*) FROM fits WHERE judge = 'mine'")[0][0]
    assert fitted > 0
    second = parse_labels_file(json.dumps(["B"] * N).encode(), "b.json", db=small_db)
    with pytest.raises(JudgeExists, match="--replace"):
        add_judge("mine", second, db=small_db, fit=False)
    assert rows(small_db, "SELECT DISTINCT preferred FROM labels WHERE judge = 'mine'") == [(1,)]
    report = add_judge("mine", second, db=small_db, replace=True, fit=False)
    assert report.replaced
    assert rows(small_db, "SELECT DISTINCT preferred FROM labels WHERE judge = 'mine'") == [(2,)]
    assert rows(small_db, "SELECT count(*) FROM fits WHERE judge = 'mine'") == [(0,)]  # stale fits went too
    others = rows(small_db, "SELECT count(*) FROM labels WHERE judge != 'mine'")
    removed = remove_judge("mine", db=small_db)
    assert removed["labels"] == N and removed["judges"] == 1
    for table in ("labels", "judges", "fits", "fit_runs"):
        assert rows(small_db, f"SELECT count(*) FROM {table} WHERE judge = 'mine'") == [(0,)]
    assert rows(small_db, "SELECT count(*) FROM labels WHERE judge != 'mine'") == others
    with pytest.raises(UnknownJudge):
        remove_judge("mine", db=small_db)


def test_cli_add_replace_remove(small_db, tmp_path):
    path = write(tmp_path, "l.csv", "pair_id,preferred\n" + "".join(f"{i},A\n" for i in range(N)))
    runner = CliRunner()
    args = ["add-judge", "cli", str(path), "--db", str(small_db), "--kind", "human", "--size", "13", "--no-fit"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "judge 'cli' added: 40 labels" in flat(result.output)
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "already exists" in flat(result.output)
    result = runner.invoke(app, args + ["--replace"])
    assert result.exit_code == 0 and "replaced" in result.output
    assert rows(small_db, "SELECT kind, size_b FROM judges WHERE judge = 'cli'") == [("human", 13.0)]
    result = runner.invoke(app, ["remove-judge", "cli", "--db", str(small_db)])
    assert result.exit_code == 0 and "40 labels rows" in flat(result.output)
    result = runner.invoke(app, ["remove-judge", "cli", "--db", str(small_db)])
    assert result.exit_code == 1 and "no judge named 'cli'" in result.output


# ---------------------------------------------------------------- round trip on the demo database


def test_reference_human_labels_round_trip(demo_db, tmp_path):
    from pipeline.model import fitted_paras

    given = json.loads(HUMAN_LABELS.read_text())
    parsed = parse_labels_file(HUMAN_LABELS, db=demo_db)
    assert parsed.ok and parsed.format == "list" and len(parsed.labels) == len(given) == 5240
    report = add_judge("human-reference", parsed, db=demo_db, kind="human", note="the paper's human labels")
    # every label as given, in dataset order (A = response 1)
    got = rows(demo_db, "SELECT p.source_index, l.preferred FROM labels l JOIN pairs p USING (pair_id) "
                        "WHERE l.judge = 'human-reference' ORDER BY p.source_index")
    assert got == [(i, 1 if c == "A" else 2) for i, c in enumerate(given)]
    assert report.fit.fitted == 17 and not report.fit.skipped  # 16 groups of the paper, and 'All'
    # the weights survive the original's fitted_paras format, out and back in
    files = fitted_paras.export_fits(tmp_path / "paras", db=demo_db, judges=["human-reference"])
    assert len(files) == 17
    fitted_paras.import_fits(tmp_path / "paras", db=demo_db, prefix="again-")
    sql = ("SELECT group_name, property, weight FROM fits WHERE judge = ? ORDER BY group_name, property")
    ours, back = rows(demo_db, sql, ["human-reference"]), rows(demo_db, sql, ["again-human-reference"])
    assert len(ours) == 17 * 29 and back == ours
