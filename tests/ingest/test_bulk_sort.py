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


TEXTS = {"A": ("q", "a1", "a2"), "B": ("q", "b1", "b2"), "C": ("q", "c1", "c2")}


def _scan(rows: list[tuple], stored: list[tuple], stored_votes: list[tuple], sort: bool = True):
    """A scan as raw_bulk leaves it before sorting: `staged` (position, texts' key, the texts,
    models, the winner's word, judge, rater), the stored pairs and votes, the winners' words and
    no judge names (every row is the load's judge); sorted the long way unless `sort` is False."""
    con = duckdb.connect()
    staged = pl.DataFrame(  # noqa: F841 - read by DuckDB below
        [(i, writing.pair_key(*TEXTS[t]), *TEXTS[t], m1, m2, winner, rater)
         for i, (t, m1, m2, winner, rater) in enumerate(rows)],
        schema={"position": pl.Int64, "tk": pl.String, "query": pl.String, "response_1": pl.String,
                "response_2": pl.String, "model_1": pl.String, "model_2": pl.String, "winner": pl.String,
                "rater": pl.String}, orient="row")
    con.execute("CREATE TABLE staged AS SELECT *, 1 AS n_users, FALSE AS empty, NULL::DOUBLE AS prob_1, "
                "'' AS judge, 's' || position AS source_id FROM staged")
    keys = [(writing.pair_key(*TEXTS[t]), pid, m1, m2) for t, pid, m1, m2 in stored]
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
    if sort:
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


ROW = st.tuples(st.sampled_from("ABC"), st.sampled_from([None, "", "m-a"]), st.sampled_from([None, "", "m-b"]),
                st.sampled_from(["a", "b", "tie", ""]), st.sampled_from(["r1", "r2"]))
KEYED_COLUMNS = "position, pair_id, new, stored_id, key, first, judge, preferred, rater"


def _short_way(rows: list[tuple], stored: list[tuple]):
    """The same scan sorted the short way (`ALL_NEW`'s views), or None when ALL_NEW refuses it."""
    con = _scan(rows, stored, [], sort=False)
    if not con.execute(bulk_sort.ALL_NEW).fetchone()[0]:
        return None
    con.execute(bulk_sort.KEYED_ALL_NEW.format(offset=100))
    con.execute(bulk_sort.VOTES_ALL_NEW)
    return con


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=4), stored=st.lists(st.sampled_from("ABC"), max_size=1, unique=True))
def test_the_short_way_is_taken_exactly_when_every_labelled_row_is_a_new_pair_and_sorts_alike(rows, stored):
    """ALL_NEW holds exactly when the long way finds every labelled row a new pair keyed by its own
    texts; then the short way's keyed rows, votes and new pairs are the long way's, row for row."""
    stored_pairs = [(t, 7, None, None) for t in stored]
    long = _scan(rows, stored_pairs, [])
    every_row_new = long.execute("SELECT (SELECT count(*) FROM rows WHERE skip IS NULL) = "
                                 "count(*) FILTER (new AND key = tk) FROM keyed").fetchone()[0]
    short = _short_way(rows, stored_pairs)
    assert (short is not None) == every_row_new
    if short is None:
        return
    for sql in (f"SELECT {KEYED_COLUMNS} FROM keyed ORDER BY position", "SELECT * FROM votes ORDER BY position"):
        assert short.execute(sql).fetchall() == long.execute(sql).fetchall()
    new_pairs = [long.execute(f"SELECT * FROM ({bulk_sort.NEW_PAIRS.format(attributes='')}) ORDER BY pair_id").fetchall(),
                 short.execute(f"SELECT * FROM ({bulk_sort.ALL_NEW_PAIRS.format(attributes='')}) ORDER BY pair_id",
                               {"offset": 100}).fetchall()]
    labelled = long.execute("SELECT count(*) FROM rows WHERE skip IS NULL").fetchone()[0]
    assert new_pairs[0] == new_pairs[1] and len(new_pairs[0]) == labelled


def test_a_repeat_or_a_stored_pair_sends_the_file_the_long_way_and_a_skipped_row_does_not():
    fresh = [("A", "m-a", "m-b", "a", "r1"), ("B", None, None, "b", "r2"), ("C", None, "m-b", "a", "r1")]
    assert _short_way(fresh, []) is not None
    assert _short_way([*fresh, ("A", "m-c", "m-d", "a", "r1")], []) is None     # the same texts again
    assert _short_way(fresh, [("B", 7, None, None)]) is None                      # a stored pair's texts
    skipped = [("A", None, None, "", "r1"), *fresh[1:], ("A", "m-a", "m-b", "tie", "r2")]  # no vote, a tie
    short = _short_way(skipped, [])
    assert short.execute("SELECT list(position ORDER BY position) FROM votes").fetchone()[0] == [1, 2]
