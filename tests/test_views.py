"""The SQL views, checked against values computed here in Python from the records."""

from collections import defaultdict
from statistics import mean

import pytest

from pipeline.demo import generate_records
from pipeline.ingest.release_load import load_records
from pipeline.properties.paper import BASIC
from dbquery import rows

SIZES = {"Code": 60, "Advice": 50, "Others": 40}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    records = generate_records(seed=7, group_sizes=SIZES)
    # a few variants the views must cope with: a missing rating, an unlabelled judge
    records[0]["basic_response_1"]["polite"] = None
    del records[1]["preference_labels"]["gpt-4-turbo"]
    db = tmp_path_factory.mktemp("views") / "v.duckdb"
    load_records(records, source="views-test", db=db)
    return records, db



def test_property_stats_basic_means(loaded):
    records, db = loaded
    got = {p: (m, n) for p, m, n in rows(db, "SELECT property, mean_score, n FROM property_stats")}
    for p in BASIC:
        scores = [r[f"basic_response_{k}"][p.source_key] for r in records for k in (1, 2)]
        scores = [s for s in scores if s is not None]
        assert got[p.name][0] == pytest.approx(mean(scores))
        assert got[p.name][1] == len(scores)


def test_property_stats_errors_length_and_query_specific(loaded):
    records, db = loaded
    got = {p: (m, n) for p, m, n in rows(db, "SELECT property, mean_score, n FROM property_stats")}
    for sev in ("minor", "moderate", "severe"):
        counts = [sum(e["severity"] == sev for e in r[f"errors_response_{k}"]["errors"])
                  for r in records for k in (1, 2) if r[f"errors_response_{k}"]["applicable or not"] == "applicable"]
        assert got[f"no {sev} errors"] == (pytest.approx(mean(counts)), len(counts))
    words = [r[f"response_{k}"]["num_words"] for r in records for k in (1, 2)]
    assert got["lengthy"][0] == pytest.approx(mean(words))
    # constraints: mean over responses of the mean item score, where constraints exist
    per_response = []
    for r in records:
        if r["explicit constraints"]:
            for k in (1, 2):
                items = r[f"query-specific_response_{k}"]["satisfying explicit constraints"]
                per_response.append(mean(float(i.rsplit("|", 1)[1]) for i in items))
    assert got["satisfy constraints"] == (pytest.approx(mean(per_response)), len(per_response))
    clarify = [r[f"query-specific_response_{k}"]["clarify user intent"] for r in records
               if r["clear intent"] == "No" for k in (1, 2)]
    assert got["clarify intent"] == (pytest.approx(mean(clarify)), len(clarify))


def test_prerequisite_counts(loaded):
    records, db = loaded
    got = dict(rows(db, "SELECT group_name, n_pairs FROM prerequisite_counts"))
    assert got["Unclear User Intent"] == sum(r["clear intent"] == "No" for r in records)
    assert got["Express Feelings or Emotions"] == sum(r["explicitly express feelings"] == "Yes" for r in records)
    assert got["Contain Explicit Constraints"] == sum(bool(r["explicit constraints"]) for r in records)
    assert got["Show Explicit Subjective Stances"] == sum(bool(r["explicit subjective stances"]) for r in records)
    assert got["Contain Mistakes or Bias"] == sum(bool(r["explicit mistakes or biases"]) for r in records)


def test_judge_agreement_share_and_kappa(loaded):
    records, db = loaded
    a, b = "human", "gpt-4-turbo"
    both = [(r["preference_labels"][a], r["preference_labels"][b]) for r in records
            if a in r["preference_labels"] and b in r["preference_labels"]]
    agree = mean(x == y for x, y in both)
    pa = mean(x == "response_1" for x, _ in both)
    pb = mean(y == "response_1" for _, y in both)
    pe = pa * pb + (1 - pa) * (1 - pb)
    n, share, kappa = rows(db, "SELECT n, agreement, kappa FROM judge_agreement WHERE judge_a = ? AND judge_b = ?", [a, b])[0]
    assert n == len(both) == len(records) - 1
    assert share == pytest.approx(agree)
    assert kappa == pytest.approx((agree - pe) / (1 - pe))
    assert rows(db, "SELECT count(*) FROM judge_agreement WHERE judge_a = judge_b")[0][0] == 0


# The view's first definition (a join of labels with itself), kept as the reference the
# bit-word version must equal value for value.
AGREEMENT_BY_JOIN = """
    WITH both_labelled AS (
        SELECT a.judge AS judge_a, b.judge AS judge_b, (a.preferred = 1)::INTEGER AS a1,
               (b.preferred = 1)::INTEGER AS b1, (a.preferred = b.preferred)::INTEGER AS same
        FROM labels a JOIN labels b ON a.pair_id = b.pair_id AND a.judge <> b.judge),
    counts AS (SELECT judge_a, judge_b, count(*) AS n, avg(same) AS agreement, avg(a1) AS pa, avg(b1) AS pb
               FROM both_labelled GROUP BY judge_a, judge_b)
    SELECT judge_a, judge_b, n, agreement,
           CASE WHEN 1 - (pa * pb + (1 - pa) * (1 - pb)) = 0 THEN NULL
                ELSE (agreement - (pa * pb + (1 - pa) * (1 - pb))) / (1 - (pa * pb + (1 - pa) * (1 - pb))) END AS kappa
    FROM counts
"""


