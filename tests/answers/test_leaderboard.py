"""Leaderboards: Bradley-Terry strengths, raw and controlled (pipeline/answers/leaderboard.py, bradley_terry.py)."""

from __future__ import annotations

import numpy as np
import pytest
from answers_sim import draw_labels, random_battles, write_db
from dbquery import rows as query
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from pipeline.model import bradley_terry as bt
from pipeline.cli import app
from pipeline.answers.leaderboard import LeaderboardError, build_leaderboard

MODELS = [f"model-{c}" for c in "abcdefgh"]
TRUE = dict(zip(MODELS, np.linspace(1.2, -1.2, len(MODELS))))   # a strongest, h weakest
VERBOSE = "model-f"                                                # true rank 6 of 8


def _sklearn_strengths(m1, m2, y, models):
    """Independent Bradley-Terry fit: unpenalised logistic regression, first model as reference, centred."""
    col = {m: i for i, m in enumerate(models)}
    A = np.zeros((len(y), len(models)))
    A[np.arange(len(y)), [col[m] for m in m1]] += 1
    A[np.arange(len(y)), [col[m] for m in m2]] -= 1
    lr = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(A[:, 1:], y)
    s = np.r_[0.0, lr.coef_[0]]
    return dict(zip(models, s - s.mean()))


@pytest.fixture(scope="module")
def raw_db(tmp_path_factory):
    rng = np.random.default_rng(7)
    m1, m2 = random_battles(rng, MODELS, 3000)
    y = draw_labels(rng, np.array([TRUE[a] - TRUE[b] for a, b in zip(m1, m2)]))
    return write_db(tmp_path_factory.mktemp("lb") / "raw.duckdb", m1, m2, labels={"judge-1": y}), m1, m2, y


@pytest.fixture(scope="module")
def planted_db(tmp_path_factory):
    """The verbose model writes much longer answers and the judge rewards length (weight 1.5)."""
    rng = np.random.default_rng(11)
    m1, m2 = random_battles(rng, MODELS, 6000)
    lengthy = rng.integers(-1, 2, len(m1))                         # others: length differences at random
    lengthy = np.where(m1 == VERBOSE, 1, np.where(m2 == VERBOSE, -1, lengthy))
    logit = np.array([TRUE[a] - TRUE[b] for a, b in zip(m1, m2)]) + 1.5 * lengthy
    labels = {"length-lover": draw_labels(rng, logit)}
    db = write_db(tmp_path_factory.mktemp("lb") / "planted.duckdb", m1, m2, features={"lengthy": lengthy},
                  labels=labels)
    return db


def test_raw_strengths_agree_with_sklearn(raw_db):
    db, m1, m2, y = raw_db
    build_leaderboard(db, control="none", min_battles=1)
    stored = dict(query(db, "SELECT model, strength FROM leaderboard WHERE judge = 'judge-1' AND control = 'none'"))
    ref = _sklearn_strengths(m1, m2, (y == 1).astype(float), MODELS)
    assert set(stored) == set(MODELS)
    assert max(abs(stored[m] - ref[m]) for m in MODELS) < 1e-3
    assert abs(sum(stored.values())) < 1e-9        # centred: sum to zero


def test_intervals_ranks_and_elo(raw_db):
    db, *_ = raw_db
    build_leaderboard(db, control="none", min_battles=1)
    rows = query(db, "SELECT model, strength, ci_low, ci_high, rank, elo, n_battles, rank_change FROM leaderboard "
                     "WHERE judge = 'judge-1' AND control = 'none' ORDER BY rank")
    covered = sum(lo <= TRUE[m] <= hi for m, _, lo, hi, *_ in rows)
    assert covered >= 6                              # 95% intervals cover the truth (8 models)
    assert [r[4] for r in rows] == list(range(1, 9))
    assert all(abs(r[5] - (400 / np.log(10) * r[1] + 1000)) < 1e-9 for r in rows)
    assert sum(r[6] for r in rows) == 2 * 3000 and all(r[7] == 0 for r in rows)
    # Elo meaning: 400 points = 10:1 odds, the same as the log-odds strengths
    (s1, e1), (s2, e2) = [(r[1], r[5]) for r in rows[:2]]
    assert abs(1 / (1 + np.exp(-(s1 - s2))) - 1 / (1 + 10 ** (-(e1 - e2) / 400))) < 1e-12
    run = query(db, "SELECT n_battles, n_models, n_models_left_out, ci_method FROM leaderboard_runs "
                    "WHERE judge = 'judge-1' AND control = 'none'")[0]
    assert run[:3] == (3000, 8, 0) and "Hessian" in run[3]


