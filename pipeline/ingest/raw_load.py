"""Storing raw labelled pairs (`pipeline.ingest.formats`) in one transaction, all or nothing.

A raw pair is stored as a pair without the paper's annotations (`annotated = FALSE`,
`usable = FALSE`, no paper features), with its `n_turns`, its attributes in
`pair_attributes`, its votes in `labels` (with the voter in `labels.rater`), the group
'All' and its style features. A battle already stored (same query, responses and
models; a row without models joins the pair of its texts) is not stored again: only votes
it did not have are added. Each row ends as a stored label, a counted skip with its reason
(a tie, a conflicting vote, another rater's vote) or a counted duplicate vote. `annotate` can later fill the
annotations of these pairs in place (a released-format record of the same pair).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import polars as pl
import pyarrow as pa

from .. import groups
from ..store import db as dbmod
from ..store import upsert
from . import raw_bulk, sources, writing
from .formats import RawPair, Reading
from .formats.base import CONFLICT, OTHER_RATER
from .release_rows import ALL_GROUP, SOURCE_ROW
from .writing import (
    MAX_PAIR_ID,
    BackgroundWriter,
    LoadReport,
    PairIds,
    battle_key,
    check_names,
    claim_source,
    cyclic_gc_paused,
    insert_style_rows,
    pair_key,
    read_ahead,
    refresh_custom_groups,
    row_groups,
    stored_by_key,
    style_rows,
)

PAIR_SCHEMA = {"pair_id": pl.Int64, "source_index": pl.Int64, "source_id": pl.String, "pair_key": pl.String,
               "query": pl.String, "model_1": pl.String, "model_2": pl.String, "response_1": pl.String,
               "response_2": pl.String, "n_turns": pl.Int64}
LABEL_SCHEMA = {"pair_id": pl.Int64, "judge": pl.String, "preferred": pl.Int8, "prob_1": pl.Float64,
                "rater": pl.String}
TIE_SCHEMA = {"source": pl.String, "judge": pl.String, "model_1": pl.String, "model_2": pl.String,
              "pair_id": pl.Int64, "rater": pl.String}
ATTRIBUTE_SCHEMA = {"pair_id": pl.Int64, "key": pl.String, "value": pl.String}
# no ON CONFLICT: a DuckLake table has no keys, so the statement keeps them
JUDGE_ROW = upsert.insert_new("judges", "(SELECT ? AS judge, ? AS kind, ? AS source, ? AS note)",
                              ("judge", "kind", "source", "note"), ("judge",))


def load_reading(reading: Reading, *, source: str, location: str | None, fingerprint: Callable[[], str | None],
                 db=None) -> LoadReport:
    """Store the raw pairs of one source; all or nothing. `fingerprint` gives the files' hash (the
    loader computes it beside this read of them): a source of that hash is not loaded again."""
    started = time.perf_counter()
    report = LoadReport(source=source, format=reading.format)
    # DuckDB starts reading the files while the database opens (raw_bulk.stage reads only them)
    staging = raw_bulk.stage(reading, report.notes) if BULK else None
    try:
        with cyclic_gc_paused(), dbmod.writing(db, job=f"load {source}") as con:
            done = _load(con, reading, report, staging, source=source, location=location, fingerprint=fingerprint)
    finally:
        if staging is not None:
            staging.close()  # once raw_bulk.prepare has taken it: waits for the scan dropped behind the commit
    report.seconds = time.perf_counter() - started
    return done


class _AlreadyLoaded(Exception):
    """The files' hash is a stored source's: nothing is written."""


def _load(con, reading: Reading, report: LoadReport, staging: raw_bulk.Stager | None, *, source: str,
          location: str | None, fingerprint: Callable[[], str | None]) -> LoadReport:
    """load_reading's work inside its write: the report, or another saying the source is loaded already."""
    kind = f"pairs:{reading.format}"
    types_before = groups.attribute_types(con)
    labels_before = con.execute("SELECT count(*) FROM labels").fetchone()[0]
    offset = con.execute("SELECT coalesce(max(pair_id)::BIGINT + 1, 0) FROM pairs").fetchone()[0]
    judges: set[str] = set()
    bulk = raw_bulk.prepare(staging, con, offset, report) if BULK else None  # reads only
    hashed: list[str | None] = []

    def before_writing() -> None:
        """A source of the files' hash is not loaded again; a source name taken must be of this kind.
        Checked at the first call; the later ones find it done."""
        if hashed:
            return
        hashed.append(fingerprint())
        if hashed[0] and con.execute("SELECT 1 FROM sources WHERE fingerprint = ?", [hashed[0]]).fetchone():
            raise _AlreadyLoaded
        claim_source(con, source, kind, False)

    try:
        if bulk is None:
            before_writing()
        else:  # a file of a layout with a scan: sorted in SQL (raw_bulk)
            _store_bulk(con, bulk, source, judges, before_writing)
    except _AlreadyLoaded:
        return LoadReport(source=source, format=reading.format, already_loaded=True)
    finally:  # the scan and its spill folder go, whatever happened, while the load goes on
        if bulk is not None:
            bulk.close_behind()
    fingerprint_ = hashed[0]
    if bulk is None:
        battles = _store_row_by_row(con, reading, source, offset, judges, report)
    report.records = reading.rows
    if reading.rows == 0:
        raise sources.SourceError(f"{source}: no records")
    report.new_labels = con.execute("SELECT count(*) FROM labels").fetchone()[0] - labels_before
    con.execute(SOURCE_ROW, [source, kind, location, fingerprint_, False, report.new_pairs])
    if bulk is None:
        _store_ties(con, reading.skips.ties, source, battles, judges)
    for judge in sorted(judges):
        check_names({"judge": judge})
        judge_kind = reading.judge_kinds.get(judge, "human" if judge.startswith("human") else "llm")
        con.execute(JUDGE_ROW, [judge, judge_kind, source, reading.judge_notes.get(judge)])
    report.judges = sorted(judges)
    report.skipped = reading.skips.lines()
    report.left_out = reading.skips.total()
    refresh_custom_groups(con, types_before)
    return report


