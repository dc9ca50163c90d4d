"""fit_database: every judge x group into fits / fit_runs, skips, partial refits, no lock held."""

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.model import bayes, fitting
from pipeline.store import db as dbmod
from pipeline.cli import app
from pipeline.demo import PROFILES, generate_records
from pipeline.model.fitting import FitError, fit_database
from pipeline.ingest.release_load import load_records
from pipeline.properties.paper import N_PROPERTIES, PROPERTY_NAMES
from dbquery import rows

# Others is big enough to recover the generating weights; Code and Advice are small, and
# Unsafe Queries falls under the default min_labels of 30.
SIZES = {"Others": 1500, "Code": 120, "Advice": 60, "Unsafe Queries": 20}
JUDGES = [p.name for p in PROFILES]



@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    db = tmp_path_factory.mktemp("fit") / "f.duckdb"
    load_records(generate_records(seed=5, group_sizes=SIZES), source="fit-test", db=db)
    return db


@pytest.fixture(scope="module")
def fitted(loaded, tmp_path_factory):
    db = tmp_path_factory.mktemp("fitted") / "f.duckdb"
    db.write_bytes(loaded.read_bytes())
    report = fit_database(db)
    return db, report


def test_every_judge_x_group_has_a_run(fitted):
    db, report = fitted
    groups = {g for (g,) in rows(db, "SELECT DISTINCT group_name FROM pair_groups")}
    runs = rows(db, "SELECT judge, group_name, status, group_kind FROM fit_runs")
    assert {(j, g) for j, g, _, _ in runs} == {(j, g) for j in JUDGES for g in groups}
    assert set(report.groups) == groups and len(report.runs) == len(runs)
    kinds = dict(rows(db, "SELECT DISTINCT group_name, group_kind FROM pair_groups"))
    assert all(k == kinds[g] for _, g, _, k in runs)


def test_fitted_rows_hold_mean_sd_interval_and_accuracy(fitted):
    db, _ = fitted
    runs = rows(db, "SELECT judge, group_name, n_pairs, accuracy, method, folds FROM fit_runs WHERE status = 'fitted'")
    assert runs
    for judge, group, n, acc, method, folds in runs:
        assert n >= 30 and 0 <= acc <= 1 and method == "ep" and folds == 1
    big = [acc for _, group, _, acc, _, _ in runs if group == "Others"]
    assert 0.6 < np.mean(big) < 0.9  # the simulated judges are noisy, but not coin flips
    bad = rows(db, """SELECT count(*) FROM fits WHERE NOT (sd > 0 AND ci_low <= weight AND weight <= ci_high)
                      OR source <> 'fit'""")
    assert bad == [(0,)]
    per_run = rows(db, "SELECT judge, group_name, count(*) FROM fits GROUP BY ALL")
    assert len(per_run) == len(runs) and all(c == N_PROPERTIES for _, _, c in per_run)


def test_small_groups_are_skipped_with_a_note(fitted):
    db, report = fitted
    n_by_group = dict(rows(db, """SELECT group_name, count(*) FROM pair_groups
                                  JOIN pairs USING (pair_id) WHERE usable GROUP BY ALL"""))
    small = {g for g, n in n_by_group.items() if n < 30}
    assert "Unsafe Queries" in small
    skipped = rows(db, "SELECT judge, group_name, n_pairs, note FROM fit_runs WHERE status = 'skipped'")
    assert {g for _, g, _, _ in skipped} == small
    assert all("fewer than 30" in note and n < 30 for _, _, n, note in skipped)
    assert rows(db, "SELECT count(*) FROM fits WHERE list_contains(?, group_name)", [sorted(small)]) == [(0,)]
    assert len(report.skipped) == len(skipped)


def test_weights_recover_the_generating_profile(fitted):
    """Others has ~1,400 usable pairs: the 95% intervals cover the simulated weights about as
    often as they should, and where the data say much (properties that often differ), the
    posterior means track the profile closely."""
    db, _ = fitted
    share = dict(rows(db, """SELECT property, avg((value <> 0)::INT) FROM features
                             JOIN pair_groups USING (pair_id) WHERE group_name = 'Others' GROUP BY ALL"""))
    informative = [i for i, p in enumerate(PROPERTY_NAMES) if share[p] > 0.3]
    covered, errors, pooled = [], [], []
    for prof in PROFILES:
        got = {p: (w, lo, hi) for p, w, lo, hi in rows(
            db, "SELECT property, weight, ci_low, ci_high FROM fits WHERE judge = ? AND group_name = 'Others'",
            [prof.name])}
        true = prof.vector("Others")
        fit = np.array([got[p][0] for p in PROPERTY_NAMES])
        covered += [got[p][1] <= true[i] <= got[p][2] for i, p in enumerate(PROPERTY_NAMES)]
        errors += list(np.abs(fit - true)[informative])
        pooled += list(zip(fit[informative], true[informative]))
        assert np.corrcoef(fit[informative], true[informative])[0, 1] > 0.6, prof.name
    assert np.mean(covered) > 0.88                      # about 0.95 on these seeds
    assert np.mean(errors) < 0.08 and np.max(errors) < 0.4
    assert np.corrcoef(np.array(pooled).T)[0, 1] > 0.9


