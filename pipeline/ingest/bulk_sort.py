"""The SQL `raw_bulk`'s scan sorts a staged file with (issue 18), as `raw_load` sorts rows in
Python: every row's place and fate (`ROWS`), the battle each labelled row is and the pair id a
new battle gets (`KEYED`), each vote's fate against the votes already kept (`VOTES`), the pair a
tie names (`TIES`), what is copied in from the database (`STORED_PAIRS`, `STORED_VOTES`), and the
new pairs streamed out with their texts (`NEW_PAIRS`). A file whose every labelled row is a new
pair is sorted the short way (`ALL_NEW`). `sort` runs the sorting.

The scan's tables: `stage` (a row per source row, `formats/staging.py`'s columns), its view
`staged` (with each row's `position` in the source), `winners` (a winner's word and its vote),
`judges` (a judge as written and its name), `stored` and `stored_votes`. The sorting's own
tables (`rows`, `keyed`, `votes`) are temporary: they stay in memory rather than in the scan's
file (half a second sooner at a million rows).
"""

from __future__ import annotations

import polars as pl

from .formats.base import BOTH_BAD, EMPTY, MULTI_TURN, NO_VOTE, TIE, WINNERS
from .formats.staging import text_key
from .writing import ROW_GROUP

_SEP = "chr(31)"


def _same_battle(row: str, owner_m1: str, owner_m2: str) -> str:
    """SQL: a row is the battle of the pair owning its texts (raw_load.Battles.find) when it names
    no model or that pair's models; with other models it is a battle of its own."""
    return (f"(({row}.m1 IS NULL AND {row}.m2 IS NULL) OR ({row}.m1 IS NOT DISTINCT FROM {owner_m1} "
            f"AND {row}.m2 IS NOT DISTINCT FROM {owner_m2}))")


# raw_load's keys (writing.pair_key / battle_key) in SQL: the same bytes into the same SHA-1;
# BATTLE_KEY from the columns tk, m1 and m2
TEXT_KEY = text_key("query", "response_1", "response_2")
BATTLE_KEY = f"sha1(tk || {_SEP} || coalesce(m1, chr(0)) || {_SEP} || coalesce(m2, chr(0)))"

# A staged row's turns and models as the sorting reads them (ROWS; ALL_NEW_PAIRS reads the same)
_TURNS, _MODEL_1, _MODEL_2 = "greatest(n_users, 1)", "nullif(model_1, '')", "nullif(model_2, '')"

# Every row: its place, its fate (NULL: a label), the vote and the battle's text key.
ROWS = f"""
CREATE TEMP TABLE rows AS
SELECT stage.position, {_TURNS} AS n_turns,
  CASE WHEN n_users > 1 AND NOT $multi_turn THEN '{MULTI_TURN}'
       WHEN empty THEN '{EMPTY}'
       WHEN coalesce(winner, '') = '' THEN '{NO_VOTE}'
       WHEN w.vote IN ('1', '2') THEN NULL
       ELSE w.vote END AS skip,
  TRY_CAST(w.vote AS TINYINT) AS preferred, prob_1,
  {_MODEL_1} AS m1, {_MODEL_2} AS m2, nullif(rater, '') AS rater,
  coalesce(j.name, $judge) AS judge, tk
FROM staged stage LEFT JOIN winners w ON w.word = stage.winner LEFT JOIN judges j ON j.written = stage.judge
"""