def test_judge_agreement_equals_the_self_join():
    """Edge cases of the bit words: sparse and negative pair ids, > 64 pairs, judges who share
    no pair (no row) or only pairs in different blocks, a judge who always picks response 1
    (kappa NULL against one who does too), and a random crowd; same columns, types, values."""
    from pathlib import Path

    import duckdb
    import numpy as np

    rng = np.random.default_rng(3)
    ids = np.unique(rng.integers(-2**31, 2**31 - 1, 700))
    labels = [(int(i), f"j{k}", int(rng.integers(1, 3))) for i in ids for k in range(6) if rng.random() < 0.7]
    labels += [(int(i), "ones", 1) for i in ids[:90]] + [(int(i), "ones too", 1) for i in ids[50:200]]
    labels += [(int(ids[0]), "early", 2), (int(ids[1]), "early", 1), (int(ids[3]), "late", 2)]  # same block, no pair
    labels += [(int(ids[-1]), "last", 2), (int(ids[-1]), "j-last", 2)]
    con = duckdb.connect()
    con.execute("CREATE TABLE labels (pair_id INTEGER NOT NULL, judge VARCHAR NOT NULL, preferred TINYINT NOT NULL "
                "CHECK (preferred IN (1, 2)), prob_1 DOUBLE, PRIMARY KEY (pair_id, judge))")
    con.executemany("INSERT INTO labels (pair_id, judge, preferred) VALUES (?, ?, ?)", labels)
    con.execute((Path(__file__).resolve().parent.parent / "sql" / "judge_agreement.sql").read_text())
    first = "judge_a, judge_b, n, agreement, kappa"  # the intervals: tests/test_views_measures.py
    view = con.execute(f"SELECT {first} FROM judge_agreement ORDER BY judge_a, judge_b").fetchall()
    want = con.execute(f"SELECT * FROM ({AGREEMENT_BY_JOIN}) ORDER BY judge_a, judge_b").fetchall()
    assert view == want and len(want) > 50
    assert ("early", "late") not in {r[:2] for r in view}
    assert [r[4] for r in view if r[:2] == ("ones", "ones too")] == [None]
    types = [r[1] for r in con.execute(f"DESCRIBE SELECT {first} FROM judge_agreement").fetchall()]
    assert types == [r[1] for r in con.execute(f"DESCRIBE {AGREEMENT_BY_JOIN}").fetchall()]


def test_model_win_rates(loaded):
    records, db = loaded
    wins, seen = defaultdict(int), defaultdict(int)
    for r in records:
        choice = r["preference_labels"]["human"]
        for k in (1, 2):
            m = r[f"response_{k}"]["model"]
            seen[m] += 1
            wins[m] += choice == f"response_{k}"
    got = {m: (n, w, rate) for m, n, w, rate in rows(db, "SELECT model, n, wins, win_rate FROM model_win_rates WHERE judge = 'human'")}
    assert set(got) == set(seen)
    for m in seen:
        assert got[m][:2] == (seen[m], wins[m])
        assert got[m][2] == pytest.approx(wins[m] / seen[m])


def test_length_effect(loaded):
    records, db = loaded
    outcomes = []
    for r in records:
        n1, n2 = r["response_1"]["num_words"], r["response_2"]["num_words"]
        if n1 != n2:
            outcomes.append((n1 > n2) == (r["preference_labels"]["human"] == "response_1"))
    n, rate = rows(db, "SELECT n, longer_win_rate FROM length_effect WHERE judge = 'human'")[0]
    assert n == len(outcomes)
    assert rate == pytest.approx(mean(outcomes))


def test_every_view_opens_from_a_plain_duckdb_connection(loaded):
    import duckdb

    _, db = loaded
    con = duckdb.connect(str(db), read_only=True)
    views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    assert {"property_stats", "prerequisite_counts", "judge_agreement", "model_win_rates", "length_effect"} <= set(views)
    for v in views:
        con.execute(f"SELECT * FROM {v} LIMIT 5").fetchall()
    con.close()


OLD_DUCKDB = "1.1.3"  # the oldest client the README promises
COUNT_EVERYTHING = """
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
print(json.dumps({"version": duckdb.__version__,
                  "counts": {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}}))
"""


def old_duckdb() -> str:
    """A folder holding DuckDB 1.1.3, installed once from the package index into ~/.cache."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    target = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "prefdissect" / f"duckdb-{OLD_DUCKDB}"
    if not (target / "duckdb").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--target", str(target), f"duckdb=={OLD_DUCKDB}"], check=True, timeout=600)
    return str(target)


@pytest.mark.slow
def test_the_demo_database_opens_in_duckdb_1_1_with_every_view(tmp_path):
    """Issue 11: any DuckDB client from 1.1 on reads the file; every table and view counts alike."""
    import json
    import os
    import subprocess
    import sys

    from pipeline.store import db as dbmod

    db = tmp_path / "demo.duckdb"
    subprocess.run([sys.executable, "-m", "pipeline", "demo", "--db", str(db)], check=True, timeout=600,
                   capture_output=True)
    env = {**os.environ, "PYTHONPATH": old_duckdb()}
    out = subprocess.run([sys.executable, "-c", COUNT_EVERYTHING, str(db)], env=env, check=True,
                         capture_output=True, text=True, timeout=300).stdout
    old = json.loads(out)
    assert old["version"] == OLD_DUCKDB
    with dbmod.reading(db) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        new = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert views and views <= set(old["counts"])
    assert old["counts"] == new
    assert new["pairs"] > 0 and new["fits"] > 0 and new["judge_similarity"] > 0