def test_refit_of_one_judge_replaces_only_its_rows(fitted, tmp_path):
    db = tmp_path / "r.duckdb"
    db.write_bytes(fitted[0].read_bytes())
    with dbmod.writing(db) as con:  # mark everything, so untouched rows are recognisable
        con.execute("UPDATE fits SET weight = 99")
        con.execute("UPDATE fit_runs SET note = 'old'")
    report = fit_database(db, judges=["human"], groups=["Others"])
    assert report.fitted == 1 and report.judges == ["human"]
    changed = rows(db, "SELECT DISTINCT judge, group_name FROM fits WHERE weight <> 99")
    assert changed == [("human", "Others")]
    notes = rows(db, "SELECT judge, group_name FROM fit_runs WHERE note <> 'old'")
    assert notes == [("human", "Others")]
    # all groups of one judge: its stale rows everywhere are replaced, the others' kept
    fit_database(db, judges=["human"])
    assert rows(db, "SELECT count(*) FROM fits WHERE judge = 'human' AND weight = 99") == [(0,)]
    assert rows(db, "SELECT count(DISTINCT judge) FROM fits WHERE weight = 99") == [(len(JUDGES) - 1,)]


def test_kfold_averaging(loaded, tmp_path):
    db = tmp_path / "k.duckdb"
    db.write_bytes(loaded.read_bytes())
    fit_database(db, groups=["Code"], judges=["human", "gpt-4-turbo"], folds=3)
    got = rows(db, "SELECT folds, note FROM fit_runs WHERE group_name = 'Code'")
    assert len(got) == 2 and all(f == 3 and "averaged over 3" in n for f, n in got)
    averaged = np.array([w for (w,) in rows(db, "SELECT weight FROM fits ORDER BY judge, property")])
    fit_database(db, groups=["Code"], judges=["human", "gpt-4-turbo"])
    single = np.array([w for (w,) in rows(db, "SELECT weight FROM fits ORDER BY judge, property")])
    assert not np.allclose(averaged, single) and np.corrcoef(averaged, single)[0, 1] > 0.9


def test_progress_reaches_every_judge_x_group(loaded, tmp_path):
    db = tmp_path / "p.duckdb"
    db.write_bytes(loaded.read_bytes())
    seen = []
    fit_database(db, groups=["Code", "Advice"], progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (2 * len(JUDGES), 2 * len(JUDGES))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_no_connection_is_held_while_computing(loaded, tmp_path, monkeypatch):
    """During the computation another writer and readers get in (DuckDB refuses a second
    connection of another mode while one is open, so this also proves nothing is held)."""
    db = tmp_path / "l.duckdb"
    db.write_bytes(loaded.read_bytes())
    real = bayes.fit_many
    calls = []

    def checking_fit_many(problems, **kw):
        with dbmod.writing(db, timeout=1) as con:
            con.execute("CREATE TABLE IF NOT EXISTS scratch (x INTEGER)")
        with dbmod.reading(db, timeout=1) as con:
            con.execute("SELECT count(*) FROM labels").fetchone()
        calls.append(len(problems))
        return real(problems, **kw)

    monkeypatch.setattr(bayes, "fit_many", checking_fit_many)
    fit_database(db, groups=["Code"])
    assert calls == [1]


def test_unknown_names_and_bad_options_are_refused(loaded, tmp_path):
    with pytest.raises(FitError, match="unknown judge: nobody"):
        fit_database(loaded, judges=["nobody"])
    with pytest.raises(FitError, match="unknown group: Cooking"):
        fit_database(loaded, groups=["Cooking"])
    with pytest.raises(FitError, match="--folds"):
        fit_database(loaded, folds=0)
    empty = tmp_path / "e.duckdb"
    with dbmod.writing(empty):
        pass
    with pytest.raises(FitError, match="no judge has labels"):
        fit_database(empty)


def test_fit_command(loaded, tmp_path):
    db = tmp_path / "c.duckdb"
    db.write_bytes(loaded.read_bytes())
    runner = CliRunner()
    result = runner.invoke(app, ["fit", "--db", str(db), "--judge", "human", "--group", "Code", "--group", "Advice"])
    assert result.exit_code == 0, result.output
    assert "fitted 2 judge x group models" in result.output
    assert rows(db, "SELECT count(*) FROM fits") == [(2 * N_PROPERTIES,)]
    result = runner.invoke(app, ["fit", "--db", str(db), "--judge", "nobody"])
    assert result.exit_code == 1 and "unknown judge: nobody" in result.output
    assert "Traceback" not in result.output


def test_compute_uses_mask_for_missing_labels(monkeypatch):
    """A judge that labelled only some pairs is fitted on those (mask), the rest ignored."""
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 0.0, 1.0], size=(80, N_PROPERTIES))
    Y = (rng.random((2, 80)) < 0.5).astype(float)
    mask = np.ones((2, 80), bool)
    mask[1, 50:] = False  # the second judge labelled 50 pairs
    group = fitting.GroupData("G", "scenario", X, Y, mask, ["a", "b"])
    seen = {}

    def fake_fit_many(problems, **kw):
        seen["mask"] = problems[0][2]
        return real(problems, **kw)

    real = bayes.fit_many
    monkeypatch.setattr(bayes, "fit_many", fake_fit_many)
    runs, fits = fitting.compute([group], min_labels=60)
    assert [(r.judge, r.status, r.n_pairs) for r in runs] == [("b", "skipped", 50), ("a", "fitted", 80)]
    assert seen["mask"].shape == (1, 80) and fits.num_rows == N_PROPERTIES


