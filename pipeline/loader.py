"""Loading released-format records into the database, in one transaction.

The same path serves the release, the generated demo and freshly annotated pairs: every
record is checked (`records.parse_record`), turned into rows of the tidy tables, and its
features computed (`features.pair_features`). A record that breaks the format stops the
load and nothing of it stays. A pair already in the database (same query and responses)
is not stored again; only labels it did not have are added, and a stored raw pair (one
loaded without annotations, `annotated = FALSE`) gets the record's annotations in place.
Every new pair joins the group 'All' and gets its style features (`pipeline.style`).
Raw labelled pairs in other formats (`pipeline.formats`) are stored by `pipeline.raw_pairs`.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import db as dbmod
from . import sources
from .features import feature_matrix, usable
from .properties import ALL_GROUP as ALL_GROUP_NAME
from .properties import ALL_KIND, BASIC, PROPERTY_NAMES, QUERY_GROUPS
from .records import MAX_COUNT, Pair, RecordError, parse_record

CHUNK = 5000  # pairs per insert: bounds memory on large files
ALL_GROUP = (ALL_GROUP_NAME, ALL_KIND)  # every pair's group, so pairs without scenario groups can be fitted


@dataclass
class LoadReport:
    source: str
    records: int = 0
    new_pairs: int = 0
    existing_pairs: int = 0
    duplicates_in_source: int = 0
    new_labels: int = 0
    usable_pairs: int = 0
    judges: list[str] = field(default_factory=list)
    seconds: float = 0.0
    already_loaded: bool = False
    format: str = "release"
    annotated_in_place: int = 0         # stored raw pairs that got this source's annotations
    skipped: list[str] = field(default_factory=list)  # one line per reason rows or votes were left out

    def summary(self) -> str:
        if self.already_loaded:
            return f"{self.source}: already loaded, nothing changed"
        if self.format != "release":
            return (f"{self.source} ({self.format}): {self.records} rows, {self.new_pairs} new raw pairs, "
                    f"{self.existing_pairs} already present, {self.new_labels} new labels from "
                    f"{len(self.judges)} judges, in {self.seconds:.1f} s")
        filled = f", {self.annotated_in_place} stored raw pairs annotated" if self.annotated_in_place else ""
        return (f"{self.source}: {self.records} records, {self.new_pairs} new pairs "
                f"({self.usable_pairs} usable for fitting), {self.existing_pairs} already present{filled}, "
                f"{self.new_labels} new labels from {len(self.judges)} judges, in {self.seconds:.1f} s")


def pair_key(query: str, response_1: str, response_2: str) -> str:
    h = hashlib.sha1()
    for part in (query, response_1, response_2):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def pair_group_rows(pair: Pair) -> list[tuple[str, str]]:
    """(group_name, group_kind) for every group the pair belongs to (SPEC section 5)."""
    rows = []
    if pair.scenario_group:
        rows.append((pair.scenario_group, "scenario"))
    met = {
        "intent_unclear": pair.clear_intent is False,
        "express_feeling": pair.express_feelings is True,
        "w_constraints": bool(pair.constraints),
        "w_stances": bool(pair.stances),
        "w_mistakes": bool(pair.mistakes),
    }
    rows += [(g.name, "query-specific") for g in QUERY_GROUPS if met[g.key]]
    return rows


def _tiled(values: list[str], n: int) -> pa.DictionaryArray:
    """`values` repeated n times as a dictionary array: DuckDB reads it as text, without
    building n Python copies of each name."""
    return pa.DictionaryArray.from_arrays(np.tile(np.arange(len(values), dtype=np.int32), n), pa.array(values))


_BASIC_NAMES = [p.name for p in BASIC]
_BASIC_KEYS = [p.source_key for p in BASIC]
_RESPONSE_OF_RATING = np.repeat(np.array([1, 2], dtype=np.int8), len(BASIC))  # r1's 20 ratings, then r2's


class _Chunk:
    """The rows of one chunk of records, built table by table (columns, not a Python tuple per
    row) and inserted as Arrow tables: the ratings, features and labels of 100,000 pairs are
    millions of rows."""

    def __init__(self):
        self.new: list[tuple[int, str, Pair]] = []         # (pid, pair_key, pair): pairs stored now
        self.annotated: list[tuple[int, Pair, bool]] = []  # (pid, pair, new?): annotations stored now
        self.fresh = ([], [], [])  # labels of pairs stored now (pid, judge, choice): no conflict possible
        self.more = ([], [], [])   # labels of pairs stored before or repeated in the source

    def add_labels(self, pid: int, pair: Pair, fresh: bool) -> None:
        pids, judges, choices = self.fresh if fresh else self.more
        pids.extend([pid] * len(pair.labels))
        judges.extend(pair.labels)
        choices.extend(pair.labels.values())

    def tables(self, source: str) -> list[tuple[str, dict]]:
        """(table, columns) in insertion order; the ON CONFLICT cases are decided in `flush`."""
        ann = [p for _, p, _ in self.annotated]
        pids = [pid for pid, _, _ in self.annotated]
        ok = [usable(p) for p in ann]
        out = []
        if self.new:
            out.append(("pairs", {
                "pair_id": [pid for pid, _, _ in self.new], "source": [source] * len(self.new),
                "source_index": [p.position for _, _, p in self.new],
                "source_id": [p.source_id for _, _, p in self.new], "pair_key": [k for _, k, _ in self.new],
                "query": [p.query for _, _, p in self.new],
                "scenario_auto_j": [p.scenario_auto_j for _, _, p in self.new],
                "scenario_group": [p.scenario_group for _, _, p in self.new],
                "model_1": [p.r1.model for _, _, p in self.new], "model_2": [p.r2.model for _, _, p in self.new],
                "response_1": [p.r1.content for _, _, p in self.new],
                "response_2": [p.r2.content for _, _, p in self.new],
                "num_words_1": [p.r1.num_words for _, _, p in self.new],
                "num_words_2": [p.r2.num_words for _, _, p in self.new],
                "reference": [p.reference for _, _, p in self.new],
                "usable": [o for o, (_, _, is_new) in zip(ok, self.annotated) if is_new]}))
        filled = [(pid, p, o) for (pid, p, is_new), o in zip(self.annotated, ok) if not is_new]
        if filled:
            out.append(("pair_updates", {
                "pair_id": [pid for pid, _, _ in filled], "scenario_auto_j": [p.scenario_auto_j for _, p, _ in filled],
                "scenario_group": [p.scenario_group for _, p, _ in filled],
                "num_words_1": [p.r1.num_words for _, p, _ in filled],
                "num_words_2": [p.r2.num_words for _, p, _ in filled],
                "reference": [p.reference for _, p, _ in filled], "usable": [o for _, _, o in filled]}))
        if ann:
            out += self._annotation_tables(pids, ann, ok)
        for table, (lp, lj, lc) in (("labels", self.fresh), ("labels_more", self.more)):
            if lp:
                out.append((table, {"pair_id": lp, "judge": lj, "preferred": lc, "prob_1": pa.nulls(len(lp))}))
        return out

    def _annotation_tables(self, pids: list[int], ann: list[Pair], ok: list[bool]) -> list[tuple[str, dict]]:
        n = len(ann)
        groups = ([], [], [])
        items = ([], [], [], [])
        errors = ([], [], [], [], [], [])
        qs = ([], [], [], [], [], [], [])
        for pid, pair, (_, _, is_new) in zip(pids, ann, self.annotated):
            rows = ([ALL_GROUP] if is_new else []) + pair_group_rows(pair)
            for group, kind in rows:
                groups[0].append(pid), groups[1].append(group), groups[2].append(kind)
            for kind, texts in (("constraint", pair.constraints), ("stance", pair.stances), ("mistake", pair.mistakes)):
                for i, text in enumerate(texts):
                    for col, v in zip(items, (pid, kind, i, text)):
                        col.append(v)
            for r, resp in ((1, pair.r1), (2, pair.r2)):
                for i, e in enumerate(resp.errors):
                    for col, v in zip(errors, (pid, r, i, e["severity"], e["type"], e["description"])):
                        col.append(v)
                for prop, rated in resp.query_specific.items():
                    for i, item in enumerate(rated):
                        for col, v in zip(qs, (pid, r, prop, i, item.description, item.label, item.score)):
                            col.append(v)
        scores = [v for p in ann for resp in (p.r1, p.r2) for v in map(resp.ratings.__getitem__, _BASIC_KEYS)]
        use = [i for i, o in enumerate(ok) if o]
        feats = feature_matrix([ann[i] for i in use])
        out = [
            ("query_facts", {"pair_id": pids, "clear_intent": [p.clear_intent for p in ann],
                             "express_feelings": [p.express_feelings for p in ann],
                             "n_constraints": [len(p.constraints) for p in ann],
                             "n_stances": [len(p.stances) for p in ann], "n_mistakes": [len(p.mistakes) for p in ann]}),
            ("query_items", dict(zip(["pair_id", "item_kind", "item_index", "text"], items))),
            ("ratings", {"pair_id": np.repeat(np.array(pids, dtype=np.int64), 2 * len(BASIC)),
                         "response": np.tile(_RESPONSE_OF_RATING, n), "property": _tiled(_BASIC_NAMES, 2 * n),
                         "aspect": _tiled(_BASIC_KEYS, 2 * n), "score": pa.array(scores, pa.float64())}),
            ("error_checks", {"pair_id": np.repeat(np.array(pids, dtype=np.int64), 2),
                              "response": np.tile(np.array([1, 2], dtype=np.int8), n),
                              "applicable": [a for p in ann for a in (p.r1.applicable, p.r2.applicable)]}),
            ("errors", dict(zip(["pair_id", "response", "error_index", "severity", "error_type", "description"],
                                errors))),
            ("query_specific", dict(zip(["pair_id", "response", "property", "item_index", "description", "label",
                                         "score"], qs))),
            ("features", {"pair_id": np.repeat(np.array([pids[i] for i in use], dtype=np.int64), len(PROPERTY_NAMES)),
                          "property": _tiled(PROPERTY_NAMES, len(use)), "value": feats.ravel()}),
            ("pair_groups", dict(zip(["pair_id", "group_name", "group_kind"], groups))),
        ]
        return [(t, cols) for t, cols in out if len(cols["pair_id"])]

    def flush(self, con, source: str, labels_may_clash: bool) -> None:
        for table, cols in self.tables(source):
            # Read by name from this frame: a registered table would stay in memory until COMMIT.
            chunk_rows = pa.table(cols)  # noqa: F841
            names = ", ".join(cols)
            if table == "pair_updates":
                sets = ", ".join(f"{c} = chunk_rows.{c}" for c in cols if c != "pair_id")
                con.execute(f"UPDATE pairs SET annotated = TRUE, {sets} FROM chunk_rows "
                            "WHERE pairs.pair_id = chunk_rows.pair_id")
            elif table == "pair_groups" or table == "labels_more" or (table == "labels" and labels_may_clash):
                # a repeated label, or 'All' of a raw pair annotated now, or a scenario named as a query group
                con.execute(f"INSERT INTO {table.removesuffix('_more')} ({names}) SELECT {names} FROM chunk_rows "
                            "ON CONFLICT DO NOTHING")
            else:  # plain INSERT: ON CONFLICT costs twice as much on millions of label rows
                con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM chunk_rows")


class _Writer:
    """A background thread that stores one chunk while the next is read and checked. DuckDB
    and polars release the GIL while they work, so on two cores the inserts overlap the
    Python checks. One chunk at a time: memory stays bounded, and the order is the records'."""

    def __init__(self, con):
        self.con = con
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-writer")
        self.pending: Future | None = None

    def submit(self, fn, *args) -> None:
        self.wait()
        self.pending = self.pool.submit(fn, self.con, *args)

    def wait(self) -> None:
        """Until the chunk being stored is stored; raises its error."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Also after a failed record: the running insert ends before the transaction is rolled back."""
        self.pool.shutdown(wait=True)


