"""The scan's sorting SQL (ingest/bulk_sort.py) on a small scan built by hand: the keys are
raw_load's keys, and each row gets the battle, pair id and fate that raw_load.Battles gives it.
(tests/ingest/test_raw_bulk*.py compare whole loads both ways on generated files.)"""

from __future__ import annotations

import duckdb
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest import bulk_sort, writing
from pipeline.ingest.formats.base import NO_VOTE, TIE, WINNERS

# Text DuckDB holds as Python does: no NUL, no lone surrogate
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
MODEL = st.none() | TEXT


@settings(max_examples=150, deadline=None)
@given(query=TEXT, r1=TEXT, r2=TEXT, m1=MODEL, m2=MODEL)
def test_the_keys_are_the_loaders_keys(query, r1, r2, m1, m2):
    con = duckdb.connect()
    tk, bk = con.execute(f"SELECT tk, {bulk_sort.BATTLE_KEY} FROM (SELECT {bulk_sort.TEXT_KEY} AS tk, "
                         "$m1 AS m1, $m2 AS m2 FROM (SELECT $q AS query, $r1 AS response_1, $r2 AS response_2))",
                         {"q": query, "r1": r1, "r2": r2, "m1": m1, "m2": m2}).fetchone()
    assert tk == writing.pair_key(query, r1, r2)
    assert bk == writing.battle_key(tk, m1, m2)


def _scan(rows: list[tuple], stored: list[tuple], stored_votes: list[tuple]):
    """A scan as raw_bulk leaves it before sorting: `staged` (position, texts' key, models, the
    winner's word, judge, rater), the stored pairs and votes, the winners' words and no judge
    names (every row is the load's judge)."""
    con = duckdb.connect()
    texts = {"A": ("q", "a1", "a2"), "B": ("q", "b1", "b2"), "C": ("q", "c1", "c2")}
    staged = pl.DataFrame(  # noqa: F841 - read by DuckDB below
        [(i, writing.pair_key(*texts[t]), m1, m2, winner, rater) for i, (t, m1, m2, winner, rater) in enumerate(rows)],
        schema={"position": pl.Int64, "tk": pl.String, "model_1": pl.String, "model_2": pl.String,
                "winner": pl.String, "rater": pl.String}, orient="row")
    con.execute("CREATE TABLE staged AS SELECT *, 1 AS n_users, FALSE AS empty, NULL::DOUBLE AS prob_1, "
                "'' AS judge FROM staged")
    keys = [(writing.pair_key(*texts[t]), pid, m1, m2) for t, pid, m1, m2 in stored]
    con.execute("CREATE TABLE stored (pair_key VARCHAR, pair_id BIGINT, model_1 VARCHAR, model_2 VARCHAR)")
    if keys:
        con.executemany("INSERT INTO stored VALUES (?, ?, ?, ?)", keys)
    con.execute("CREATE TABLE stored_votes (pair_id BIGINT, judge VARCHAR, preferred TINYINT, rater VARCHAR)")
    if stored_votes:
        con.executemany("INSERT INTO stored_votes VALUES (?, ?, ?, ?)", stored_votes)
    con.execute("CREATE TABLE winners (word VARCHAR, vote VARCHAR)")
    con.executemany("INSERT INTO winners VALUES (?, ?)", [(w, str(v)) for w, v in WINNERS.items()])
    con.execute("CREATE TABLE judges (written VARCHAR, name VARCHAR)")
    con.execute(bulk_sort.ROWS, {"multi_turn": False, "judge": "crowd"})
    con.execute(bulk_sort.KEYED, {"offset": 100})
    con.execute(bulk_sort.VOTES)
    return con


def test_rows_are_sorted_into_battles_votes_and_skips():
    con = _scan(
        rows=[("A", "m-a", "m-b", "a", "r1"),      # 0: a new battle: pair 100
              ("A", "m-a", "m-b", "b", "r1"),      # 1: the same battle and rater, the other way
              ("A", "m-c", "m-d", "a", "r1"),      # 2: the same texts, other models: pair 102
              ("B", None, None, "a", "r2"),        # 3: a new battle: pair 103
              ("B", None, None, "a", "r3"),        # 4: another rater on it
              ("C", None, None, "b", "r4"),        # 5: a stored pair's texts: pair 7, a new vote
              ("A", "m-a", "m-b", "", "r1"),       # 6: no vote
              ("B", None, None, "tie", "r2"),      # 7: a tie
              ("A", "m-c", "m-d", "a", "r1"),      # 8: a repeat of row 2
              ("C", "m-x", "m-y", "a", "r5")],     # 9: the stored pair's texts, other models: 109
        stored=[("C", 7, None, None)],
        stored_votes=[])
    skips = dict(con.execute("SELECT position, skip FROM rows WHERE skip IS NOT NULL").fetchall())
    assert skips == {6: NO_VOTE, 7: TIE}
    keyed = {p: (pid, new) for p, pid, new in con.execute("SELECT position, pair_id, new FROM keyed").fetchall()}
    assert keyed == {0: (100, True), 1: (100, False), 2: (102, True), 3: (103, True), 4: (103, False),
                     5: (7, False), 8: (102, False), 9: (109, True)}
    fates = dict(con.execute("SELECT position, fate FROM votes").fetchall())
    assert fates == {0: "new", 1: "conflict", 2: "new", 3: "new", 4: "other rater", 5: "new", 8: "duplicate",
                     9: "new"}


def test_a_stored_vote_decides_the_fate_of_the_files_votes():
    con = _scan(rows=[("C", None, None, "a", "r1"),   # the stored vote's rater, the other way
                      ("C", None, None, "b", "r1"),   # the stored vote again
                      ("C", None, None, "b", "r2")],  # another rater
                stored=[("C", 7, None, None)],
                stored_votes=[(7, "crowd", 2, "r1")])
    fates = dict(con.execute("SELECT position, fate FROM votes").fetchall())
    assert fates == {0: "conflict", 1: "duplicate", 2: "other rater"}
    assert con.execute("SELECT count(*) FROM keyed WHERE new").fetchone()[0] == 0