BULK = True  # False: every file row by row (tests compare the two paths)


def _store_row_by_row(con, reading: Reading, source: str, offset: int, judges: set[str],
                      report: LoadReport) -> "Battles":
    """Read, sort and store the pairs one chunk of rows at a time; the battles, for the ties."""
    pairs = reading.pairs()
    # The writer thread inserts a chunk (DuckDB releases the GIL) while this thread reads the next,
    # sorts it out and computes its measures (polars, on its own threads).
    writer = BackgroundWriter(con)
    try:
        battles = Battles(con, PairIds(con, offset), idle=writer.wait)
        while chunk := list(itertools.islice(pairs, writing.CHUNK)):
            writer.submit(_store_rows, _sort_chunk(chunk, battles, judges, report, reading.skips), source)
        writer.wait()
    finally:
        writer.close()
    return battles


def _store_bulk(con, bulk: raw_bulk.Bulk, source: str, judges: set[str], before_writing: Callable[[], None]) -> None:
    """Store a staged file (`raw_bulk`): its new pairs a chunk at a time (measured here while the
    writer thread stores the last chunk), then its new labels and its ties. `before_writing` is
    called before each write that may be the first (only its first call does anything): it waits
    for the files' hash, which the loader takes on a thread of the lowest priority, once the first
    chunk is measured. Asked for then, the hash has had the staging's idle moments
    and the first chunk's measuring (while the writer has nothing to store) to be taken in, rather
    than holding a core against the staging: a million HH-RLHF battles 0.25 to 0.4 s sooner
    (alternating runs, six each, twice)."""
    # The writer's buffers stay bounded while the scan's are in use too (issue 18: under 2 GB)
    con.execute(f"SET memory_limit = '{raw_bulk.WRITER_MEMORY}'")
    writer = BackgroundWriter(con)
    # The next chunk is fetched while this one is measured (0.3 s sooner for a million plain pairs),
    # but not when the pairs carry attributes: a third wide chunk held 100 MB more at the peak of an
    # LMArena load, which then ended no sooner (1.4 s later in two runs of each)
    chunks = bulk.chunks() if bulk.attributes else read_ahead(bulk.chunks())
    try:
        for batch in chunks:
            # measured from the Arrow batch (the compiled count reads its texts in place, polars
            # copies them for the rest); the pairs are stored from it too
            style = style_rows(batch.select(["pair_id", "response_1", "response_2"]))
            counts = style.word_counts
            pairs = (pa.Table.from_batches([batch]).select(list(PAIR_SCHEMA))
                     .append_column("num_words_1", counts["words_1"]).append_column("num_words_2", counts["words_2"]))
            attrs = pa.Table.from_batches([batch.select(["pair_id", *bulk.attributes])]) if bulk.attributes else None
            before_writing()
            writer.submit(_store_staged, (pairs, attrs, style), source)
        # The scan has streamed its last pair: while the writer stores the last chunks, it finds
        # the ties and the judges, and sorts the new votes (streamed into the insert below)
        tie_votes = bulk.ties(source)
        judges.update(bulk.judges())
        new_votes = bulk.labels()
        writer.wait()
        before_writing()  # with no new pairs, the labels are the first write
    finally:
        chunks.close()  # a fetch under way ends here, before the scan it reads from is closed
        writer.close()
    _insert_labels(con, new_votes)
    if tie_votes is not None and len(tie_votes):
        _insert_ties(con, tie_votes)