def _store_chunk(con, chunk: _Chunk, new_texts: list, source: str, labels_may_clash: bool) -> None:
    chunk.flush(con, source, labels_may_clash)
    add_style_features(con, new_texts)


def _first_ids_usable(records: list[dict]) -> bool:
    """In an empty database, records' own integer ids become pair ids if they are clean."""
    ids = [r.get("id") for r in records if isinstance(r, dict)]
    return (len(ids) == len(records)
            and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= MAX_COUNT for i in ids)
            and len(set(ids)) == len(ids))


def _own_id(rec: dict, pair: Pair, taken: set[int]) -> int:
    rid = rec.get("id")
    if not isinstance(rid, int) or isinstance(rid, bool) or not 0 <= rid <= MAX_COUNT or rid in taken:
        raise RecordError(f"record {pair.position}", "id",
                          f"the first records carry unique integer ids, so every record must; got {rid!r}")
    return rid


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """A load makes millions of short-lived objects without reference cycles (refcounting frees
    them); the cyclic collector would scan every live one again and again: about a third of
    the CPU time of reading and checking records."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_records(records: Iterable[dict], *, source: str, kind: str = "release", location: str | None = None,
                 fingerprint: str | None = None, generated: bool = False, db=None,
                 judge_kinds: dict[str, str] | None = None) -> LoadReport:
    """Load released-format records from one source; all or nothing."""
    started = time.perf_counter()
    report = LoadReport(source=source)
    path = dbmod.resolve_db_path(db)
    existed = path.exists()
    try:
        with cyclic_gc_paused():
            _load(con_db=db, records=records, source=source, kind=kind, location=location,
                  fingerprint=fingerprint, generated=generated, judge_kinds=judge_kinds, report=report)
    except BaseException:
        if not existed:  # a failed first load leaves no file behind, as before
            for p in (path, Path(str(path) + ".wal")):
                p.unlink(missing_ok=True)
        raise
    report.seconds = time.perf_counter() - started
    return report


def _load(*, con_db, records, source, kind, location, fingerprint, generated, judge_kinds, report) -> None:
    with dbmod.writing(con_db) as con:
        if fingerprint and con.execute("SELECT 1 FROM sources WHERE fingerprint = ?", [fingerprint]).fetchone():
            report.already_loaded = True
            return
        labels_before = _count_labels(con)
        known = dict(con.execute("SELECT pair_key, pair_id FROM pairs").fetchall())
        raw = {r[0] for r in con.execute("SELECT pair_id FROM pairs WHERE NOT annotated").fetchall()}
        empty = not known
        offset = con.execute("SELECT coalesce(max(pair_id) + 1, 0) FROM pairs").fetchone()[0]
        judges: set[str] = set()
        taken: set[int] = set()  # pair ids given in this load
        # Labels of a new pair cannot clash with stored ones, unless labels point past the last pair.
        labels_may_clash = con.execute("SELECT coalesce(max(pair_id), -1) FROM labels").fetchall()[0][0] >= offset
        records = iter(records)
        position = 0
        use_ids = None
        writer = _Writer(con)
        try:
            while True:
                buffer = [r for _, r in zip(range(CHUNK), records)]
                if not buffer:
                    break
                if use_ids is None:  # decided once, on the first chunk
                    use_ids = empty and _first_ids_usable(buffer)
                chunk = _Chunk()
                new_texts: list[tuple[int, str, str]] = []
                for rec in buffer:
                    pair = parse_record(rec, position)
                    position += 1
                    key = pair_key(pair.query, pair.r1.content, pair.r2.content)
                    if key in known:
                        pid = known[key]
                        if pid >= offset:
                            report.duplicates_in_source += 1
                        else:
                            report.existing_pairs += 1
                        if pid in raw:  # loaded earlier without annotations: annotate it in place
                            raw.discard(pid)
                            report.annotated_in_place += 1
                            chunk.annotated.append((pid, pair, False))
                        chunk.add_labels(pid, pair, fresh=False)
                    else:
                        pid = _own_id(rec, pair, taken) if use_ids else offset + pair.position
                        known[key] = pid
                        taken.add(pid)
                        report.new_pairs += 1
                        chunk.new.append((pid, key, pair))
                        chunk.annotated.append((pid, pair, True))
                        chunk.add_labels(pid, pair, fresh=True)
                        new_texts.append((pid, pair.r1.content, pair.r2.content))
                    judges.update(pair.labels)
                report.usable_pairs += sum(usable(p) for _, p, _ in chunk.annotated)
                writer.submit(_store_chunk, chunk, new_texts, source, labels_may_clash)
            writer.wait()
        finally:
            writer.close()
        report.records = position
        if position == 0:
            raise sources.SourceError(f"{source}: no records")
        report.new_labels = _count_labels(con) - labels_before
        con.execute(
            "INSERT INTO sources (source, kind, location, fingerprint, generated, n_pairs) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET n_pairs = sources.n_pairs + excluded.n_pairs, "
            "fingerprint = excluded.fingerprint, loaded_at = now()",
            [source, kind, location, fingerprint, generated, report.new_pairs])
        kinds = judge_kinds or {}
        for judge in sorted(judges):
            con.execute("INSERT INTO judges (judge, kind, source) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        [judge, kinds.get(judge, "human" if judge.startswith("human") else "llm"), source])
        report.judges = sorted(judges)
        refresh_custom_groups(con)


def add_style_features(con, texts) -> None:
    """The style features (`pipeline.style`) of newly stored pairs: a polars frame, or rows, of
    (pair_id, response_1, response_2)."""
    if len(texts) == 0:
        return
    import polars as pl

    from . import style

    # polars: the style properties are vectorised string expressions over a whole chunk's texts,
    # and DuckDB reads the frame they return through Arrow without a copy.
    frame = texts if isinstance(texts, pl.DataFrame) else pl.DataFrame(
        texts, schema={"pair_id": pl.Int64, "response_1": pl.String, "response_2": pl.String}, orient="row")
    style_rows = style.style_features(frame).select("pair_id", "property", "value").to_arrow()  # noqa: F841
    con.execute("INSERT INTO features (pair_id, property, value) SELECT pair_id, property, value FROM style_rows")


def refresh_custom_groups(con) -> None:
    """Custom groups are conditions on the pairs: re-evaluated after every load (`pipeline.groups`)."""
    from . import groups

    groups.refresh(con)


def check_names(names: dict[str, str]) -> None:
    """Names from the command line or a file (a judge, a source) go through `pipeline.names`
    (no control, zero-width or bidi characters, not empty, not over-long) once it exists."""
    if importlib.util.find_spec("pipeline.names") is None:
        return
    from . import names as checker

    for what, value in names.items():
        try:
            checker.check_name(value, what=what)
        except ValueError as exc:
            raise sources.SourceError(str(exc)) from None


def _count_labels(con) -> int:
    return con.execute("SELECT count(*) FROM labels").fetchone()[0]


def load_source(source: str, *, db=None, name: str | None = None, kind: str = "release",
                generated: bool = False, format: str | None = None, options=None) -> LoadReport:
    """Load a local .json/.jsonl/.parquet/.csv file or folder, or hf:OWNER/NAME: released-format
    records, or raw labelled pairs in any format of `pipeline.formats` (detected from the content
    of the first file unless `format` names one; `options` is a `formats.Options`)."""
    from . import formats

    options = options or formats.Options()
    check_names({k: v for k, v in (("judge", options.judge), ("source", name)) if v is not None})
    display, files = formats.resolve(source)
    forced_generic = format is None and (options.columns or options.attribute_columns)
    table = formats.open_table(files[0])
    module = formats.detect_table(table, options, forced="generic" if forced_generic else format)
    if module.NAME == "release":
        if options != formats.Options():
            raise sources.SourceError(f"{source}: --judge, --multi-turn and column options are for raw pairs; "
                                      "released-format records name their judges")
        return load_records(sources.iter_records(files), source=name or display, kind=kind, location=source,
                            fingerprint=sources.fingerprint(files), generated=generated, db=db)
    from .raw_pairs import load_reading

    reading = formats.Reading(module.NAME, files, options)
    # The options change what is read, so they are part of what makes a reload a repeat.
    fp = hashlib.sha256(f"{sources.fingerprint(files)}|{module.NAME}|{options.key()}".encode()).hexdigest()
    return load_reading(reading, source=name or display, location=source, fingerprint=fp, db=db)


__all__ = ["LoadReport", "load_records", "load_source", "pair_key", "pair_group_rows"]