def test_planted_length_control_recovers_the_true_order(planted_db):
    report = build_leaderboard(planted_db, control="lengthy", min_battles=1)
    truth = [TRUE[m] for m in MODELS]
    raw = report.board("length-lover", "none").result.by_model()
    ctl_board = report.board("length-lover", "lengthy")
    ctl = ctl_board.result.by_model()
    raw_rank = {m: r for m, r in zip(report.board("length-lover", "none").result.models,
                                     report.board("length-lover", "none").result.rank)}
    assert raw_rank[VERBOSE] <= 3                                 # length lifts it from its true 6th place
    assert spearmanr(truth, [raw[m] for m in MODELS]).statistic < 0.95
    assert spearmanr(truth, [ctl[m] for m in MODELS]).statistic >= 0.95
    w, (lo, hi) = ctl_board.result.weight[0], [x[0] for x in ctl_board.result.weight_ci]
    assert lo < 1.5 < hi and abs(w - 1.5) < 0.2
    moved = dict(query(planted_db, "SELECT model, rank_change FROM leaderboard WHERE control = 'lengthy'"))
    assert moved[VERBOSE] <= -2                                   # the control takes places from it
    weights = query(planted_db, "SELECT property, weight, ci_low, ci_high FROM leaderboard_controls")
    assert [r[0] for r in weights] == ["lengthy"] and weights[0][2] < weights[0][1] < weights[0][3]
    # raw stays stored next to the controlled board
    assert query(planted_db, "SELECT DISTINCT control FROM leaderboard ORDER BY 1") == [("lengthy",), ("none",)]


def test_rerun_replaces_rows_and_keeps_other_controls(planted_db):
    build_leaderboard(planted_db, control="lengthy", min_battles=1)
    build_leaderboard(planted_db, control="none", min_battles=1)
    counts = dict(query(planted_db, "SELECT control, count(*) FROM leaderboard GROUP BY 1"))
    assert counts == {"none": 8, "lengthy": 8}


def test_models_with_few_battles_are_left_out_and_counted(tmp_path):
    rng = np.random.default_rng(3)
    m1, m2 = random_battles(rng, MODELS[:4], 400)
    m1 = np.concatenate([m1, ["rare-model"] * 3])
    m2 = np.concatenate([m2, MODELS[:3]])
    y = np.where(rng.random(len(m1)) < 0.5, 1, 2)
    db = write_db(tmp_path / "few.duckdb", m1, m2, labels={"j": y})
    build_leaderboard(db, min_battles=5)
    assert "rare-model" not in {m for (m,) in query(db, "SELECT model FROM leaderboard")}
    n_models, left, note = query(db, "SELECT n_models, n_models_left_out, note FROM leaderboard_runs")[0]
    assert (n_models, left) == (4, 1) and "rare-model (3)" in note


def test_disconnected_models_are_left_out():
    # two separate leagues: strengths across them can't be compared; the larger league stays
    m1 = ["a", "b", "c"] * 20 + ["x"] * 10
    m2 = ["b", "c", "a"] * 20 + ["y"] * 10
    y = [1, 0] * 30 + [1] * 10
    r = bt.fit(m1, m2, y, min_battles=1)
    assert r.models == ["a", "b", "c"] and r.left_out == {"x": 10, "y": 10}


def test_a_model_that_always_wins_gets_a_finite_top_strength():
    rng = np.random.default_rng(0)
    m1, m2 = random_battles(rng, ["p", "q", "r", "s"], 400)
    y = np.where(m1 == "p", 1.0, np.where(m2 == "p", 0.0, (rng.random(400) < 0.5).astype(float)))
    r = bt.fit(m1, m2, y)
    top = r.models.index("p")
    assert r.converged and np.isfinite(r.strength).all() and r.rank[top] == 1
    assert r.se[top] > 2 * np.median(r.se)            # and an honestly wide interval