# The Arrow tables and frames below are read by DuckDB by their Python names, which must not be
# names of tables of the database (DuckDB would read those instead).

def _insert_labels(con, new_votes) -> None:
    """Labels from a frame or Arrow table with LABEL_SCHEMA's columns."""
    con.execute("INSERT INTO labels (pair_id, judge, preferred, prob_1, rater) "
                "SELECT pair_id, judge, preferred, prob_1, rater FROM new_votes")


def _insert_ties(con, tie_votes) -> None:
    """Tie votes from a frame or Arrow table with TIE_SCHEMA's columns."""
    con.execute("INSERT INTO ties (source, judge, model_1, model_2, pair_id, rater) "
                "SELECT source, judge, model_1, model_2, pair_id, rater FROM tie_votes")


class Battles:
    """Which stored pair a row is. A battle is its query, both texts and both models: texts equal to a
    stored pair's but other models make a battle of their own; a row without models joins the pair of
    its texts. Also which (pair, judge) votes are stored: one label per judge and battle."""

    def __init__(self, con, ids: PairIds, idle=lambda: None):
        self.con, self.ids = con, ids
        self.idle = idle  # waits until the connection is free (the writer thread done with its chunk)
        # key -> (pair id, model 1, model 2) of this load's battles and of the stored ones its rows
        # met (`look_up`, a chunk at a time): all the stored ones took 1.45 GB at 2.85 million pairs
        self.known: dict[str, tuple[int, str | None, str | None]] = {}
        self.stored_any = ids.offset > 0  # the offset is the largest stored id + 1, 0 with none
        self.fresh: set[int] = set()              # pair ids given in this load
        self.votes: dict[tuple[int, str], tuple[int, str | None]] = {}  # (pid, judge) -> (vote, rater)

    def look_up(self, pairs: list, keys: list[str]) -> None:
        """Bring into `known` the stored battles these pairs (with their text keys) may be: the
        pairs of their texts, then the battles of those texts met here with other models."""
        if not self.stored_any:
            return
        self._fetch({k for k in keys if k not in self.known})
        others = {battle_key(k, p.model_1, p.model_2) for p, k in zip(pairs, keys)
                  if k in self.known and not self._same(self.known[k], p)}
        self._fetch(others - self.known.keys())

    def _fetch(self, keys: set[str]) -> None:
        if keys:
            self.idle()
            for k, pid, m1, m2 in stored_by_key(self.con, keys, "pair_id, model_1, model_2"):
                self.known[k] = (pid, m1, m2)

    @staticmethod
    def _same(hit: tuple, pair) -> bool:
        """Whether a pair of the hit's texts is its battle: the row names no model, or the same two."""
        return (pair.model_1 is None and pair.model_2 is None) or hit[1:] == (pair.model_1, pair.model_2)

    def find(self, pair: RawPair, key: str | None = None) -> tuple[int | None, str]:
        """(stored pair id or None, the key a new battle gets); `key`: the pair's text key, where
        known. The stored battles must have been looked up (`look_up`)."""
        key = key or pair_key(pair.query, pair.response_1, pair.response_2)
        hit = self.known.get(key)
        if hit is None:
            return None, key
        if self._same(hit, pair):
            return hit[0], key
        other = battle_key(key, pair.model_1, pair.model_2)
        found = self.known.get(other)
        return (found[0] if found else None), other

    def next_id(self, position: int) -> int:
        if self.ids.offset + position > MAX_PAIR_ID:  # past it, PairIds reads the stored ids
            self.idle()
        return self.ids(position)

    def stored_votes(self, pids: list[int]) -> None:
        """The labels already stored on these pairs, before a chunk's votes are judged against them."""
        pids = [p for p in pids if p not in self.fresh]
        if not pids:
            return
        self.idle()
        ids = pl.DataFrame({"pair_id": pids}, schema={"pair_id": pl.Int64})  # noqa: F841
        for pid, judge, preferred, rater in self.con.execute(
                "SELECT pair_id, judge, preferred, rater FROM labels WHERE pair_id IN (SELECT pair_id FROM ids)"
        ).fetchall():
            self.votes.setdefault((pid, judge), (preferred, rater))


