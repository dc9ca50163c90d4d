"""PostgreSQL for the DuckLake tests: a server, and a fresh catalog database per lake.

`.ci/run` starts a throwaway cluster (.ci/pg_cluster) and exports $PREFDISSECT_TEST_PG
("host=... port=... user=..."). Elsewhere the `pg_server` fixture (conftest.py) starts one
itself when PostgreSQL's server is installed, and the tests that need it are skipped,
saying why, when it is not (in CI that is a failure instead: CI always runs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / ".ci" / "pg_cluster"
ENV = "PREFDISSECT_TEST_PG"


@dataclass(frozen=True)
class PgServer:
    params: str          # libpq key=value pairs without dbname
    folder: str | None   # the cluster this session started (stopped at the end), else None

    def lake(self, tmp_path: Path, name: str | None = None) -> tuple[str, Path]:
        """A new, empty catalog database: (the --db string, a data folder for its files)."""
        dbname = name or f"lake_{uuid.uuid4().hex[:12]}"
        psql(self.params, f'CREATE DATABASE "{dbname}"')
        data = tmp_path / f"{dbname}-data"
        return f"ducklake:postgres:dbname={dbname} {self.params}", data


def server_installed() -> bool:
    return any(Path(p, "initdb").exists() for p in Path("/usr/lib/postgresql").glob("*/bin")) and bool(
        shutil.which("psql"))


def psql(params: str, sql: str) -> None:
    subprocess.run(["psql", f"dbname=postgres {params}", "-qtAc", sql], check=True, capture_output=True, timeout=60)


def start_cluster() -> PgServer:
    out = subprocess.run([str(CLUSTER), "start"], check=True, capture_output=True, text=True, timeout=120).stdout
    values = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines() if "=" in line)
    return PgServer(values[ENV].strip("'"), values["PREFDISSECT_TEST_PG_DIR"].strip("'"))


def stop_cluster(server: PgServer) -> None:
    if server.folder:
        subprocess.run([str(CLUSTER), "stop", server.folder], capture_output=True, timeout=120)


def from_environment() -> PgServer | None:
    params = os.environ.get(ENV)
    return PgServer(params, None) if params else None
