"""The data behind the dashboard: small functions that return DataFrames, no Streamlit.

Every function takes the database path first (None: `db.resolve_db_path()`), opens one
short read-only connection, and closes it before returning, so the app never holds the
file between reruns and a job can write in between. Values that come from the user
(a group, judges, a search text) are bound as query parameters, never formatted into SQL.

A database may be missing, hold only the schema, hold pairs without fits, or fits
without pairs (imported `fitted_paras`); `status()` tells which, and every other function
returns an empty frame (not an error) when what it needs is not there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from . import db as dbmod
from .properties import (PROPERTIES, PROPERTY_NAMES, QUERY_GROUP_BY_NAME, QUERY_GROUPS,
                         SCENARIO_GROUPS)

READ_TIMEOUT = 10.0          # seconds to wait for a writer before saying the database is busy
OVERALL = "Overall"
# The strongest LLM judge in the paper, under the names it goes by (the release says
# gpt-4-turbo; the published fitted_paras say gpt-4-1106-preview).
PREFERRED_LLM_JUDGES = ("gpt-4-turbo", "gpt-4-1106-preview", "gpt-4-0125-preview", "gpt-4-turbo-preview")

_PROPERTY_ORDER = {name: i for i, name in enumerate(PROPERTY_NAMES)}


class DatabaseBusy(RuntimeError):
    """Another process (or a job in this one) is writing the database; try again shortly."""


# --------------------------------------------------------------------- connections


@contextmanager
def reading(db=None, *, timeout: float = READ_TIMEOUT) -> Iterator[duckdb.DuckDBPyConnection]:
    """db.reading with a shorter wait; a database still busy after it is a DatabaseBusy."""
    try:
        con = dbmod.connect(db, read_only=True, timeout=timeout)
    except duckdb.Error as exc:
        if not dbmod.is_lock_error(exc):
            raise
        raise DatabaseBusy(f"the database {dbmod.resolve_db_path(db)} is being written by a job; "
                           "try again in a moment") from None
    try:
        yield con
    finally:
        con.close()


def _relations(con) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' "
        "UNION SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT internal").fetchall()
    return {r[0] for r in rows}


def _columns(con, table: str) -> set[str]:
    rows = con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                       "AND schema_name = 'main' AND table_name = ?", [table]).fetchall()
    return {r[0] for r in rows}


def _df(con, sql: str, params: Sequence | None = None) -> pd.DataFrame:
    return con.execute(sql, list(params or [])).df()


def group_kind(group_name: str) -> str:
    return "query-specific" if group_name in QUERY_GROUP_BY_NAME else "scenario"


def _group_sort_key(name: str) -> tuple:
    if name == OVERALL:
        return (0, 0, name)
    if name in QUERY_GROUP_BY_NAME:
        return (2, [g.name for g in QUERY_GROUPS].index(name), name)
    if name in SCENARIO_GROUPS:
        return (1, SCENARIO_GROUPS.index(name), name)
    return (1, len(SCENARIO_GROUPS), name)


def sort_groups(names: Sequence[str]) -> list[str]:
    """Scenario groups in the paper's order, then the query-specific ones."""
    return sorted(dict.fromkeys(names), key=_group_sort_key)


# -------------------------------------------------------------------------- status


@dataclass
class Status:
    """What the database holds, for the Home page and for every page's 'what next'."""

    path: str
    state: str                       # 'missing', 'no-schema', 'empty', 'unfitted', 'fitted'
    n_pairs: int = 0
    n_usable: int = 0
    n_labels: int = 0
    n_judges: int = 0
    n_groups: int = 0
    n_fitted_judges: int = 0
    n_fit_rows: int = 0              # judge x group fits
    n_skipped: int = 0               # judge x group combinations skipped (too few labels)
    generated: bool = False          # some source is generated (demo) data
    real: bool = False               # some source is loaded real data
    last_fit: datetime | None = None
    fit_methods: list[str] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)
    relations: list[str] = field(default_factory=list)
    size_bytes: int = 0

    @property
    def exists(self) -> bool:
        return self.state != "missing"

    @property
    def has_pairs(self) -> bool:
        return self.n_pairs > 0

    @property
    def has_labels(self) -> bool:
        return self.n_labels > 0

    @property
    def has_fits(self) -> bool:
        return self.n_fit_rows > 0

    @property
    def data_label(self) -> str:
        if self.generated and self.real:
            return "mixed: generated demo data and real data"
        if self.generated:
            return "generated demo data (not real judgements)"
        if self.real:
            return "real data"
        return "no data"