def test_demo_ends_fitted(tmp_path, monkeypatch):
    """`demo` fits what it loads, so every page of the app has weights to show (small here)."""
    from pipeline import demo

    monkeypatch.setattr(demo, "GROUP_SIZES", {"Code": 50, "Others": 50})
    db = tmp_path / "demo.duckdb"
    seen = []
    result = demo.build_demo(db, progress=lambda done, total: seen.append(done))
    assert result["seconds"]["fit"] > 0 and seen
    fitted = rows(db, "SELECT DISTINCT judge FROM fits WHERE group_name = 'Code'")
    assert {j for (j,) in fitted} == set(JUDGES)
    assert rows(db, "SELECT count(*) > 0 FROM judge_similarity WHERE group_name = 'Overall'") == [(True,)]
    assert rows(db, "SELECT count(*) > 0 FROM preference_probability") == [(True,)]


def test_folds_beyond_a_groups_pairs_record_the_folds_really_used(tmp_path):
    """k-fold averaging caps k at the group's pairs; fit_runs says what was done."""
    from pipeline.store import db as dbmod
    from pipeline.demo import generate_records
    from pipeline.model.fitting import fit_database
    from pipeline.ingest.release_load import load_records

    db = tmp_path / "f.duckdb"
    load_records(generate_records(seed=5, group_sizes={"Code": 40}), source="s", db=db)
    fit_database(db, judges=["human"], groups=["Code"], folds=500, min_labels=10)
    with dbmod.reading(db) as con:
        n_usable = con.execute("SELECT count(*) FROM pairs WHERE usable").fetchone()[0]
        folds, note = con.execute("SELECT folds, note FROM fit_runs WHERE judge = 'human' AND group_name = 'Code'").fetchone()
    assert folds == n_usable < 500
    assert f"averaged over {n_usable} fold fits" in note


def test_groups_fitted_on_threads_give_the_same_numbers(monkeypatch):
    """compute() fits groups on FIT_THREADS threads, largest first; every group's numbers
    are what one thread gives, in group order."""
    rng = np.random.default_rng(1)
    groups = []
    for name, n in [("small", 60), ("big", 400), ("mid", 150)]:
        X = rng.choice([-1.0, 0.0, 1.0], size=(n, N_PROPERTIES))
        Y = (rng.random((3, n)) < 1.0 / (1.0 + np.exp(-X @ rng.normal(0, 0.3, N_PROPERTIES)))).astype(float)
        groups.append(fitting.GroupData(name, "scenario", X, Y, np.ones((3, n), bool), ["a", "b", "c"]))
    monkeypatch.setattr(fitting, "FIT_THREADS", 1)
    runs_1, fits_1 = fitting.compute(groups)
    monkeypatch.setattr(fitting, "FIT_THREADS", 2)
    runs_2, fits_2 = fitting.compute(groups)
    assert fits_1.equals(fits_2) and runs_1 == runs_2
    assert [r.group_name for r in runs_2] == ["small"] * 3 + ["big"] * 3 + ["mid"] * 3