def _store_ties(con, ties, source: str, battles: "Battles", judges: set[str]) -> None:
    """Tie votes, for boards that count a tie as half a win (`leaderboard --ties half`); each
    names its stored pair when the row was stored for its other votes."""
    if not ties:
        return
    keys = [pair_key(t.query, t.response_1, t.response_2) for t in ties]
    battles.look_up(ties, keys)
    rows = [(source, t.judge, t.model_1, t.model_2, battles.find(t, key)[0],
             t.rater) for t, key in zip(ties, keys)]
    _insert_ties(con, pl.DataFrame(rows, schema=TIE_SCHEMA, orient="row"))
    judges.update(t.judge for t in ties)


def _sort_chunk(chunk: list[RawPair], battles: Battles, judges: set[str], report: LoadReport, skips) -> tuple:
    """(new pairs, their attributes, new labels, their style rows) of a chunk: which rows are new
    battles, which votes are new, counted in `report` and `skips`."""
    new: list[tuple] = []
    attributes: list[tuple[int, str, str]] = []
    labels: list[tuple] = []
    keys = [pair_key(pair.query, pair.response_1, pair.response_2) for pair in chunk]
    battles.look_up(chunk, keys)
    found = [battles.find(pair, key) for pair, key in zip(chunk, keys)]
    battles.stored_votes([pid for pid, _ in found if pid is not None])
    for pair, text_key, (pid, key) in zip(chunk, keys, found):
        if pid is None:  # an earlier row of this chunk may have stored the same battle
            pid, key = battles.find(pair, text_key)
        if pid is None:
            pid = battles.next_id(pair.position)
            battles.known[key] = (pid, pair.model_1, pair.model_2)
            battles.fresh.add(pid)
            report.new_pairs += 1
            new.append((pid, pair.position, pair.source_id, key, pair.query, pair.model_1, pair.model_2,
                        pair.response_1, pair.response_2, pair.n_turns))
            attributes.extend((pid, k, v) for k, v in pair.attributes.items())
        elif pid in battles.fresh:
            report.duplicates_in_source += 1
        else:
            report.existing_pairs += 1
        for label in pair.labels:
            had = battles.votes.get((pid, label.judge))
            if had is None:
                battles.votes[(pid, label.judge)] = (label.preferred, label.rater)
                labels.append((pid, label.judge, label.preferred, label.prob_1, label.rater))
                judges.add(label.judge)
            elif had[1] != label.rater:
                skips.votes[OTHER_RATER] += 1
            elif had[0] != label.preferred:
                skips.votes[CONFLICT] += 1
            else:
                skips.duplicates += 1
    # polars builds each chunk's tables column-wise from the readers' rows in one pass (here: the
    # writer thread would hold the GIL for it), and DuckDB reads them through Arrow without a copy.
    frame = pl.DataFrame(new, schema=PAIR_SCHEMA, orient="row")
    attrs = pl.DataFrame(attributes, schema=ATTRIBUTE_SCHEMA, orient="row") if attributes else None
    votes = pl.DataFrame(labels, schema=LABEL_SCHEMA, orient="row") if labels else None
    frame, style = _measured(frame)
    return frame, attrs, votes, style


