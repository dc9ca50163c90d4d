"""What the database holds, for the Home page, the sidebar and every page's 'what next'."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..store import db as dbmod
from .base import Db, column, frame, reading, scalar

# A file is ours when it has the `pairs` table (the migrations create every table at once).
HAS_SCHEMA = """
    SELECT count(*) FROM duckdb_tables()
    WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'pairs'
"""
COUNTS = """
    SELECT (SELECT count(*) FROM pairs)                                   AS n_pairs,
           (SELECT count(*) FROM pairs WHERE usable)                      AS n_usable,
           (SELECT count(*) FROM labels)                                  AS n_labels,
           (SELECT count(*) FROM (SELECT judge FROM judges UNION SELECT judge FROM labels
                                  UNION SELECT judge FROM fits))          AS n_judges,
           (SELECT count(*) FROM (SELECT group_name FROM pair_groups
                                  UNION SELECT group_name FROM fits))     AS n_groups,
           (SELECT count(DISTINCT judge) FROM fits)                       AS n_fitted_judges,
           (SELECT count(*) FROM (SELECT DISTINCT judge, group_name FROM fits)) AS n_fit_rows,
           (SELECT count(*) FROM fit_runs WHERE status = 'skipped')       AS n_skipped,
           (SELECT max(fitted_at) FROM fit_runs)                          AS last_fit,
           (SELECT count(*) FROM pairs WHERE annotated AND usable)        AS n_annotated
"""
# Each property set's size, and the sets with fits (the pages' counts and next steps come from here).
SET_SIZES = "SELECT property_set, count(*) FROM properties GROUP BY property_set"
FITTED_SETS = "SELECT DISTINCT property_set FROM fits ORDER BY 1"
FIT_METHODS = "SELECT DISTINCT method FROM fit_runs WHERE method IS NOT NULL ORDER BY 1"
SOURCES = "SELECT source, kind, location, generated, n_pairs, loaded_at FROM sources ORDER BY loaded_at"


@dataclass
class Status:
    """What the database holds."""

    path: str
    state: str                       # 'missing', 'no-schema', 'empty', 'unfitted', 'fitted'
    n_pairs: int = 0
    n_usable: int = 0
    n_labels: int = 0
    n_judges: int = 0
    n_groups: int = 0
    n_fitted_judges: int = 0
    n_fit_rows: int = 0              # judge x group combinations with fits (of any property set)
    n_skipped: int = 0               # combinations skipped (too few labels)
    n_annotated: int = 0             # pairs with the paper's annotations, usable for the 'paper' set
    generated: bool = False          # some source is generated (demo) data
    real: bool = False               # some source is loaded real data
    last_fit: datetime | None = None
    fit_methods: list[str] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)
    size_bytes: int = 0
    set_sizes: dict[str, int] = field(default_factory=dict)   # property set -> number of properties
    fitted_sets: list[str] = field(default_factory=list)      # property sets with fits

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
    def has_paper_annotations(self) -> bool:
        """Some pair carries the paper's 29 annotated properties (else only style or custom sets apply)."""
        return self.n_annotated > 0

    def n_properties(self, property_set: str) -> int:
        """How many properties the set has here; a union set ('paper+style') adds its parts."""
        if property_set in self.set_sizes:
            return self.set_sizes[property_set]
        return sum(self.set_sizes.get(part, 0) for part in property_set.split("+"))

    @property
    def working_set(self) -> str:
        """The property set a fit works on here: 'paper' where pairs are annotated, else the set
        that has fits, else 'style' (counted from the texts of every pair)."""
        if self.has_paper_annotations or "paper" in self.fitted_sets:
            return "paper"
        others = [s for s in self.fitted_sets if s != "paper"]
        return others[0] if others else "style"

    @property
    def data_label(self) -> str:
        if self.generated and self.real:
            return "mixed: generated demo data and real data"
        if self.generated:
            return "generated demo data (not real judgements)"
        if self.real:
            return "real data"
        return "no data"


def status(db: Db = None) -> Status:
    where = dbmod.locate(db)
    try:
        return _read(where)
    except dbmod.DatabaseMissing:  # no file, or a lake without our tables (one attach, not two)
        return Status(where.display, "missing")


def _read(where: dbmod.Location) -> Status:
    try:
        size = where.path.stat().st_size if isinstance(where, dbmod.FileDb) else 0
    except OSError:
        size = 0
    with reading(where.name) as con:
        st = Status(where.display, "no-schema", size_bytes=size)
        if not scalar(con, HAS_SCHEMA):
            return st
        cur = con.execute(COUNTS)
        names = [d[0] for d in cur.description]
        for name, value in zip(names, cur.fetchone()):
            setattr(st, name, value if name == "last_fit" else int(value or 0))
        st.fit_methods = column(con, FIT_METHODS)
        st.set_sizes = {str(k): int(v) for k, v in con.execute(SET_SIZES).fetchall()}
        st.fitted_sets = column(con, FITTED_SETS)
        src = frame(con, SOURCES)
    st.sources = src.to_dict("records")
    st.generated = bool(src["generated"].any()) if len(src) else False
    st.real = bool((~src["generated"].astype(bool)).any()) if len(src) else False
    st.state = "fitted" if st.has_fits else "unfitted" if st.has_pairs else "empty"
    return st