def status(db=None) -> Status:
    path = dbmod.resolve_db_path(db)
    if not path.exists():
        return Status(str(path), "missing")
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    with reading(path) as con:
        rel = _relations(con)
        st = Status(str(path), "no-schema", relations=sorted(rel), size_bytes=size)
        if "pairs" not in rel:
            return st

        def count(table: str, where: str = "") -> int:
            if table not in rel:
                return 0
            return int(con.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0])

        st.n_pairs = count("pairs")
        st.n_usable = count("pairs", "WHERE usable")
        st.n_labels = count("labels")
        if "judges" in rel:
            st.n_judges = int(con.execute(
                "SELECT count(*) FROM (SELECT judge FROM judges UNION SELECT DISTINCT judge FROM labels"
                + (" UNION SELECT DISTINCT judge FROM fits" if "fits" in rel else "") + ")").fetchone()[0])
        groups = set()
        if "pair_groups" in rel:
            groups |= {r[0] for r in con.execute("SELECT DISTINCT group_name FROM pair_groups").fetchall()}
        if "fits" in rel:
            groups |= {r[0] for r in con.execute("SELECT DISTINCT group_name FROM fits").fetchall()}
            st.n_fitted_judges = int(con.execute("SELECT count(DISTINCT judge) FROM fits").fetchone()[0])
            st.n_fit_rows = int(con.execute(
                "SELECT count(*) FROM (SELECT DISTINCT judge, group_name FROM fits)").fetchone()[0])
        st.n_groups = len(groups)
        if "fit_runs" in rel:
            st.n_skipped = count("fit_runs", "WHERE status = 'skipped'")
            row = con.execute("SELECT max(fitted_at) FROM fit_runs").fetchone()
            st.last_fit = row[0] if row else None
            st.fit_methods = [r[0] for r in con.execute(
                "SELECT DISTINCT method FROM fit_runs WHERE method IS NOT NULL ORDER BY 1").fetchall()]
        if "sources" in rel:
            src = _df(con, "SELECT source, kind, location, generated, n_pairs, loaded_at FROM sources "
                           "ORDER BY loaded_at")
            st.sources = src.to_dict("records")
            st.generated = bool(src["generated"].any()) if len(src) else False
            st.real = bool((~src["generated"].astype(bool)).any()) if len(src) else False
        if st.has_fits:
            st.state = "fitted"
        elif st.has_pairs:
            st.state = "unfitted"
        else:
            st.state = "empty"
        return st


# ---------------------------------------------------------------- judges and groups


def judges(db=None) -> pd.DataFrame:
    """judge, kind, size_b, source, note, n_labels, n_groups_fitted, mean_accuracy, position_consistency,
    added_at; the human first, then by size (largest first), then by name."""
    cols = ["judge", "kind", "size_b", "source", "note", "n_labels", "n_groups_fitted", "mean_accuracy",
            "position_consistency", "added_at"]
    with reading(db) as con:
        rel = _relations(con)
        if "judges" not in rel or "labels" not in rel:
            return pd.DataFrame(columns=cols)
        fits = "fits" in rel
        runs = "fit_runs" in rel
        sql = f"""
            WITH names AS (
                SELECT judge FROM judges UNION SELECT DISTINCT judge FROM labels
                {"UNION SELECT DISTINCT judge FROM fits" if fits else ""}
            ),
            lab AS (SELECT judge, count(*) AS n_labels FROM labels GROUP BY judge),
            fitted AS ({"SELECT judge, count(DISTINCT group_name) AS n_groups_fitted FROM fits GROUP BY judge"
                        if fits else "SELECT NULL::VARCHAR AS judge, 0 AS n_groups_fitted WHERE false"}),
            acc AS ({"SELECT judge, avg(accuracy) AS mean_accuracy FROM fit_runs WHERE status = 'fitted' "
                     "GROUP BY judge" if runs else
                     "SELECT NULL::VARCHAR AS judge, NULL::DOUBLE AS mean_accuracy WHERE false"})
            SELECT n.judge, j.kind, j.size_b, j.source, j.note,
                   coalesce(lab.n_labels, 0) AS n_labels,
                   coalesce(fitted.n_groups_fitted, 0) AS n_groups_fitted,
                   acc.mean_accuracy, j.position_consistency, j.added_at
            FROM names n
            LEFT JOIN judges j USING (judge)
            LEFT JOIN lab USING (judge)
            LEFT JOIN fitted USING (judge)
            LEFT JOIN acc USING (judge)
        """
        df = _df(con, sql)
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["_h"] = df["judge"] != "human"
    df = df.sort_values(["_h", "size_b", "judge"], ascending=[True, False, True], na_position="last")
    return df.drop(columns="_h").reset_index(drop=True)[cols]