# The battle each labelled row is (raw_load.Battles.find): a text key is owned by the stored pair
# of those texts, else by its first row; a row with the owner's models (or none) is that pair, a
# row with other models is the battle of its texts and models. The first row of a new battle
# makes its pair: id offset + position. A battle of its texts is first met at its key's first row
# (that row's models are the owner's); only the battles of other models are grouped for theirs.
KEYED = f"""
CREATE TEMP TABLE keyed AS
WITH labelled AS (SELECT * FROM rows WHERE skip IS NULL),
firsts AS (  -- the models of each text key's first row, NULL ones too (arg_min would skip those)
  SELECT l.tk, l.m1, l.m2, l.position FROM labelled l
  JOIN (SELECT tk, min(position) AS position FROM labelled GROUP BY tk) f USING (tk, position)),
owners AS (
  SELECT f.tk, f.position AS tk_first, CASE WHEN s.pair_id IS NULL THEN f.m1 ELSE s.model_1 END AS om1,
         CASE WHEN s.pair_id IS NULL THEN f.m2 ELSE s.model_2 END AS om2
  FROM firsts f LEFT JOIN stored s ON s.pair_key = f.tk),
effective AS (
  SELECT l.*, o.tk_first, {_same_battle("l", "o.om1", "o.om2")} AS own FROM labelled l JOIN owners o USING (tk)),
keys AS (SELECT *, CASE WHEN own THEN tk ELSE {BATTLE_KEY} END AS key FROM effective),
other_firsts AS (  -- the battles of other models than their texts' owner
  SELECT key, min(position) AS first FROM keys WHERE NOT own GROUP BY key),
placed AS (
  SELECT k.* EXCLUDE (tk_first, own), s.pair_id AS stored_id, CASE WHEN k.own THEN k.tk_first ELSE f.first END AS first
  FROM keys k LEFT JOIN other_firsts f ON f.key = k.key LEFT JOIN stored s ON s.pair_key = k.key)
SELECT *, coalesce(stored_id, $offset + first) AS pair_id,
       stored_id IS NULL AND position = first AS new
FROM placed
"""

# Each labelled row's vote against the one already kept for its battle and judge (a stored label,
# else the first such row in this file): new, another rater's, conflicting, or a repeat.
VOTES = """
CREATE TEMP TABLE votes AS
WITH judged AS (
  SELECT k.position, k.pair_id, k.judge, k.preferred, k.prob_1, k.rater, v.pair_id IS NOT NULL AS had_stored,
         v.preferred AS s_pref, v.rater AS s_rater,
         first_value(k.preferred) OVER w AS f_pref, first_value(k.rater) OVER w AS f_rater,
         row_number() OVER w AS nth
  FROM keyed k LEFT JOIN stored_votes v ON v.pair_id = k.pair_id AND v.judge = k.judge
  WINDOW w AS (PARTITION BY k.pair_id, k.judge ORDER BY k.position))
SELECT position, pair_id, judge, preferred, prob_1, rater,
  CASE WHEN NOT had_stored AND nth = 1 THEN 'new'
       WHEN rater IS DISTINCT FROM (CASE WHEN had_stored THEN s_rater ELSE f_rater END) THEN 'other rater'
       WHEN preferred <> (CASE WHEN had_stored THEN s_pref ELSE f_pref END) THEN 'conflict'
       ELSE 'duplicate' END AS fate
FROM judged
"""

# A tie names the pair of its battle once the load is stored (raw_load._store_ties).
# Only the battles a tie may name are looked up: a tie is a few rows in a hundred.
TIES = f"""
WITH t AS (SELECT position, tk, m1, m2, rater, judge, {BATTLE_KEY} AS bk FROM rows WHERE skip = '{TIE}'),
wanted AS (SELECT tk AS k FROM t UNION SELECT bk FROM t),
known AS (SELECT pair_key, pair_id, model_1, model_2 FROM stored SEMI JOIN wanted ON pair_key = k
          UNION ALL SELECT key, pair_id, m1, m2 FROM keyed SEMI JOIN wanted ON key = k WHERE new)
SELECT $source AS source, t.judge, t.m1 AS model_1, t.m2 AS model_2,
  CASE WHEN o.pair_id IS NULL THEN NULL
       WHEN {_same_battle("t", "o.model_1", "o.model_2")} THEN o.pair_id
       ELSE b.pair_id END::BIGINT AS pair_id, t.rater
FROM t LEFT JOIN known o ON o.pair_key = t.tk LEFT JOIN known b ON b.pair_key = t.bk
ORDER BY t.position
"""

STORED_PAIRS = "SELECT pair_key, pair_id::BIGINT AS pair_id, model_1, model_2 FROM pairs"
STORED_VOTES = ("SELECT pair_id::BIGINT AS pair_id, judge, preferred::TINYINT AS preferred, rater FROM labels "
                "WHERE list_contains(?, judge)")

