"""Where the database is: a DuckDB file, or a DuckLake lake (catalog + data files).

`--db` (or $PREFDISSECT_DB) names one of:
- a path: a single DuckDB file (the default, data/preference.duckdb);
- `ducklake:PATH.ducklake`: a lake whose catalog is a DuckDB file, for one machine;
- `ducklake:postgres:dbname=... host=... port=... user=...`: a lake whose catalog is in
  PostgreSQL, for a team. A password belongs in $PGPASSWORD or ~/.pgpass, not in the string;
  one given there anyway is never shown (`redact`).
A lake's data files (Parquet) go where `--data-path` / $PREFDISSECT_DATA_PATH says: a folder,
shared storage for a team, or an s3:// prefix with DuckDB's httpfs settings. A lake remembers
its data path, so only the command that creates it needs one.

Journals, job logs and uploads are kept on the local disk next to the database: next to the
file, next to a DuckDB-file catalog, and for a PostgreSQL catalog in data/lakes/<dbname>/.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import NotADatabase

ENV_DB = "PREFDISSECT_DB"
ENV_DATA_PATH = "PREFDISSECT_DATA_PATH"
DEFAULT_DB = Path("data") / "preference.duckdb"
LAKE_STATE = Path("data") / "lakes"   # local side files of PostgreSQL-catalog lakes

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")  # ducklake:, postgres:, s3://, md:, http://
_LIBPQ_PAIR = re.compile(r"^\s*(?:[A-Za-z_]+\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^\s']+)\s*)+$")
_SECRET = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)


def redact(text: str) -> str:
    """The text with passwords of connection strings and credentials of URLs replaced by ***."""
    return _URL_CREDENTIALS.sub(r"\1***@", _SECRET.sub(r"\1***", str(text)))


@dataclass(frozen=True)
class FileDb:
    path: Path

    @property
    def display(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        """What `--db` takes to name this database again."""
        return str(self.path)

    @property
    def anchor(self) -> Path:
        return self.path


@dataclass(frozen=True)
class LakeDb:
    """A DuckLake: `catalog` is what follows `ducklake:` (a file path or `postgres:...`)."""

    catalog: str
    data_path: str | None

    @property
    def backend(self) -> str:
        return "postgres" if self.catalog.startswith("postgres:") else "duckdb"

    @property
    def display(self) -> str:
        return redact("ducklake:" + self.catalog)

    @property
    def name(self) -> str:
        """What `--db` takes to name this lake again (may hold a password: never shown)."""
        return "ducklake:" + self.catalog

    @property
    def catalog_file(self) -> Path | None:
        return None if self.backend == "postgres" else Path(self.catalog)

    @property
    def anchor(self) -> Path:
        """A local path whose neighbours hold this lake's journals, logs and uploads."""
        if self.catalog_file is not None:
            return self.catalog_file
        params = dict(re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", self.catalog.split(":", 1)[1]))
        name = "_".join(params.get(k, "").strip("'") for k in ("host", "port", "dbname") if params.get(k))
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "lake"
        return LAKE_STATE / safe / "lake"


Location = FileDb | LakeDb


def _parse_lake(text: str, data_path: str | None) -> LakeDb:
    catalog = text[len("ducklake:"):]
    if catalog.startswith("postgres:"):
        params = catalog[len("postgres:"):]
        if not params.strip() or not _LIBPQ_PAIR.match(params):
            raise NotADatabase(f"cannot read the PostgreSQL catalog {redact(text)!r}: write it as "
                               "ducklake:postgres:dbname=NAME host=HOST port=PORT user=USER (key=value pairs)")
        if "dbname" not in params:
            raise NotADatabase(f"the PostgreSQL catalog {redact(text)!r} names no database: add dbname=NAME")
        return LakeDb(catalog, data_path)
    if _SCHEME.match(catalog) and not re.match(r"^[A-Za-z]:[\\/]", catalog):
        kind = catalog.split(":", 1)[0]
        raise NotADatabase(f"unknown DuckLake catalog {redact(text)!r} ({kind}:): use ducklake:PATH.ducklake "
                           "(a DuckDB-file catalog) or ducklake:postgres:dbname=... (a PostgreSQL catalog)")
    if not catalog.strip():
        raise NotADatabase("the DuckLake catalog is empty: use ducklake:PATH.ducklake or ducklake:postgres:dbname=...")
    if Path(catalog).is_dir():
        raise NotADatabase(f"the DuckLake catalog {catalog} is a folder: give a file such as {catalog}/team.ducklake")
    return LakeDb(catalog, data_path)


def locate(db: str | os.PathLike | None = None, data_path: str | os.PathLike | None = None) -> Location:
    """--db, else $PREFDISSECT_DB, else data/preference.duckdb; a lake's data path from
    `data_path`, else $PREFDISSECT_DATA_PATH, else the one the lake remembers."""
    text = os.fspath(db) if db else (os.environ.get(ENV_DB) or os.fspath(DEFAULT_DB))
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text.startswith("ducklake:"):
        where = os.fspath(data_path) if data_path else (os.environ.get(ENV_DATA_PATH) or None)
        return _parse_lake(text, where)
    if _SCHEME.match(text):
        kind = text.split(":", 1)[0]
        raise NotADatabase(f"the database {redact(text)!r} looks like a URL or catalog ({kind}:), not a file path "
                           "or a DuckLake: give the path of a .duckdb file, ducklake:PATH.ducklake or "
                           "ducklake:postgres:dbname=... (an absolute path for a file whose name holds a colon)")
    return FileDb(Path(text))
