"""Storing raw labelled pairs (`pipeline.ingest.formats`) in one transaction, all or nothing.

A raw pair is stored as a pair without the paper's annotations (`annotated = FALSE`,
`usable = FALSE`, no paper features), with its `n_turns`, its attributes in
`pair_attributes`, its votes in `labels` (with the voter in `labels.rater`), the group
'All' and its style features. A pair already stored (same query and responses) is not
stored again: only labels it did not have are added. `annotate` can later fill the
annotations of these pairs in place (a released-format record of the same pair).
"""

from __future__ import annotations

import itertools
import time

import polars as pl

from ..store import db as dbmod
from . import sources
from .formats import RawPair, Reading
from .release_rows import ALL_GROUP
from . import writing
from .writing import LoadReport, add_style_features, check_names, cyclic_gc_paused, pair_key, refresh_custom_groups

PAIR_SCHEMA = {"pair_id": pl.Int64, "source_index": pl.Int64, "source_id": pl.String, "pair_key": pl.String,
               "query": pl.String, "model_1": pl.String, "model_2": pl.String, "response_1": pl.String,
               "response_2": pl.String, "n_turns": pl.Int64}
LABEL_SCHEMA = {"pair_id": pl.Int64, "judge": pl.String, "preferred": pl.Int8, "prob_1": pl.Float64,
                "rater": pl.String}
TIE_SCHEMA = {"source": pl.String, "judge": pl.String, "model_1": pl.String, "model_2": pl.String,
              "pair_id": pl.Int64, "rater": pl.String}
ATTRIBUTE_SCHEMA = {"pair_id": pl.Int64, "key": pl.String, "value": pl.String}


def load_reading(reading: Reading, *, source: str, location: str | None, fingerprint: str | None,
                 db=None) -> LoadReport:
    """Store the raw pairs of one source; all or nothing."""
    started = time.perf_counter()
    report = LoadReport(source=source, format=reading.format)
    with cyclic_gc_paused(), dbmod.writing(db, job=f"load {source}") as con:
        if fingerprint and con.execute("SELECT 1 FROM sources WHERE fingerprint = ?", [fingerprint]).fetchone():
            report.already_loaded = True
            return report
        labels_before = con.execute("SELECT count(*) FROM labels").fetchone()[0]
        known = dict(con.execute("SELECT pair_key, pair_id FROM pairs").fetchall())
        offset = con.execute("SELECT coalesce(max(pair_id) + 1, 0) FROM pairs").fetchone()[0]
        judges: set[str] = set()
        pairs = reading.pairs()
        while chunk := list(itertools.islice(pairs, writing.CHUNK)):
            _store_chunk(con, chunk, source, known, offset, judges, report)
        report.records = reading.rows
        if reading.rows == 0:
            raise sources.SourceError(f"{source}: no records")
        report.new_labels = con.execute("SELECT count(*) FROM labels").fetchone()[0] - labels_before
        con.execute(
            "INSERT INTO sources (source, kind, location, fingerprint, generated, n_pairs) VALUES (?, ?, ?, ?, FALSE, ?) "
            "ON CONFLICT (source) DO UPDATE SET n_pairs = sources.n_pairs + excluded.n_pairs, "
            "fingerprint = excluded.fingerprint, loaded_at = now()",
            [source, f"pairs:{reading.format}", location, fingerprint, report.new_pairs])
        _store_ties(con, reading.skips.ties, source, known, judges)
        for judge in sorted(judges):
            check_names({"judge": judge})
            kind = reading.judge_kinds.get(judge, "human" if judge.startswith("human") else "llm")
            con.execute("INSERT INTO judges (judge, kind, source, note) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [judge, kind, source, reading.judge_notes.get(judge)])
        report.judges = sorted(judges)
        report.skipped = reading.skips.lines()
        refresh_custom_groups(con)
    report.seconds = time.perf_counter() - started
    return report


def _store_ties(con, ties, source: str, known: dict[str, int], judges: set[str]) -> None:
    """Tie votes, for boards that count a tie as half a win (`leaderboard --ties half`); each
    names its stored pair when the row was stored for its other votes."""
    if not ties:
        return
    rows = [(source, t.judge, t.model_1, t.model_2, known.get(pair_key(t.query, t.response_1, t.response_2)),
             t.rater) for t in ties]
    frame = pl.DataFrame(rows, schema=TIE_SCHEMA, orient="row")  # noqa: F841 - read by DuckDB
    con.execute("INSERT INTO ties (source, judge, model_1, model_2, pair_id, rater) "
                "SELECT source, judge, model_1, model_2, pair_id, rater FROM frame")
    judges.update(t.judge for t in ties)


def _store_chunk(con, chunk: list[RawPair], source: str, known: dict[str, int], offset: int,
                 judges: set[str], report: LoadReport) -> None:
    new: list[tuple] = []
    attributes: list[tuple[int, str, str]] = []
    labels: list[tuple] = []
    for pair in chunk:
        key = pair_key(pair.query, pair.response_1, pair.response_2)
        pid = known.get(key)
        if pid is None:
            pid = known[key] = offset + pair.position
            report.new_pairs += 1
            new.append((pid, pair.position, pair.source_id, key, pair.query, pair.model_1, pair.model_2,
                        pair.response_1, pair.response_2, pair.n_turns))
            attributes.extend((pid, k, v) for k, v in pair.attributes.items())
        elif pid >= offset:
            report.duplicates_in_source += 1
        else:
            report.existing_pairs += 1
        for label in pair.labels:
            labels.append((pid, label.judge, label.preferred, label.prob_1, label.rater))
            judges.add(label.judge)
    # polars builds each chunk's tables column-wise from the readers' rows in one pass, and DuckDB
    # reads them through Arrow without a copy; the style features take the same frame.
    frame = pl.DataFrame(new, schema=PAIR_SCHEMA, orient="row")  # noqa: F841 - read by DuckDB below
    con.execute("INSERT INTO pairs (pair_id, source, source_index, source_id, pair_key, query, model_1, model_2, "
                "response_1, response_2, n_turns, annotated, usable) "
                "SELECT pair_id, ?, source_index, source_id, pair_key, query, model_1, model_2, response_1, "
                "response_2, n_turns, FALSE, FALSE FROM frame", [source])
    con.execute("INSERT INTO pair_groups (pair_id, group_name, group_kind) SELECT pair_id, ?, ? FROM frame",
                list(ALL_GROUP))
    if attributes:
        attrs = pl.DataFrame(attributes, schema=ATTRIBUTE_SCHEMA, orient="row")  # noqa: F841
        con.execute("INSERT INTO pair_attributes (pair_id, key, value) SELECT pair_id, key, value FROM attrs")
    if labels:
        votes = pl.DataFrame(labels, schema=LABEL_SCHEMA, orient="row")  # noqa: F841
        con.execute("INSERT INTO labels (pair_id, judge, preferred, prob_1, rater) "
                    "SELECT pair_id, judge, preferred, prob_1, rater FROM votes ON CONFLICT DO NOTHING")
    add_style_features(con, frame.select("pair_id", "response_1", "response_2"))