def fitted_judges(db=None, group: str | None = None) -> list[str]:
    """Judges with fits (in `group` when given; 'Overall': in any scenario group), human first."""
    with reading(db) as con:
        if "fits" not in _relations(con):
            return []
        if group is None:
            names = [r[0] for r in con.execute("SELECT DISTINCT judge FROM fits").fetchall()]
        elif group == OVERALL:
            names = [r[0] for r in con.execute("SELECT DISTINCT judge, group_name FROM fits").fetchall()
                     if group_kind(r[1]) == "scenario"]
        else:
            names = [r[0] for r in con.execute("SELECT DISTINCT judge FROM fits WHERE group_name = ?",
                                               [group]).fetchall()]
    names = list(dict.fromkeys(names))
    return sorted(names, key=lambda j: (j != "human", j.lower()))


def groups(db=None) -> pd.DataFrame:
    """group_name, group_kind, n_pairs, n_usable, n_fitted_judges, in the paper's order."""
    cols = ["group_name", "group_kind", "n_pairs", "n_usable", "n_fitted_judges"]
    with reading(db) as con:
        rel = _relations(con)
        parts = []
        if "pair_groups" in rel and "pairs" in rel:
            parts.append(_df(con, """
                SELECT g.group_name, count(*) AS n_pairs, count(*) FILTER (WHERE p.usable) AS n_usable
                FROM pair_groups g JOIN pairs p USING (pair_id) GROUP BY g.group_name"""))
        fitted = (_df(con, "SELECT group_name, count(DISTINCT judge) AS n_fitted_judges FROM fits GROUP BY 1")
                  if "fits" in rel else pd.DataFrame(columns=["group_name", "n_fitted_judges"]))
    base = parts[0] if parts else pd.DataFrame(columns=["group_name", "n_pairs", "n_usable"])
    df = base.merge(fitted, on="group_name", how="outer")
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["group_kind"] = df["group_name"].map(group_kind)
    for c in ("n_pairs", "n_usable", "n_fitted_judges"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype(int)
    order = sort_groups(df["group_name"].tolist())
    df = df.set_index("group_name").loc[order].reset_index()
    return df[cols]


def fitted_groups(db=None) -> list[str]:
    """Groups that have fits, scenario groups first (paper order), then query-specific."""
    with reading(db) as con:
        if "fits" not in _relations(con):
            return []
        names = [r[0] for r in con.execute("SELECT DISTINCT group_name FROM fits").fetchall()]
    return sort_groups(names)


def default_judges(db=None, available: Sequence[str] | None = None) -> list[str]:
    """The human and the strongest LLM judge present.

    Strongest: gpt-4-turbo (or its dated name) when present, else the non-human judge
    (LLM kind preferred) with the best mean held-out accuracy of its fits, then the
    largest, then by name.
    """
    pool = list(available) if available is not None else fitted_judges(db)
    if not pool:
        return []
    out = ["human"] if "human" in pool else []
    others = [j for j in pool if j != "human"]
    if not others:
        return out or pool[:1]
    for name in PREFERRED_LLM_JUDGES:
        if name in others:
            return out + [name]
    info = judges(db)
    info = info[info["judge"].isin(others)].copy()
    if not info.empty:
        info["_llm"] = info["kind"].fillna("").str.lower().eq("llm")
        info["_acc"] = info["mean_accuracy"].fillna(-1.0)
        info["_size"] = info["size_b"].fillna(-1.0)
        best = info.sort_values(["_llm", "_acc", "_size", "judge"],
                                ascending=[False, False, False, True]).iloc[0]["judge"]
        return out + [best]
    return out + [others[0]]


def fit_runs(db=None, judge: str | None = None) -> pd.DataFrame:
    """The fit_runs rows (all, or one judge's), groups in the paper's order."""
    cols = ["judge", "group_name", "status", "n_pairs", "accuracy", "method", "folds", "note", "fitted_at"]
    with reading(db) as con:
        if "fit_runs" not in _relations(con):
            return pd.DataFrame(columns=cols)
        if judge is None:
            df = _df(con, f"SELECT {', '.join(cols)} FROM fit_runs")
        else:
            df = _df(con, f"SELECT {', '.join(cols)} FROM fit_runs WHERE judge = ?", [judge])
    if df.empty:
        return df
    df["_g"] = df["group_name"].map(_group_sort_key)
    return df.sort_values(["judge", "_g"]).drop(columns="_g").reset_index(drop=True)


# ---------------------------------------------------------------------- dissection


# One query behind both dissection views: the `preference_probability` view (the
# probabilities are computed there, once) with the property's registry entry, the
# weight's sd, and the run's pair count and held-out accuracy.
_FIT_ROWS = """
    SELECT v.judge, v.group_name, v.property, v.property_index, p.kind, p.description, v.weight, f.sd,
           v.probability, v.prob_low, v.prob_high, v.source, r.n_pairs, r.accuracy
    FROM preference_probability v
    JOIN fits f USING (judge, group_name, property)
    JOIN properties p USING (property)
    LEFT JOIN fit_runs r ON r.judge = v.judge AND r.group_name = v.group_name
"""
_FIT_COLUMNS = ["judge", "group_name", "property", "property_index", "kind", "description", "weight", "sd",
                "probability", "prob_low", "prob_high", "source", "n_pairs", "accuracy"]


def _fit_rows(db, where: str, params: list) -> pd.DataFrame:
    with reading(db) as con:
        if "preference_probability" not in _relations(con):
            return pd.DataFrame(columns=_FIT_COLUMNS)
        return _df(con, _FIT_ROWS + " WHERE " + where, params)


def _sorted(df: pd.DataFrame, judge_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Judges in the given order, groups in the app's order, properties in the paper's."""
    if df.empty:
        return pd.DataFrame(columns=_FIT_COLUMNS)
    rank = {j: i for i, j in enumerate(judge_order or [])}
    df["_j"] = df["judge"].map(lambda j: rank.get(j, len(rank)))
    df["_g"] = df["group_name"].map(_group_sort_key)
    return df.sort_values(["_j", "_g", "property_index"]).reset_index(drop=True)[_FIT_COLUMNS]


def preference_probability(db=None, group: str = "", judges: Sequence[str] = ()) -> pd.DataFrame:
    """Probability of preferred (100 * sigmoid(weight)) per judge and property in one group.

    Columns: judge, group_name, property, property_index, kind, description, weight, sd,
    probability, prob_low, prob_high (NULL for imported fits without intervals), source,
    n_pairs, accuracy.
    """
    judges = list(judges)
    if not judges:
        return pd.DataFrame(columns=_FIT_COLUMNS)
    df = _fit_rows(db, "v.group_name = ? AND list_contains(?, v.judge)", [group, judges])
    return _sorted(df, judges)


def judge_across_groups(db=None, judge: str = "") -> pd.DataFrame:
    """One judge's probability of preferred for every property in every fitted group."""
    out = _sorted(_fit_rows(db, "v.judge = ?", [judge]))
    out.insert(2, "group_kind", out["group_name"].map(group_kind))
    return out


def sort_properties(df: pd.DataFrame, how: str = "effect") -> list[str]:
    """Property order for the dissection chart.

    'effect': by mean probability over the judges shown, most preferred first;
    'spread': by the spread between the judges shown (largest disagreement first);
    'paper': the paper's fixed order.
    """
    if df.empty:
        return []
    if how == "paper":
        return sorted(df["property"].unique(), key=lambda p: _PROPERTY_ORDER.get(p, 99))
    g = df.groupby("property")["probability"]
    score = (g.max() - g.min()) if how == "spread" else g.mean()
    order = score.sort_values(ascending=False, kind="stable")
    return list(order.index)


# ---------------------------------------------------------------------- similarity


def similarity(db=None, group: str = OVERALL, method: str = "pearson",
               judges: Sequence[str] | None = None) -> pd.DataFrame:
    """Judge x judge similarity (square DataFrame) in one group, or 'Overall'.

    Pearson (SPEC 6) or Spearman correlation of the 29 weights, from
    `readouts.judge_similarity` ('Overall': mean over the scenario groups). Judges
    without fits (in that group) are left out; empty when none remain.
    """
    from . import readouts

    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', not {method!r}")
    with reading(db) as con:
        if "fits" not in _relations(con):
            return pd.DataFrame()
        have = {r[0] for r in con.execute("SELECT DISTINCT judge FROM fits").fetchall()}
    names = [j for j in judges if j in have] if judges else None
    if judges and not names:
        return pd.DataFrame()
    out = readouts.judge_similarity(db, group, method, names)
    out = out.dropna(how="all").dropna(axis=1, how="all")
    keep = [j for j in out.index if j in out.columns]
    out = out.loc[keep, keep]
    out.index.name = None
    out.columns.name = None
    out.attrs = {}
    return out


def order_judges(matrix: pd.DataFrame, by: str = "size", sizes: dict | None = None) -> list[str]:
    """Row/column order for the similarity heatmap.

    'size': human first, then judges of unknown size (proprietary models, taken as the
    largest, as `readouts.judge_order` does), then by size in billions, largest first; 'cluster': average-linkage hierarchical clustering on 1 - similarity, leaves in
    optimal order; 'name': alphabetical with human first.
    """
    names = list(matrix.index)
    if len(names) <= 2 or by == "name":
        return sorted(names, key=lambda j: (j != "human", j.lower()))
    if by == "cluster":
        from scipy.cluster.hierarchy import leaves_list, linkage
        from scipy.spatial.distance import squareform

        sim = matrix.loc[names, names].to_numpy(dtype=float)
        sim = np.where(np.isnan(sim), 0.0, sim)
        sim = (sim + sim.T) / 2
        dist = np.clip(1.0 - sim, 0.0, 2.0)
        np.fill_diagonal(dist, 0.0)
        z = linkage(squareform(dist, checks=False), method="average", optimal_ordering=True)
        return [names[i] for i in leaves_list(z)]
    sizes = sizes or {}

    def key(j):
        s = sizes.get(j)
        s = None if s is None or (isinstance(s, float) and math.isnan(s)) else float(s)
        return (j != "human", s is not None, -(s or 0.0), j.lower())

    return sorted(names, key=key)


def similarity_long(matrix: pd.DataFrame, group: str, method: str) -> pd.DataFrame:
    """The square matrix as rows judge_a, judge_b, group_name, method, similarity (for charts, CSV)."""
    if matrix.empty:
        return pd.DataFrame(columns=["judge_a", "judge_b", "group_name", "method", "similarity"])
    m = matrix.copy()
    m.index.name = "judge_a"
    long = m.reset_index().melt(id_vars="judge_a", var_name="judge_b", value_name="similarity")
    long.insert(2, "group_name", group)
    long.insert(3, "method", method)
    return long


# ------------------------------------------------------------------------ samples


@dataclass(frozen=True)
class PairFilter:
    """What the Samples page filters on; every field optional."""

    scenarios: tuple[str, ...] = ()
    group: str | None = None                 # a pair_groups group (scenario or query-specific)
    model: str | None = None                 # either response's model
    disagree_with_human: tuple[str, ...] = ()  # judges that all chose differently from the human
    text: str | None = None                  # case-insensitive search in query and responses


def filter_options(db=None) -> dict:
    """Values for the Samples filters: scenarios, groups, models, judges with labels, and the
    pair ids' range (n_pairs, min_id, max_id)."""
    out = {"scenarios": [], "groups": [], "models": [], "judges": [], "n_pairs": 0, "min_id": 0, "max_id": 0}
    with reading(db) as con:
        rel = _relations(con)
        if "pairs" not in rel:
            return out
        n, lo, hi = con.execute("SELECT count(*), min(pair_id), max(pair_id) FROM pairs").fetchone()
        out.update(n_pairs=int(n), min_id=int(lo or 0), max_id=int(hi or 0))
        out["scenarios"] = sort_groups([r[0] for r in con.execute(
            "SELECT DISTINCT scenario_group FROM pairs WHERE scenario_group IS NOT NULL").fetchall()])
        if "pair_groups" in rel:
            out["groups"] = sort_groups([r[0] for r in con.execute(
                "SELECT DISTINCT group_name FROM pair_groups").fetchall()])
        out["models"] = [r[0] for r in con.execute(
            "SELECT model FROM (SELECT model_1 AS model FROM pairs UNION SELECT model_2 FROM pairs) "
            "WHERE model IS NOT NULL ORDER BY lower(model)").fetchall()]
        if "labels" in rel:
            out["judges"] = sorted((r[0] for r in con.execute("SELECT DISTINCT judge FROM labels").fetchall()),
                                   key=lambda j: (j != "human", j.lower()))
    return out


def _filter_sql(f: PairFilter) -> tuple[str, list]:
    """WHERE clause (fixed text with ? placeholders) and its parameters."""
    where, params = [], []
    if f.scenarios:
        where.append("list_contains(?, p.scenario_group)")
        params.append(list(f.scenarios))
    if f.group:
        where.append("p.pair_id IN (SELECT pair_id FROM pair_groups WHERE group_name = ?)")
        params.append(f.group)
    if f.model:
        where.append("(p.model_1 = ? OR p.model_2 = ?)")
        params += [f.model, f.model]
    for judge in f.disagree_with_human:
        where.append("p.pair_id IN (SELECT a.pair_id FROM labels a JOIN labels h USING (pair_id) "
                     "WHERE h.judge = 'human' AND a.judge = ? AND a.preferred <> h.preferred)")
        params.append(judge)
    if f.text and f.text.strip():
        where.append("(contains(lower(p.query), ?) OR contains(lower(p.response_1), ?) "
                     "OR contains(lower(p.response_2), ?))")
        t = f.text.strip().lower()
        params += [t, t, t]
    return ("WHERE " + " AND ".join(where)) if where else "", params


def filter_pair_ids(db=None, flt: PairFilter = PairFilter()) -> list[int]:
    """The pair ids that pass the filter, in order."""
    with reading(db) as con:
        rel = _relations(con)
        if "pairs" not in rel:
            return []
        if (flt.group and "pair_groups" not in rel) or (flt.disagree_with_human and "labels" not in rel):
            return []
        where, params = _filter_sql(flt)
        rows = con.execute(f"SELECT p.pair_id FROM pairs p {where} ORDER BY p.pair_id", params).fetchall()
    return [int(r[0]) for r in rows]


def pair_list(db=None, pair_ids: Sequence[int] = (), preview: int = 120) -> pd.DataFrame:
    """One row per pair for the browse table: id, scenario, models, words, the human's choice, query start."""
    cols = ["pair_id", "scenario_group", "model_1", "model_2", "num_words_1", "num_words_2", "human", "query"]
    ids = [int(i) for i in pair_ids]
    if not ids:
        return pd.DataFrame(columns=cols)
    with reading(db) as con:
        rel = _relations(con)
        human = ("(SELECT preferred FROM labels l WHERE l.pair_id = p.pair_id AND l.judge = 'human')"
                 if "labels" in rel else "NULL::TINYINT")
        df = _df(con, f"""
            SELECT p.pair_id, p.scenario_group, p.model_1, p.model_2, p.num_words_1, p.num_words_2,
                   {human} AS human, left(p.query, ?) AS query
            FROM pairs p WHERE list_contains(?, p.pair_id) ORDER BY p.pair_id""", [preview, ids])
    df["human"] = df["human"].map(lambda v: "" if pd.isna(v) else f"response {int(v)}")
    return df[cols]


def pair_detail(db=None, pair_id: int = 0) -> dict | None:
    """Everything about one pair, as plain values and DataFrames (None if there is no such pair).

    Keys: pair (dict of the pairs row), groups (list), facts (dict), items (DataFrame),
    labels, ratings (property x response 1/2), errors, error_checks, query_specific,
    features (property -> value; empty when the pair is not usable for fitting).
    """
    pid = int(pair_id)
    with reading(db) as con:
        rel = _relations(con)
        if "pairs" not in rel:
            return None
        pair = _df(con, "SELECT * FROM pairs WHERE pair_id = ?", [pid])
        if pair.empty:
            return None

        def maybe(table: str, sql: str) -> pd.DataFrame:
            return _df(con, sql, [pid]) if table in rel else pd.DataFrame()

        out = {"pair": {k: (None if (not isinstance(v, str) and pd.isna(v)) else v)
                        for k, v in pair.iloc[0].to_dict().items()}}
        g = maybe("pair_groups", "SELECT group_name FROM pair_groups WHERE pair_id = ?")
        out["groups"] = sort_groups(g["group_name"].tolist()) if not g.empty else []
        facts = maybe("query_facts", "SELECT * FROM query_facts WHERE pair_id = ?")
        out["facts"] = facts.iloc[0].drop("pair_id").to_dict() if not facts.empty else {}
        out["items"] = maybe("query_items", "SELECT item_kind, item_index, text FROM query_items "
                                            "WHERE pair_id = ? ORDER BY item_kind, item_index")
        jcols = ("j.kind, j.size_b" if "judges" in rel else "NULL AS kind, NULL AS size_b")
        jjoin = "LEFT JOIN judges j USING (judge)" if "judges" in rel else ""
        out["labels"] = maybe("labels", f"SELECT l.judge, l.preferred, l.prob_1, {jcols} FROM labels l {jjoin} "
                                        "WHERE l.pair_id = ?")
        if not out["labels"].empty:
            out["labels"] = out["labels"].sort_values(
                "judge", key=lambda s: s.map(lambda j: (j != "human", j.lower()))).reset_index(drop=True)
        ratings = maybe("ratings", "SELECT response, property, aspect, score FROM ratings WHERE pair_id = ?")
        if not ratings.empty:
            wide = ratings.pivot_table(index=["property", "aspect"], columns="response", values="score",
                                       aggfunc="first").reset_index()
            wide.columns = [c if isinstance(c, str) else f"response {c}" for c in wide.columns]
            for c in ("response 1", "response 2"):
                if c not in wide:
                    wide[c] = np.nan
            wide["_o"] = wide["property"].map(lambda p: _PROPERTY_ORDER.get(p, 99))
            wide = wide.sort_values("_o").drop(columns="_o").reset_index(drop=True)
        out["ratings"] = ratings if ratings.empty else wide
        out["errors"] = maybe("errors", "SELECT response, error_index, severity, error_type, description "
                                        "FROM errors WHERE pair_id = ? ORDER BY response, error_index")
        out["error_checks"] = maybe("error_checks", "SELECT response, applicable FROM error_checks "
                                                    "WHERE pair_id = ? ORDER BY response")
        out["query_specific"] = maybe("query_specific", "SELECT response, property, item_index, description, "
                                                        "label, score FROM query_specific WHERE pair_id = ? "
                                                        "ORDER BY property, item_index, response")
        feats = maybe("features", "SELECT property, value FROM features WHERE pair_id = ?")
        out["features"] = ({} if feats.empty else
                           {p: int(v) for p, v in zip(feats["property"], feats["value"])})
    return out


def feature_table(detail: dict) -> pd.DataFrame:
    """The pair's 29 features in the paper's order: property, value, meaning."""
    feats = detail.get("features") or {}
    rows = []
    for p in PROPERTIES:
        v = feats.get(p.name)
        meaning = ("" if v is None else "response 1 has more" if v > 0 else "response 2 has more" if v < 0
                   else "equal / not applicable")
        rows.append({"property": p.name, "value": v, "meaning": meaning})
    return pd.DataFrame(rows)


def pair_shap(db=None, judge: str = "", group: str = "", pair_id: int = 0) -> dict | None:
    """Per-pair SHAP values of a judge's fitted model in a group (SPEC 6), for the page.

    The values come from `readouts.pair_shap` (the shap library, all-zero background).
    Returns {'frame': property, feature, weight, shap (biggest first), 'base': f(0) = 0.5,
    'fx': f(x), 'weights_source', 'exact'}, or None when the judge has no fit in the
    group or the pair has no features (not usable for fitting).
    """
    from . import readouts

    with reading(db) as con:
        rel = _relations(con)
    if "fits" not in rel or "features" not in rel:
        return None
    try:
        return readouts.pair_shap(db, judge=judge, group=group, pair_id=int(pair_id)).as_dict()
    except ValueError:  # no fit for this judge and group, or a pair without features
        return None


def shap_groups(db=None, judge: str = "", pair_groups: Sequence[str] = ()) -> list[str]:
    """The pair's groups in which the judge has a fit (the scenario group first)."""
    with reading(db) as con:
        if "fits" not in _relations(con):
            return []
        fitted = {r[0] for r in con.execute("SELECT DISTINCT group_name FROM fits WHERE judge = ?",
                                            [judge]).fetchall()}
    return [g for g in sort_groups(pair_groups) if g in fitted]


# --------------------------------------------------------------------- statistics


def property_stats(db=None) -> pd.DataFrame:
    with reading(db) as con:
        if "property_stats" not in _relations(con):
            return pd.DataFrame()
        df = _df(con, "SELECT * FROM property_stats ORDER BY property_index")
    return df


def prerequisite_counts(db=None) -> pd.DataFrame:
    with reading(db) as con:
        if "prerequisite_counts" not in _relations(con):
            return pd.DataFrame()
        return _df(con, "SELECT * FROM prerequisite_counts")


def property_correlation(db=None, method: str = "pearson") -> pd.DataFrame:
    """Property x property correlation of the features over usable pairs (square DataFrame)."""
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', not {method!r}")
    with reading(db) as con:
        if "features" not in _relations(con):
            return pd.DataFrame()
        feats = _df(con, "SELECT pair_id, property, value FROM features")
    if feats.empty:
        return pd.DataFrame()
    wide = feats.pivot_table(index="pair_id", columns="property", values="value", aggfunc="first").fillna(0)
    wide = wide[[p for p in PROPERTY_NAMES if p in wide.columns]]
    corr = wide.corr(method=method)
    corr.index.name = None
    corr.columns.name = None
    return corr


def agreement(db=None, judges: Sequence[str] | None = None) -> pd.DataFrame:
    """judge_a, judge_b, n, agreement, kappa (both orders, and the diagonal as 1)."""
    cols = ["judge_a", "judge_b", "n", "agreement", "kappa"]
    with reading(db) as con:
        rel = _relations(con)
        if "judge_agreement" not in rel:
            return pd.DataFrame(columns=cols)
        df = _df(con, "SELECT judge_a, judge_b, n, agreement, kappa FROM judge_agreement")
        diag = _df(con, "SELECT judge AS judge_a, judge AS judge_b, count(*) AS n, 1.0 AS agreement, "
                        "1.0 AS kappa FROM labels GROUP BY judge")
    df = pd.concat([df, diag], ignore_index=True) if not diag.empty else df
    if judges:
        df = df[df["judge_a"].isin(judges) & df["judge_b"].isin(judges)]
    return df[cols].reset_index(drop=True)


def length_effect(db=None) -> pd.DataFrame:
    """judge, kind, size_b, n, longer_win_rate (how often the longer response wins)."""
    with reading(db) as con:
        rel = _relations(con)
        if "length_effect" not in rel:
            return pd.DataFrame(columns=["judge", "kind", "size_b", "n", "longer_win_rate"])
        join = "LEFT JOIN judges j USING (judge)" if "judges" in rel else ""
        kind = "j.kind, j.size_b" if "judges" in rel else "NULL AS kind, NULL AS size_b"
        return _df(con, f"SELECT e.judge, {kind}, e.n, e.longer_win_rate FROM length_effect e {join} "
                        "ORDER BY e.longer_win_rate DESC")


def csv_bytes(df: pd.DataFrame, *, index: bool = False) -> bytes:
    """A DataFrame as UTF-8 CSV (the index too for square matrices)."""
    return df.to_csv(index=index).encode("utf-8")


def database_file(db=None) -> Path:
    return dbmod.resolve_db_path(db)