def test_groups_restrict_the_battles(tmp_path):
    rng = np.random.default_rng(5)
    m1, m2 = random_battles(rng, MODELS, 600)
    in_code = np.arange(600) < 200
    db = write_db(tmp_path / "g.duckdb", m1, m2, labels={"j": np.where(rng.random(600) < 0.5, 1, 2)},
                  groups={"Code": in_code})
    build_leaderboard(db, group="Code", min_battles=1)
    (n,) = query(db, "SELECT n_battles FROM leaderboard_runs WHERE group_name = 'Code'")[0]
    assert n == 200


@pytest.mark.parametrize("kwargs, words", [
    ({"judges": ["nobody"]}, "unknown judge"),
    ({"group": "Nope"}, "unknown group"),
    ({"control": "lengthy,not-a-property"}, "not-a-property"),
    ({"control": "lengthy,"}, "empty name"),
    ({"min_battles": 0}, "--min-battles"),
])
def test_bad_requests_say_why_and_write_nothing(planted_db, kwargs, words):
    before = query(planted_db, "SELECT count(*) FROM leaderboard_runs")
    with pytest.raises(LeaderboardError, match=words):
        build_leaderboard(planted_db, **kwargs)
    assert query(planted_db, "SELECT count(*) FROM leaderboard_runs") == before


def test_cli_prints_the_table_and_fails_in_one_line(planted_db):
    runner = CliRunner()
    ok = runner.invoke(app, ["leaderboard", "--db", str(planted_db), "--control", "lengthy", "--min-battles", "1"])
    assert ok.exit_code == 0, ok.output
    assert VERBOSE in ok.output and "lengthy" in ok.output and "elo" in ok.output
    bad = runner.invoke(app, ["leaderboard", "--db", str(planted_db), "--judge", "[bold]nobody"])
    assert bad.exit_code == 1 and "unknown judge" in bad.output and "Traceback" not in bad.output
    assert "[bold]nobody" in bad.output                # shown as typed, not read as markup


def test_a_control_constant_in_the_battles_is_left_out_and_said(tmp_path):
    rng = np.random.default_rng(9)
    m1, m2 = random_battles(rng, MODELS[:4], 300)
    lengthy = rng.integers(-1, 2, 300)
    db = write_db(tmp_path / "flat.duckdb", m1, m2, features={"lengthy": lengthy, "funny": np.zeros(300)},
                  labels={"j": draw_labels(rng, 0.8 * lengthy)})
    build_leaderboard(db, control="lengthy,funny", min_battles=1)
    rows = dict((p, (w, lo, hi)) for p, w, lo, hi in query(
        db, "SELECT property, weight, ci_low, ci_high FROM leaderboard_controls"))
    assert "funny" not in rows                                     # not 0 +- the prior's width
    assert rows["lengthy"][1] < 0.8 < rows["lengthy"][2]
    dropped = query(db, "SELECT controls_dropped FROM leaderboard_runs WHERE control <> 'none'")[0][0]
    assert dropped == "funny: constant in the battles, left out"


def test_group_all_means_every_pair_even_without_its_rows(tmp_path):
    rng = np.random.default_rng(4)
    m1, m2 = random_battles(rng, MODELS[:3], 90)
    db = write_db(tmp_path / "old.duckdb", m1, m2, labels={"j": np.where(rng.random(90) < 0.5, 1, 2)},
                  groups={"Code": np.arange(90) < 30})
    from pipeline.store import db as dbmod

    with dbmod.writing(db) as con:
        con.execute("DELETE FROM pair_groups WHERE group_name = 'All'")   # a file loaded before 'All' existed
    build_leaderboard(db, min_battles=1)
    assert query(db, "SELECT n_battles FROM leaderboard_runs WHERE group_name = 'All'") == [(90,)]


def test_weights_without_labels_have_no_leaderboard(imported_db):
    if imported_db is None:
        pytest.skip("needs ../shared/reference/fitted_paras")
    with pytest.raises(LeaderboardError, match="no judge has labels"):
        build_leaderboard(imported_db, store=False)
