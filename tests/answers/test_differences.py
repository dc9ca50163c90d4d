"""How two judges differ: the judge_difference view and its ranking (pipeline/answers/differences.py)."""

from __future__ import annotations

import numpy as np
import pytest
from answers_sim import draw_labels, random_battles, write_db
from dbquery import rows as query
from scipy.special import ndtr
from typer.testing import CliRunner

from pipeline.store import db as dbmod
from pipeline.cli import app
from pipeline.answers.differences import DifferenceError, judge_difference, prob_first
from pipeline.model.fitting import fit_database
from pipeline.properties.paper import PROPERTY_NAMES

TARGET = "no severe errors"


@pytest.fixture(scope="module")
def fitted_sim(tmp_path_factory):
    """judge-a and judge-b differ on TARGET only (by 1.0); twin-1 and twin-2 share one profile."""
    rng = np.random.default_rng(21)
    n = 3000
    X = rng.choice([-1, 0, 0, 1], size=(n, len(PROPERTY_NAMES)))
    w = rng.normal(0, 0.3, len(PROPERTY_NAMES))
    w_b = w.copy()
    w_b[PROPERTY_NAMES.index(TARGET)] += 1.0
    labels = {"judge-a": draw_labels(rng, X @ w), "judge-b": draw_labels(rng, X @ w_b),
              "twin-1": draw_labels(rng, X @ w), "twin-2": draw_labels(rng, X @ w)}
    m1, m2 = random_battles(rng, ["x", "y", "z"], n)
    db = write_db(tmp_path_factory.mktemp("diff") / "sim.duckdb", m1, m2,
                  features={p: X[:, i] for i, p in enumerate(PROPERTY_NAMES)}, labels=labels)
    fit_database(db, groups=["All"])
    return db


def test_the_one_differing_property_comes_first(fitted_sim):
    df = judge_difference(fitted_sim, "judge-a", "judge-b", group="All")
    assert len(df) == 29 and list(df["rank"]) == list(range(1, 30))
    top = df.iloc[0]
    assert top["property"] == TARGET and top["difference"] < -0.5
    assert 1 - top["prob_positive"] > 0.99 and top["ci_high"] < 0      # surely negative
    assert top["prob_first"] > 0.99                                     # and surely the largest


def test_identical_judges_give_intervals_around_zero(fitted_sim):
    df = judge_difference(fitted_sim, "twin-1", "twin-2", group="All")
    covers = ((df["ci_low"] < 0) & (df["ci_high"] > 0)).sum()
    assert covers >= 26                                  # 95% intervals: about 27.5 of 29 expected
    assert np.allclose(df["ci_high"] - df["difference"], df["difference"] - df["ci_low"])
    assert df["prob_first"].max() < 0.5                  # no property stands out


def test_prob_positive_is_the_normal_cdf(fitted_sim):
    got = query(fitted_sim, "SELECT difference, sd, prob_positive, ci_low, ci_high FROM judge_difference")
    d, sd, p, lo, hi = map(np.array, zip(*got))
    assert np.max(np.abs(p - ndtr(d / sd))) < 1e-7
    assert np.allclose(lo, d - 1.959963984540054 * sd) and np.allclose(hi, d + 1.959963984540054 * sd)


def test_sql_normal_cdf_is_accurate_far_into_the_tails(tmp_path):
    """The erfc approximation of the view, against scipy, on weights placed to give z from -9 to 9."""
    z = np.linspace(-9, 9, 721)
    db = tmp_path / "z.duckdb"
    with dbmod.writing(db) as con:
        con.executemany("INSERT INTO fits (judge, group_name, property_set, property, weight, sd) "
                        "VALUES (?, 'g', 'paper', ?, ?, ?)",
                        [("a", f"p{i}", float(v) * 0.5, 0.3) for i, v in enumerate(z)]
                        + [("b", f"p{i}", 0.0, 0.4) for i in range(len(z))])
    got = query(db, "SELECT difference / sd, prob_positive FROM judge_difference WHERE judge_a = 'a'")
    zz, p = map(np.array, zip(*got))
    ref = ndtr(zz)
    assert np.max(np.abs(p - ref)) < 1e-7
    lower = zz < 0                                         # small tail probabilities: relative error too
    assert np.max(np.abs(p[lower] - ref[lower]) / ref[lower]) < 1e-6


def test_imported_fits_have_differences_without_intervals(tmp_path):
    db = tmp_path / "imp.duckdb"
    with dbmod.writing(db) as con:
        con.executemany("INSERT INTO fits (judge, group_name, property_set, property, weight, sd, source) "
                        "VALUES (?, 'Advice', 'paper', 'clear', ?, NULL, 'fitted_paras:x')", [("p", 0.4), ("q", 0.1)])
    (d, lo, hi, p), = query(db, "SELECT difference, ci_low, ci_high, prob_positive FROM judge_difference "
                               "WHERE judge_a = 'p'")
    assert abs(d - 0.3) < 1e-12 and lo is None and hi is None and p is None
    df = judge_difference(db, "p", "q", group="Advice")
    assert df["prob_first"].isna().all()


def test_release_headline_findings_read_off_the_view(imported_db):
    """On the paper's published weights: humans are less sensitive to errors than GPT-4-Turbo,
    dislike admitted limits more, and like supported stances more."""
    if imported_db is None:
        pytest.skip("needs ../shared/reference/fitted_paras")
    rows = dict(query(imported_db, "SELECT group_name || ' / ' || property, difference FROM judge_difference "
                                   "WHERE judge_a = 'human' AND judge_b = 'gpt-4-1106-preview'"))
    for group in ("Advice", "Knowledge-aware", "Exam Questions"):
        assert rows[f"{group} / no severe errors"] < 0
    assert rows["Show Explicit Subjective Stances / admit limits"] < 0
    assert rows["Show Explicit Subjective Stances / support stances"] > 0


def test_errors_name_what_is_missing(fitted_sim):
    with pytest.raises(DifferenceError, match="two different judges"):
        judge_difference(fitted_sim, "judge-a", "judge-a")
    with pytest.raises(DifferenceError, match="'nobody' has no fit in group 'All'"):
        judge_difference(fitted_sim, "judge-a", "nobody")
    with pytest.raises(DifferenceError, match="property set 'style'"):
        judge_difference(fitted_sim, "judge-a", "judge-b", property_set="style")


def test_prob_first_by_simulation_matches_a_clear_case():
    import pandas as pd

    df = pd.DataFrame({"property": ["big", "small", "tiny"], "difference": [2.0, 0.5, 0.0], "sd": [0.1, 0.1, 0.1]})
    p = prob_first(df)
    assert p[0] > 0.999 and p[1:].sum() < 0.001


def test_cli_differ(fitted_sim):
    out = CliRunner().invoke(app, ["differ", "judge-a", "judge-b", "--db", str(fitted_sim), "--top", "3"])
    assert out.exit_code == 0, out.output
    assert TARGET in out.output.splitlines()[4]            # the first row of the table
    bad = CliRunner().invoke(app, ["differ", "judge-a", "nobody", "--db", str(fitted_sim)])
    assert bad.exit_code == 1 and "no fit" in bad.output
