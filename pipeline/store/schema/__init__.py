"""The schema and its version: ordered migration steps, the property registry, the views.

Each step is a file in this folder named `mNNNN_<slug>.sql` (statements) or `.py`
(a module with `def upgrade(con)`), applied in number order. `schema_version` holds one
row per applied step. A file that has our tables but no `schema_version` was made before
versioning: it is version 0, and step 1 (the baseline, all IF NOT EXISTS) adopts it.

Views live in sql/, one per file; the first line of each says what it needs,
`-- depends: view_a, view_b` (or `-- depends: none`), and they are created in that order.
Number ranges per area: db-core 0003-0009, formats 0010-0019, style 0020-0029,
custom 0030-0039, answers 0040-0049.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb

from ..errors import SchemaTooNew

HERE = Path(__file__).resolve().parent
SQL_DIR = HERE.parents[2] / "sql"
_STEP = re.compile(r"^m(\d{4})_(\w+)\.(sql|py)$")
_DEPENDS = re.compile(r"^--\s*depends:\s*(.*)$")


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    path: Path

    def apply(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.path.suffix == ".sql":
            con.execute(self.path.read_text())
        else:
            importlib.import_module(f"{__name__}.{self.path.stem}").upgrade(con)


def steps() -> list[Step]:
    found = []
    for path in HERE.iterdir():
        m = _STEP.match(path.name)
        if m:
            found.append(Step(int(m.group(1)), m.group(2), path))
    found.sort(key=lambda s: s.version)
    versions = [s.version for s in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migration steps share a number in {HERE}: {versions}")
    return found


def latest_version() -> int:
    return steps()[-1].version


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?", [name]).fetchone()[0] > 0


def current_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version of the connection's current database: None for a file without
    our tables (e.g. brand new), 0 for a file made before versioning."""
    if _has_table(con, "schema_version"):
        v = con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        return int(v) if v is not None else 0
    return 0 if _has_table(con, "pairs") else None


def pending(con: duckdb.DuckDBPyConnection) -> list[Step]:
    have = current_version(con) or 0
    if have > latest_version():
        raise SchemaTooNew(f"the database's schema is version {have}, newer than this code knows "
                           f"({latest_version()}): update the code before using it")
    return [s for s in steps() if s.version > have]


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every pending step, sync the property registry and (re)create the views. Returns
    the versions applied.

    Outside a transaction every statement commits on its own, and the file writer migrates
    that way, on its private copy: DuckDB 1.5 cannot commit two ADD COLUMNs to one table with
    rows in one transaction, and the copy is thrown away when anything fails, so the published
    file is untouched all the same. Inside the caller's transaction, all of it is one."""
    todo = pending(con)
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
                "name VARCHAR NOT NULL, applied_at TIMESTAMP DEFAULT current_timestamp)")
    for step in todo:
        step.apply(con)
        con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [step.version, step.name])
    sync_properties(con)
    apply_views(con)
    return [s.version for s in todo]


def sync_properties(con: duckdb.DuckDBPyConnection) -> None:
    """Make the built-in sets' rows of `properties` equal the registry (rewritten only when
    they differ); rows of other sets (custom, written by their own command) are kept."""
    from ...properties.sets import registry_rows

    want = sorted(tuple(r) for r in registry_rows())
    sets = sorted({r[0] for r in want})
    marks = ", ".join("?" * len(sets))
    cols = "property_set, property_index, property, kind, source_key, description, rule"
    have = sorted(con.execute(f"SELECT {cols} FROM properties WHERE property_set IN ({marks})", sets).fetchall())
    if have != want:
        con.execute(f"DELETE FROM properties WHERE property_set IN ({marks})", sets)
        con.executemany(f"INSERT INTO properties ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?)", want)


def view_order(folder: Path = SQL_DIR) -> list[Path]:
    """The view files in the order their `-- depends:` headers require (ties by name)."""
    files = {p.stem: p for p in sorted(folder.glob("*.sql"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        first = path.read_text().split("\n", 1)[0].strip()
        m = _DEPENDS.match(first)
        if not m:
            raise RuntimeError(f"{path}: the first line must be `-- depends: view, ...` or `-- depends: none`")
        deps = {d.strip() for d in m.group(1).split(",") if d.strip() and d.strip() != "none"}
        unknown = deps - files.keys()
        if unknown:
            raise RuntimeError(f"{path}: depends on {', '.join(sorted(unknown))}, which has no file in {folder}")
        graph[name] = deps
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise RuntimeError(f"the views in {folder} depend on each other in a cycle: {exc.args[1]}") from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return [files[n] for n in order]


def apply_views(con: duckdb.DuckDBPyConnection) -> None:
    """CREATE OR REPLACE every view of sql/, each after the views it names."""
    for path in view_order():
        try:
            con.execute(path.read_text())
        except duckdb.Error as exc:
            raise RuntimeError(f"view {path.name} cannot be created: {exc}") from exc
