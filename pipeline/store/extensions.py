"""DuckLake's and PostgreSQL's DuckDB extensions, loaded from their installed wheels.

The wheels (duckdb-extension-ducklake, duckdb-extension-postgres) carry the binaries built
for the pinned DuckDB release, so nothing is downloaded at run time. DuckDB finds an
extension's entry point from its file name, and PostgreSQL's binary is shipped as
`postgres.duckdb_extension` while its entry point is `postgres_scanner`: it is loaded through
a link of the right name in a private folder.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import duckdb

from .errors import TEMP_PREFIX, LakeUnavailable

# module of the wheel -> the name DuckDB knows the extension by
_WHEELS = {"ducklake": "ducklake", "postgres": "postgres_scanner"}


def _wheel_binary(module: str) -> Path:
    spec = importlib.util.find_spec(f"duckdb_extension_{module}")
    if spec is None or spec.origin is None:
        raise LakeUnavailable(f"the DuckDB extension {module} is not installed: reinstall the project "
                              f"(pip install -e .) to get duckdb-extension-{module}")
    binary = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / f"{module}.duckdb_extension"
    if not binary.exists():
        raise LakeUnavailable(f"the installed duckdb-extension-{module} has no build for DuckDB {duckdb.__version__}: "
                              "install the extension wheels of the same version as duckdb")
    return binary


def _private_folder() -> Path:
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = home / "prefdissect" / "duckdb-extensions" / f"v{duckdb.__version__}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    except OSError:  # no writable home: a folder of this process's own
        return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}ext-"))


@lru_cache(maxsize=None)
def binary(module: str) -> Path:
    """The file to LOAD for `module` ('ducklake' or 'postgres')."""
    source, name = _wheel_binary(module), _WHEELS[module]
    if source.stem == name:
        return source
    link = _private_folder() / f"{name}.duckdb_extension"
    if not (link.is_symlink() and link.resolve() == source.resolve()):
        tmp = link.with_name(f".{link.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(source)
        os.replace(tmp, link)
    return link


def load(con: duckdb.DuckDBPyConnection, *modules: str) -> None:
    for module in modules:
        path = str(binary(module)).replace("'", "''")
        con.execute(f"LOAD '{path}'")


def lake_connection(backend: str, config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with DuckLake (and PostgreSQL for a PostgreSQL catalog) loaded,
    and automatic installs off, so that nothing is fetched from the network."""
    settings = {"autoinstall_known_extensions": False, "autoload_known_extensions": False, **(config or {})}
    con = duckdb.connect(":memory:", config=settings)
    try:
        con.execute("SET enable_progress_bar = false")
        load(con, "ducklake", *(["postgres"] if backend == "postgres" else []))
    except BaseException:
        con.close()
        raise
    return con
