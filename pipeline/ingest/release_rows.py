"""Released-format pairs as rows of the tidy tables (SPEC section 3), one chunk at a time.

Built table by table as columns, not as a Python tuple per row: at 100,000 pairs x 50
judges the ratings, features and labels are millions of rows. Repeated names (properties,
aspects) are Arrow dictionary arrays, which DuckDB reads as text. Used by `pipeline.ingest.loader`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..properties.paper_rules import QUERY_GROUP_RULES, basic_ratings, feature_matrix, usable
from ..properties.paper import ALL_GROUP as ALL_GROUP_NAME
from ..properties.paper import ALL_KIND, BASIC, PROPERTY_NAMES, QUERY_GROUPS
from ..properties.annotations import Pair
from ..store import upsert
from .release_labels import ChunkLabels

ALL_GROUP = (ALL_GROUP_NAME, ALL_KIND)  # every pair's group, so pairs without scenario groups can be fitted
# A load's row of `sources`: a second load of the same source adds its pairs. The statements here
# keep the tables' keys themselves (no ON CONFLICT), so they run on a DuckLake too.
SOURCE_ROW = upsert.merge(
    "sources", "(SELECT ? AS source, ? AS kind, ? AS location, ? AS fingerprint, ? AS generated, ? AS n_pairs)",
    ("source", "kind", "location", "fingerprint", "generated", "n_pairs"), ("source",),
    {"n_pairs": "t.n_pairs + s.n_pairs", "fingerprint": "s.fingerprint", "loaded_at": "now()"})
_KEYS = {"labels": ("pair_id", "judge"), "pair_groups": ("pair_id", "group_name")}


def pair_group_rows(pair: Pair) -> list[tuple[str, str]]:
    """(group_name, group_kind) for every group the pair belongs to (SPEC section 5)."""
    rows = [(pair.scenario_group, "scenario")] if pair.scenario_group else []
    rows += [(g.name, "query-specific") for g in QUERY_GROUPS if QUERY_GROUP_RULES[g.key](pair)]
    return rows


def _tiled(values: list[str], n: int) -> pa.DictionaryArray:
    """`values` repeated n times as a dictionary array: DuckDB reads it as text, without
    building n Python copies of each name."""
    return pa.DictionaryArray.from_arrays(np.tile(np.arange(len(values), dtype=np.int32), n), pa.array(values))


def _columns(names: list[str], rows: list[tuple]) -> dict[str, list]:
    """Row tuples as named columns (empty columns when there are no rows)."""
    return {name: list(col) for name, col in zip(names, zip(*rows))} if rows else {name: [] for name in names}


_BASIC_NAMES = [p.name for p in BASIC]
_BASIC_KEYS = [p.source_key for p in BASIC]
_RESPONSE_OF_RATING = np.repeat(np.array([1, 2], dtype=np.int8), len(BASIC))  # r1's 20 ratings, then r2's


class ChunkRows:
    """The rows of one chunk of records: the loader adds each checked pair, then takes every
    table as one Arrow table (`arrow_tables`) for `insert_tables`."""

    def __init__(self, votes: ChunkLabels):
        self.new: list[tuple[int, str, Pair]] = []         # (pid, pair_key, pair): pairs stored now
        self.annotated: list[tuple[int, Pair, bool]] = []  # (pid, pair, new?): annotations stored now
        self.votes = votes                                 # every record's votes, in record order
        self.voters: list[int] = []     # each record's pair id, in record order
        self.fresh: list[bool] = []     # whether it is stored now: its labels cannot clash with stored ones
        self.n_usable = 0               # of the annotations stored now, the usable ones (set by `tables`)

    def add_labels(self, pid: int, fresh: bool) -> None:
        """The next record's votes are pair `pid`'s."""
        self.voters.append(pid)
        self.fresh.append(fresh)

    def tables(self, source: str) -> list[tuple[str, dict]]:
        """(table, columns) in insertion order; which may repeat a stored key is decided in `insert_tables`."""
        ann = [p for _, p, _ in self.annotated]
        pids = [pid for pid, _, _ in self.annotated]
        ok = [usable(p) for p in ann]
        self.n_usable = sum(ok)
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
        for table, columns in zip(("labels", "labels_more"), self.votes.rows(self.voters, self.fresh)):
            if len(columns["pair_id"]):
                out.append((table, columns))
        return out

    def _annotation_tables(self, pids: list[int], ann: list[Pair], ok: list[bool]) -> list[tuple[str, dict]]:
        n = len(ann)
        groups, items, errors, qs = [], [], [], []  # row tuples, turned into columns below
        for pid, pair, (_, _, is_new) in zip(pids, ann, self.annotated):
            if is_new:
                groups.append((pid, *ALL_GROUP))
            groups += [(pid, group, kind) for group, kind in pair_group_rows(pair)]
            # most of these lists are empty: each is tested before a comprehension is built for it
            # (15 a pair; a second of 100,000 records), and a pair's query facts or a response's
            # query-specific ratings are looked into only when one of them is not
            if pair.constraints or pair.stances or pair.mistakes:
                for kind, texts in (("constraint", pair.constraints), ("stance", pair.stances),
                                    ("mistake", pair.mistakes)):
                    if texts:
                        items += [(pid, kind, i, text) for i, text in enumerate(texts)]
            for r, resp in ((1, pair.r1), (2, pair.r2)):
                if resp.errors:
                    errors += [(pid, r, i, e["severity"], e["type"], e["description"]) for i, e in enumerate(resp.errors)]
                if any(resp.query_specific.values()):
                    for prop, rated in resp.query_specific.items():
                        if rated:
                            qs += [(pid, r, prop, i, item.description, item.label, item.score)
                                   for i, item in enumerate(rated)]
        grid = basic_ratings(ann)  # (pair, response, rating): the ratings table's rows in order, and the features' input
        use = [i for i, o in enumerate(ok) if o]
        feats = feature_matrix([ann[i] for i in use], ratings=grid[use])
        out = [
            ("query_facts", {"pair_id": pids, "clear_intent": [p.clear_intent for p in ann],
                             "express_feelings": [p.express_feelings for p in ann],
                             "n_constraints": [len(p.constraints) for p in ann],
                             "n_stances": [len(p.stances) for p in ann], "n_mistakes": [len(p.mistakes) for p in ann]}),
            ("query_items", _columns(["pair_id", "item_kind", "item_index", "text"], items)),
            ("ratings", {"pair_id": np.repeat(np.array(pids, dtype=np.int64), 2 * len(BASIC)),
                         "response": np.tile(_RESPONSE_OF_RATING, n), "property": _tiled(_BASIC_NAMES, 2 * n),
                         "aspect": _tiled(_BASIC_KEYS, 2 * n), "score": pa.array(grid.ravel(), from_pandas=True)}),
            ("error_checks", {"pair_id": np.repeat(np.array(pids, dtype=np.int64), 2),
                              "response": np.tile(np.array([1, 2], dtype=np.int8), n),
                              "applicable": [a for p in ann for a in (p.r1.applicable, p.r2.applicable)]}),
            ("errors", _columns(["pair_id", "response", "error_index", "severity", "error_type", "description"],
                                errors)),
            ("query_specific", _columns(["pair_id", "response", "property", "item_index", "description", "label",
                                         "score"], qs)),
            ("features", {"pair_id": np.repeat(np.array([pids[i] for i in use], dtype=np.int64), len(PROPERTY_NAMES)),
                          "property": _tiled(PROPERTY_NAMES, len(use)), "value": feats.ravel()}),
            ("pair_groups", _columns(["pair_id", "group_name", "group_kind"], groups)),
        ]
        return [(t, cols) for t, cols in out if len(cols["pair_id"])]

    def arrow_tables(self, source: str) -> list[tuple[str, pa.Table]]:
        return [(table, pa.table(cols)) for table, cols in self.tables(source)]


_STYLE_COLUMNS = ["pair_id", "response_1", "response_2", "num_words_1", "num_words_2"]


def style_texts(tables: list[tuple[str, pa.Table]]) -> pa.Table | None:
    """(pair_id, response_1, response_2, num_words_1, num_words_2) of the pairs stored now, for
    their measures: the columns of the chunk's `pairs` table (its texts are not copied again);
    None when the chunk stores no new pair."""
    pairs = next((rows for table, rows in tables if table == "pairs"), None)
    return None if pairs is None else pairs.select(_STYLE_COLUMNS)


def insert_tables(con, tables: list[tuple[str, pa.Table]], labels_may_clash: bool) -> None:
    """Insert a chunk's `arrow_tables` (no Python work here: it runs beside the next chunk's checks)."""
    for table, chunk_rows in tables:  # read by name from this frame (a registered one stays until COMMIT)
        names = ", ".join(chunk_rows.column_names)
        if table == "pair_updates":
            sets = ", ".join(f"{c} = chunk_rows.{c}" for c in chunk_rows.column_names if c != "pair_id")
            con.execute(f"UPDATE pairs SET annotated = TRUE, {sets} FROM chunk_rows "
                        "WHERE pairs.pair_id = chunk_rows.pair_id")
        elif table == "pair_groups" or table == "labels_more" or (table == "labels" and labels_may_clash):
            # a repeated label, or 'All' of a raw pair annotated now, or a scenario named as a query group:
            # only keys not stored yet, and of equal keys in the chunk the first
            target, columns = table.removesuffix("_more"), chunk_rows.column_names
            chunk_rows = chunk_rows.append_column("row_order", pa.array(np.arange(chunk_rows.num_rows)))
            con.execute(upsert.insert_new(target, "chunk_rows", columns, _KEYS[target], order="row_order"))
        else:  # plain INSERT: no key can repeat here, and the check would cost on millions of label rows
            con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM chunk_rows")


__all__ = ["ALL_GROUP", "SOURCE_ROW", "ChunkRows", "insert_tables", "pair_group_rows", "style_texts"]
