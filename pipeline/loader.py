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

import hashlib
import importlib.util
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from . import db as dbmod
from . import sources
from .features import pair_features, usable
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


class _Rows:
    """Column buffers for each table, flushed to DuckDB as Arrow tables."""

    TABLES = {
        "pairs": ["pair_id", "source", "source_index", "source_id", "pair_key", "query", "scenario_auto_j",
                  "scenario_group", "model_1", "model_2", "response_1", "response_2", "num_words_1",
                  "num_words_2", "reference", "usable"],
        "labels": ["pair_id", "judge", "preferred", "prob_1"],
        "query_facts": ["pair_id", "clear_intent", "express_feelings", "n_constraints", "n_stances", "n_mistakes"],
        "query_items": ["pair_id", "item_kind", "item_index", "text"],
        "ratings": ["pair_id", "response", "property", "aspect", "score"],
        "error_checks": ["pair_id", "response", "applicable"],
        "errors": ["pair_id", "response", "error_index", "severity", "error_type", "description"],
        "query_specific": ["pair_id", "response", "property", "item_index", "description", "label", "score"],
        "features": ["pair_id", "property", "value"],
        "pair_groups": ["pair_id", "group_name", "group_kind"],
        "pair_updates": ["pair_id", "scenario_auto_j", "scenario_group", "num_words_1", "num_words_2",
                         "reference", "usable"],
    }

    def __init__(self):
        self.cols = {t: {c: [] for c in cs} for t, cs in self.TABLES.items()}
        self.n_pairs = 0

    def add(self, table: str, *values) -> None:
        for col, v in zip(self.cols[table].values(), values):
            col.append(v)

    def add_many(self, table: str, n: int, *values) -> None:
        """n rows at once; each value is a list of n or one value repeated."""
        for col, v in zip(self.cols[table].values(), values):
            col.extend(v if isinstance(v, list) else [v] * n)

    def flush(self, con) -> None:
        for table, cols in self.cols.items():
            if not next(iter(cols.values())):
                continue
            arrow = pa.table(cols)  # noqa: F841 - read by DuckDB below
            names = ", ".join(cols)
            if table in ("labels", "pair_groups"):  # a repeated label, or 'All' of a raw pair annotated now
                con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM arrow ON CONFLICT DO NOTHING")
            elif table == "pair_updates":
                sets = ", ".join(f"{c} = arrow.{c}" for c in cols if c != "pair_id")
                con.execute(f"UPDATE pairs SET annotated = TRUE, {sets} FROM arrow WHERE pairs.pair_id = arrow.pair_id")
            else:
                con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM arrow")
        self.__init__()


_BASIC_NAMES = [p.name for p in BASIC]
_BASIC_KEYS = [p.source_key for p in BASIC]


def _add_pair(rows: _Rows, pid: int, pair: Pair, source: str, key: str) -> bool:
    ok = usable(pair)
    rows.add("pairs", pid, source, pair.position, pair.source_id, key, pair.query, pair.scenario_auto_j,
             pair.scenario_group, pair.r1.model, pair.r2.model, pair.r1.content, pair.r2.content,
             pair.r1.num_words, pair.r2.num_words, pair.reference, ok)
    rows.add("pair_groups", pid, *ALL_GROUP)
    return _add_annotations(rows, pid, pair, ok)


def _fill_raw_pair(rows: _Rows, pid: int, pair: Pair) -> bool:
    """A stored raw pair gets the record's annotations; its texts, models and source stay."""
    ok = usable(pair)
    rows.add("pair_updates", pid, pair.scenario_auto_j, pair.scenario_group, pair.r1.num_words,
             pair.r2.num_words, pair.reference, ok)
    return _add_annotations(rows, pid, pair, ok)


def _add_annotations(rows: _Rows, pid: int, pair: Pair, ok: bool) -> bool:
    rows.add("query_facts", pid, pair.clear_intent, pair.express_feelings,
             len(pair.constraints), len(pair.stances), len(pair.mistakes))
    for kind, items in (("constraint", pair.constraints), ("stance", pair.stances), ("mistake", pair.mistakes)):
        for i, text in enumerate(items):
            rows.add("query_items", pid, kind, i, text)
    for n, resp in ((1, pair.r1), (2, pair.r2)):
        rows.add_many("ratings", len(BASIC), pid, n, _BASIC_NAMES, _BASIC_KEYS,
                      [resp.ratings[k] for k in _BASIC_KEYS])
        rows.add("error_checks", pid, n, resp.applicable)
        for i, e in enumerate(resp.errors):
            rows.add("errors", pid, n, i, e["severity"], e["type"], e["description"])
        for prop, items in resp.query_specific.items():
            for i, item in enumerate(items):
                rows.add("query_specific", pid, n, prop, i, item.description, item.label, item.score)
    if ok:
        values = list(pair_features(pair).values())
        rows.add_many("features", len(values), pid, PROPERTY_NAMES, values)
    for name, kind in pair_group_rows(pair):
        rows.add("pair_groups", pid, name, kind)
    return ok


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


def load_records(records: Iterable[dict], *, source: str, kind: str = "release", location: str | None = None,
                 fingerprint: str | None = None, generated: bool = False, db=None,
                 judge_kinds: dict[str, str] | None = None) -> LoadReport:
    """Load released-format records from one source; all or nothing."""
    started = time.perf_counter()
    report = LoadReport(source=source)
    path = dbmod.resolve_db_path(db)
    existed = path.exists()
    try:
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
        rows = _Rows()
        records = iter(records)
        position = 0
        use_ids = None
        while True:
            buffer = [r for _, r in zip(range(CHUNK), records)]
            if not buffer:
                break
            if use_ids is None:  # decided once, on the first chunk
                use_ids = empty and _first_ids_usable(buffer)
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
                        report.usable_pairs += _fill_raw_pair(rows, pid, pair)
                else:
                    pid = _own_id(rec, pair, taken) if use_ids else offset + pair.position
                    known[key] = pid
                    taken.add(pid)
                    report.new_pairs += 1
                    report.usable_pairs += _add_pair(rows, pid, pair, source, key)
                    new_texts.append((pid, pair.r1.content, pair.r2.content))
                rows.add_many("labels", len(pair.labels), pid, list(pair.labels), list(pair.labels.values()), None)
                judges.update(pair.labels)
            rows.flush(con)
            add_style_features(con, new_texts)
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
    feats = style.style_features(frame).select("pair_id", "property", "value").to_arrow()  # noqa: F841
    con.execute("INSERT INTO features (pair_id, property, value) SELECT pair_id, property, value FROM feats")


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