def _measured(frame: pl.DataFrame):
    """(new pairs with their word counts, their style rows or None when there are none). The measures
    are computed here (polars works on its own threads): the writer thread only inserts, and the
    pairs go in with their word counts, so no UPDATE of the pairs table follows."""
    style = style_rows(frame.select("pair_id", "response_1", "response_2")) if frame.height else None
    if style is not None:
        counts = pl.from_arrow(style.word_counts)
        frame = frame.with_columns(num_words_1=counts["words_1"], num_words_2=counts["words_2"])
    return frame, style


def _store_rows(con, rows: tuple, source: str) -> None:
    """Insert a chunk's rows (`_sort_chunk`), with the new pairs' measures and style features."""
    frame, attrs, votes, style = rows  # noqa: F841 - read by DuckDB below
    if style is None:
        frame = frame.with_columns(num_words_1=pl.lit(None, pl.Int64), num_words_2=pl.lit(None, pl.Int64))
    _insert_pairs(con, frame, source)
    if attrs is not None:
        attrs = row_groups(attrs)  # noqa: F841 - a thread per row group
        con.execute("INSERT INTO pair_attributes (pair_id, key, value) SELECT pair_id, key, value FROM attrs")
    if votes is not None:
        _insert_labels(con, votes)
    if style is not None:
        insert_style_rows(con, style, fill_word_counts=False)


def _store_staged(con, rows: tuple, source: str) -> None:
    """Insert a staged chunk (`_store_bulk`): its new pairs, the pairs' attributes as the staged
    columns (pair_id and one column per attribute, NULL where a pair has none), and their style rows."""
    pairs, attrs, style = rows  # noqa: F841 - read by DuckDB below
    _insert_pairs(con, pairs, source)
    if attrs is not None:
        # DuckDB unpivots them on its threads, as it inserts (LMArena, 8.5 rows a pair: a long frame
        # made in polars held 100 MB more at the load's peak); UNPIVOT leaves out the NULLs
        attrs = row_groups(attrs)  # noqa: F841
        con.execute("INSERT INTO pair_attributes (pair_id, key, value) SELECT pair_id, key, value "
                    "FROM (UNPIVOT attrs ON COLUMNS(* EXCLUDE (pair_id)) INTO NAME key VALUE value)")
    insert_style_rows(con, style, fill_word_counts=False)


def _insert_pairs(con, frame, source: str) -> None:
    """The new pairs (PAIR_SCHEMA's columns and their word counts, a frame or Arrow), each in the
    group 'All'."""
    frame = row_groups(frame)  # noqa: F841 - a thread per row group
    con.execute("INSERT INTO pairs (pair_id, source, source_index, source_id, pair_key, query, model_1, model_2, "
                "response_1, response_2, num_words_1, num_words_2, n_turns, annotated, usable) "
                "SELECT pair_id, ?, source_index, source_id, pair_key, query, model_1, model_2, response_1, "
                "response_2, num_words_1, num_words_2, n_turns, FALSE, FALSE FROM frame", [source])
    con.execute("INSERT INTO pair_groups (pair_id, group_name, group_kind) SELECT pair_id, ?, ? FROM frame",
                list(ALL_GROUP))