# The new pairs with their texts, in no order (a chunk is a set of pairs): `staged` first, its texts
# streamed through, the new rows of `keyed` hashed; {attributes}: the scan's, each as s.NAME
NEW_PAIRS = """
SELECT k.pair_id::BIGINT AS pair_id, k.position::BIGINT AS source_index, nullif(s.source_id, '') AS source_id,
       k.key AS pair_key, s.query, k.m1 AS model_1, k.m2 AS model_2, s.response_1, s.response_2,
       k.n_turns::BIGINT AS n_turns{attributes}
FROM staged s JOIN keyed k ON k.position = s.position
WHERE k.new
"""

# The short way, for a file whose every labelled row is a new pair (most large loads): no two
# such rows share their texts, and no stored pair has them. Then every labelled row is its
# battle's first, keyed by its texts, and each vote is new: `keyed` and `votes` are views of
# `rows` (KEYED and VOTES hashed and sorted a million rows to find that: 0.8 s), and the new pairs
# are the staged rows but the skipped ones (NEW_PAIRS' hash table of a million keyed rows was
# built before the first chunk came out: half a second with one core idle). A view takes no
# parameter: KEYED_ALL_NEW is formatted with the offset, an integer.
ALL_NEW = """
SELECT count(DISTINCT tk) FILTER (skip IS NULL) = count(*) FILTER (skip IS NULL)
       AND NOT EXISTS (SELECT 1 FROM stored SEMI JOIN (SELECT tk FROM rows WHERE skip IS NULL) r ON r.tk = stored.pair_key)
FROM rows
"""
KEYED_ALL_NEW = """
CREATE TEMP VIEW keyed AS
SELECT *, tk AS key, NULL::BIGINT AS stored_id, position AS first, {offset:d} + position AS pair_id, TRUE AS new
FROM rows WHERE skip IS NULL
"""
VOTES_ALL_NEW = """
CREATE TEMP VIEW votes AS SELECT position, pair_id, judge, preferred, prob_1, rater, 'new' AS fate FROM keyed
"""
ALL_NEW_PAIRS = f"""
SELECT ($offset + s.position)::BIGINT AS pair_id, s.position::BIGINT AS source_index,
       nullif(s.source_id, '') AS source_id, s.tk AS pair_key, s.query, {_MODEL_1} AS model_1,
       {_MODEL_2} AS model_2, s.response_1, s.response_2, {_TURNS}::BIGINT AS n_turns{{attributes}}
FROM staged s ANTI JOIN (SELECT position FROM rows WHERE skip IS NOT NULL) skipped ON skipped.position = s.position
"""

assert {TIE, BOTH_BAD} <= set(WINNERS.values())  # ROWS takes a winner's word for a tie as its skip reason


def sort(scan, con, multi_turn: bool, offset: int, judge: str, judges: list[str]) -> bool:
    """The stored battles and the stored votes of the load's `judges`, copied from the database
    (`con`) into the scan, streamed (a database of a million pairs held 200 MB more at the load's
    peak as one Arrow table); then the sorting (`judge`: a row's that names none; new pairs are
    numbered from `offset`). True when every labelled row is a new pair (ALL_NEW: sorted the short way)."""
    copies = {"stored": (STORED_PAIRS, []), "stored_votes": (STORED_VOTES, [judges])}
    for name, (sql, params) in copies.items():
        scan.register(f"{name}_in", con.execute(sql, params).to_arrow_reader(ROW_GROUP))
        scan.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_in")
        scan.unregister(f"{name}_in")
    scan.register("winners_in", pl.DataFrame({"word": list(WINNERS), "vote": [str(v) for v in WINNERS.values()]}))
    scan.execute("CREATE TABLE winners AS SELECT * FROM winners_in")
    scan.execute(ROWS, {"multi_turn": multi_turn, "judge": judge})
    all_new = scan.execute(ALL_NEW).fetchone()[0]
    if all_new:
        scan.execute(KEYED_ALL_NEW.format(offset=int(offset)))
        scan.execute(VOTES_ALL_NEW)
    else:
        scan.execute(KEYED, {"offset": offset})
        scan.execute(VOTES)
    return all_new


__all__ = ["ALL_NEW", "ALL_NEW_PAIRS", "BATTLE_KEY", "KEYED", "KEYED_ALL_NEW", "NEW_PAIRS", "ROWS", "STORED_PAIRS",
           "STORED_VOTES", "TEXT_KEY", "TIES", "VOTES", "VOTES_ALL_NEW", "sort"]
