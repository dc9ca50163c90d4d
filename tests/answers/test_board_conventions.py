"""Board conventions (issue 17): ties, interval methods, control forms, held-out losses, degenerate controls
(pipeline/answers/leaderboard.py, board_controls.py, model/bt_intervals.py)."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from answers_sim import draw_labels, random_battles, write_db
from dbquery import rows as query
from hypothesis import given, settings, strategies as st
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from pipeline.answers.leaderboard import LeaderboardError, build_leaderboard
from pipeline.cli import app
from pipeline.model import bradley_terry as bt
from pipeline.properties import measures
from pipeline.properties.style import style_features
from pipeline.store import db as dbmod

MODELS = [f"model-{c}" for c in "abcdefgh"]
TRUE = dict(zip(MODELS, np.linspace(1.2, -1.2, len(MODELS))))
LONG = "model-d"   # true rank 4 of 8; writes three times longer answers


def _text_db(path, m1, m2, len1, len2, labels):
    """Pairs whose responses are `len` words long (so their measures are counted from the texts)."""
    n = len(m1)
    ids = np.arange(n)
    r1 = [" ".join(["word"] * int(k)) for k in len1]
    r2 = [" ".join(["word"] * int(k)) for k in len2]
    pairs_t = pa.table({"pair_id": ids, "model_1": list(m1), "model_2": list(m2),  # noqa: F841
                        "response_1": r1, "response_2": r2})
    feats = style_features(pl.DataFrame({"pair_id": ids, "response_1": r1, "response_2": r2}))  # noqa: F841
    labels_t = pa.table({"pair_id": ids, "preferred": labels})  # noqa: F841
    with dbmod.writing(path) as con:
        con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, model_1, model_2, response_1, "
                    "response_2, usable, annotated) SELECT pair_id, 'sim', pair_id, 'key' || pair_id, 'q' || pair_id, "
                    "model_1, model_2, response_1, response_2, FALSE, FALSE FROM pairs_t")
        con.execute("INSERT INTO pair_groups SELECT pair_id, 'All', 'all' FROM pairs_t")
        con.execute("INSERT INTO features SELECT pair_id, property, value FROM feats")
        con.execute("INSERT INTO judges (judge, kind) VALUES ('ratio-judge', 'llm')")
        con.execute("INSERT INTO labels (pair_id, judge, preferred) SELECT pair_id, 'ratio-judge', preferred FROM labels_t")
        measures.store(con, measures.measure_frame(pl.DataFrame({"pair_id": ids, "response_1": r1, "response_2": r2})))
    return path


@pytest.fixture(scope="module")
def ratio_db(tmp_path_factory):
    """The judge rewards length by a ratio rule: 3 x (a - b) / (a + b), not the sign rule."""
    rng = np.random.default_rng(5)
    m1, m2 = random_battles(rng, MODELS, 4000)
    def length(models):
        base = rng.lognormal(np.log(60), 0.35, len(models))
        return np.rint(np.where(models == LONG, 3 * base, base)).astype(int) + 1
    len1, len2 = length(m1), length(m2)
    logit = np.array([TRUE[a] - TRUE[b] for a, b in zip(m1, m2)]) + 3.0 * (len1 - len2) / (len1 + len2)
    return _text_db(tmp_path_factory.mktemp("conv") / "ratio.duckdb", m1, m2, len1, len2, draw_labels(rng, logit))


def test_the_form_with_the_lower_heldout_loss_recovers_the_true_order(ratio_db):
    boards = {}
    for form in ("sign", "continuous"):
        report = build_leaderboard(ratio_db, control="length (tokens)", control_form=form, min_battles=1)
        boards[form] = report.boards[-1]
    losses = {f: b.result.heldout_log_loss for f, b in boards.items()}
    better = min(losses, key=losses.get)
    assert better == "continuous"                                       # the judge's own rule explains it better
    assert losses["continuous"] < boards["continuous"].heldout_raw      # and better than no control
    rho = {f: spearmanr([TRUE[m] for m in b.result.models], b.result.strength)[0] for f, b in boards.items()}
    assert rho[better] >= 0.97
    got = dict(zip(boards[better].result.models, boards[better].result.rank.tolist()))
    assert got[LONG] == 4                                               # the long model back at its true place
    stored = query(ratio_db, "SELECT control, control_form, heldout_log_loss, heldout_log_loss_raw FROM "
                             "leaderboard_runs WHERE control <> 'none' ORDER BY control")
    assert [r[:2] for r in stored] == [("length (tokens)", "sign"), ("length (tokens) (continuous)", "continuous")]
    assert stored[1][2] == pytest.approx(losses["continuous"])


def _sklearn_with_ties(m1, m2, y, models):
    """A tie as two half-weight rows (a win and a loss): the likelihood of y = 0.5."""
    col = {m: i for i, m in enumerate(models)}
    A = np.zeros((len(y), len(models)))
    A[np.arange(len(y)), [col[m] for m in m1]] += 1
    A[np.arange(len(y)), [col[m] for m in m2]] -= 1
    tie = y == 0.5
    AA = np.vstack([A, A[tie]])
    yy = np.r_[np.where(tie, 1.0, y), np.zeros(tie.sum())]
    ww = np.r_[np.where(tie, 0.5, 1.0), np.full(tie.sum(), 0.5)]
    lr = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000)
    lr.fit(AA[:, 1:], yy, sample_weight=ww)
    s = np.r_[0.0, lr.coef_[0]]
    return dict(zip(models, s - s.mean()))


def test_ties_half_counts_each_tie_as_half_a_win(tmp_path):
    rng = np.random.default_rng(3)
    models = MODELS[:4]
    m1, m2 = random_battles(rng, models, 600)
    y = draw_labels(rng, np.array([TRUE[a] - TRUE[b] for a, b in zip(m1, m2)]))
    db = write_db(tmp_path / "ties.duckdb", m1, m2, labels={"j": y})
    t1, t2 = random_battles(rng, models, 150)                            # planted ties
    ties_t = pa.table({"m1": list(t1), "m2": list(t2)})  # noqa: F841
    with dbmod.writing(db) as con:
        con.execute("INSERT INTO ties (source, judge, model_1, model_2) SELECT 'sim', 'j', m1, m2 FROM ties_t")
    dropped = build_leaderboard(db, min_battles=1).boards[0].result.by_model()
    half = build_leaderboard(db, min_battles=1, ties="half").boards[0]
    ref = _sklearn_with_ties(np.r_[m1, t1], np.r_[m2, t2], np.r_[(y == 1).astype(float), np.full(150, 0.5)], models)
    for m in models:
        assert half.result.by_model()[m] == pytest.approx(ref[m], abs=2e-3)
    assert np.ptp(list(half.result.by_model().values())) < np.ptp(list(dropped.values()))  # ties pull together
    assert query(db, "SELECT ties, n_ties FROM leaderboard_runs") == [("half", 150)]


def _coverage(ci: str, reps: int, **kw) -> float:
    rng = np.random.default_rng(11)
    truth = np.array([0.6, 0.2, -0.2, -0.6])
    names = ["a", "b", "c", "d"]
    hits = 0
    for _ in range(reps):
        a = rng.integers(0, 4, 300)
        b = (a + rng.integers(1, 4, 300)) % 4
        y = (rng.random(300) < 1 / (1 + np.exp(-(truth[a] - truth[b])))).astype(float)
        r = bt.fit(np.array(names)[a], np.array(names)[b], y, ci=ci, **kw)
        i = r.models.index("a")
        hits += r.ci_low[i] <= truth[0] <= r.ci_high[i]
    return hits / reps


def test_sandwich_intervals_cover_the_truth_at_about_their_nominal_rate():
    assert 0.88 <= _coverage("sandwich", 100) <= 0.995


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_truth_at_about_their_nominal_rate():
    assert 0.85 <= _coverage("bootstrap", 80, bootstrap=60) <= 1.0


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(2)
    m1, m2 = random_battles(rng, MODELS[:4], 200)
    y = rng.random(200) < 0.5
    one, two = (bt.fit(m1, m2, y, ci="bootstrap", bootstrap=20, seed=4) for _ in range(2))
    assert np.array_equal(one.ci_low, two.ci_low) and "bootstrap" in one.ci_method


def test_identical_controls_are_merged_and_said(tmp_path):
    rng = np.random.default_rng(9)
    m1, m2 = random_battles(rng, MODELS[:4], 400)
    f = rng.integers(-1, 2, 400)
    db = write_db(tmp_path / "twins.duckdb", m1, m2, features={"lengthy": f, "funny": f},
                  labels={"j": draw_labels(rng, 0.8 * f)})
    report = build_leaderboard(db, control="lengthy,funny", min_battles=1)
    board = report.boards[-1]
    assert board.result.covariates == ["funny & lengthy"] or board.result.covariates == ["lengthy & funny"]
    low, high = board.result.weight_ci
    assert high[0] - low[0] < 1.0                                       # not +-138
    dropped = query(db, "SELECT controls_dropped FROM leaderboard_runs WHERE control <> 'none'")[0][0]
    assert "identical in every battle, merged" in dropped


def test_a_control_without_data_is_refused_in_one_line(tmp_path):
    rng = np.random.default_rng(1)
    m1, m2 = random_battles(rng, MODELS[:3], 60)
    db = write_db(tmp_path / "style_only.duckdb", m1, m2, features={"lengthy": rng.integers(-1, 2, 60)},
                  labels={"j": draw_labels(rng, np.zeros(60))})
    with pytest.raises(LeaderboardError, match="no data for the control harmless"):
        build_leaderboard(db, control="harmless", min_battles=1)
    before = db.read_bytes()
    res = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--control", "harmless"])
    assert res.exit_code == 1 and "no data for the control harmless" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) <= 3
    assert db.read_bytes() == before


@settings(max_examples=12, deadline=None)
@given(option=st.sampled_from(["--ties", "--ci", "--control-form"]), value=st.text(min_size=1, max_size=12))
def test_unknown_convention_values_get_one_line(tmp_path_factory, option, value):
    known = {"--ties": {"drop", "half"}, "--ci": {"hessian", "sandwich", "bootstrap"},
             "--control-form": {"sign", "continuous"}}[option]
    if value in known or value.startswith("-"):
        return
    db = tmp_path_factory.getbasetemp() / "conv-cli.duckdb"
    if not db.exists():
        rng = np.random.default_rng(0)
        m1, m2 = random_battles(rng, MODELS[:3], 60)
        write_db(db, m1, m2, labels={"j": draw_labels(rng, np.zeros(60))})
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    res = CliRunner().invoke(app, ["leaderboard", "--db", str(db), option, value])
    assert res.exit_code == 1 and f"{option} " in res.output and "not one of" in res.output
    assert "Traceback" not in res.output
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_each_model_row_has_its_win_rate_and_mean_tokens(ratio_db):
    build_leaderboard(ratio_db, min_battles=1)
    rows = query(ratio_db, "SELECT p.model_1, p.model_2, p.response_1, p.response_2, l.preferred FROM pairs p "
                           "JOIN labels l USING (pair_id)")
    wins, tokens = {}, {}
    for m1, m2, r1, r2, pref in rows:
        for model, text, won in ((m1, r1, pref == 1), (m2, r2, pref == 2)):
            wins.setdefault(model, []).append(won)
            tokens.setdefault(model, []).append(len(text.split()))
    stored = query(ratio_db, "SELECT model, win_rate, mean_tokens FROM leaderboard WHERE control = 'none'")
    assert len(stored) == len(MODELS)
    for model, win_rate, mean_tokens in stored:
        assert win_rate == pytest.approx(np.mean(wins[model]))
        assert mean_tokens == pytest.approx(np.mean(tokens[model]))


def test_the_measure_matrix_from_the_columns_equals_the_one_counted_from_the_texts(tmp_path, monkeypatch):
    """Stored measures (response_counts, read a column each) and the texts' own counts agree;
    a measure not taken is NaN."""
    from pipeline.answers import board_controls
    from pipeline.queries import leaderboard as q

    db = tmp_path / "m.duckdb"
    texts = ["# Plan\n- a\n- b **x**", "Short.", "Would you like more? 😀", "```\ncode\n```\nsee https://x.org"]
    with dbmod.writing(db) as con:
        for i, (a, b) in enumerate(zip(texts, texts[::-1])):
            con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, response_1, response_2, "
                        "usable, annotated) VALUES (?, 's', ?, ?, 'q', ?, ?, FALSE, FALSE)", [i, i, f"k{i}", a, b])
        measures.fill_missing(con)
        con.execute("UPDATE response_counts SET bold = NULL WHERE pair_id = 2 AND side = 2")
    names = ["tokens", "headers", "bold", "links"]
    with dbmod.reading(db) as con:
        stored = board_controls.measure_matrix(con, names, "All", all_pairs=True)
        monkeypatch.setattr(q, "has_measures", lambda con: False)
        counted = board_controls.measure_matrix(con, names, "All", all_pairs=True)
        with pytest.raises(ValueError, match="no measure named 'nope'"):
            q.measures(con, ["nope"], "All", all_pairs=True)
    assert np.array_equal(stored[0], counted[0]) and np.array_equal(stored[1], counted[1])
    assert np.isnan(stored[2][2, 2]) and counted[2][2, 2] == 0
    stored[2][2, 2] = 0
    assert np.array_equal(stored[2], counted[2])
