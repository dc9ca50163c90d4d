"""A single DuckDB file against a DuckLake lake (PostgreSQL catalog, local data folder), issue 18.

N Arena-shaped battles (bench_scale.py's generator, default 100,000), then for each backend,
each step a fresh process (bench_scale.measure: wall, CPU, peak memory):
- `load FILE`;
- `fit --properties style --judge human`;
- one small write: `group add` of a 1% slice (no fit), twice (the second replaces the first);
- the first and warm visit of a few pages (bench_pages.py --only ..., against that backend);
then one table of every figure side by side, and the space each takes on disk.
PostgreSQL: $PREFDISSECT_TEST_PG's server, else a throwaway cluster (tests/lakes.py, .ci/pg_cluster)
started and stopped here. Files go to bench/out/lake_<n>/ (removed first).

    .venv/bin/python bench/bench_lake.py [--n 100000] [--page TEXT ...] [--skip-pages]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

from bench_scale import cli, measure, write_battles  # noqa: E402 - after the path is set

import lakes  # noqa: E402 - tests/lakes.py: the PostgreSQL server the lake tests use
from pipeline.store.location import locate  # noqa: E402

# Pages timed by default (bench_pages.py --only): the Annotate page plans every raw pair on its
# first visit (26 s at 100,000 battles, README), which says nothing about the backend.
PAGES = ["Home", "Dissection", "Similarity", "Statistics", "SQL", "Groups", "Models"]
ROW = re.compile(r"^(.{45}) +(\d+\.\d+) +(\d+\.\d+)")


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def catalog_bytes(server: lakes.PgServer, dbname: str) -> int:
    out = subprocess.run(["psql", f"dbname={dbname} {server.params}", "-qtAc", "SELECT pg_database_size(current_database())"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return int(out.strip())


def steps(db: str, data: Path | None, src: Path) -> list[tuple[str, list[str]]]:
    place = ["--data-path", str(data)] if data else []
    slice_ = ["group", "add", "bench_lake", "--where", "hash(pair_id) % 100 = 0", "--replace", "--db", db]
    return [("load", cli(*place, "load", str(src), "--db", db)),
            ("fit --properties style --judge human", cli("fit", "--properties", "style", "--judge", "human",
                                                         "--db", db)),
            ("group add (1% slice): a new group", cli(*slice_)),
            ("group add --replace: the same again", cli(*slice_))]


def page_times(db: str, only: list[str]) -> dict[str, tuple[float, float]]:
    """bench_pages.py on this database: {page or view: (first s, warm s)}."""
    args = [a for text in only for a in ("--only", text)]
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_pages.py"), *args], cwd=ROOT,
                       env=dict(os.environ, PREFDISSECT_DB=db), capture_output=True, text=True)
    rows = {m.group(1).strip(): (float(m.group(2)), float(m.group(3)))
            for m in map(ROW.match, r.stdout.splitlines()) if m}
    if not rows:
        print(f"bench_pages.py gave no figures on {db[:40]}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}", flush=True)
    return rows


def run_backend(name: str, db: str, data: Path | None, src: Path, args) -> dict[str, str]:
    figures = {}
    for label, cmd in steps(db, data, src):
        wall, cpu, peak, load = measure(cmd)
        figures[label] = f"{wall:.1f} s, {peak:.0f} MB"
        print(f"{name}: {label}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak {peak:.0f} MB {load}", flush=True)
    if not args.skip_pages:
        t0 = time.perf_counter()
        for page, (first, warm) in page_times(db, args.page or PAGES).items():
            figures[f"page {page}: first / warm"] = f"{first:.2f} / {warm:.2f} s"
        print(f"{name}: pages timed in {time.perf_counter() - t0:.0f} s", flush=True)
    return figures


def table(columns: dict[str, dict[str, str]]) -> None:
    labels = list(dict.fromkeys(k for figures in columns.values() for k in figures))
    names = list(columns)
    print(f"\n{'':52s}" + "".join(f"  {n:>28s}" for n in names))
    for label in labels:
        print(f"{label[:52]:52s}" + "".join(f"  {columns[n].get(label, '-'):>28s}" for n in names))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="battles to generate (5%% ties)")
    ap.add_argument("--page", action="append", default=[], metavar="TEXT",
                    help=f"time these pages / views (bench_pages.py --only; default {', '.join(PAGES)})")
    ap.add_argument("--skip-pages", action="store_true")
    args = ap.parse_args()
    out = ROOT / "bench" / "out" / f"lake_{args.n}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    src = out / "battles.jsonl"
    t0 = time.perf_counter()
    write_battles(src, args.n)
    print(f"generated {args.n:,} battles ({src.stat().st_size / 2**20:.0f} MB JSONL): "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    server = lakes.from_environment() or lakes.start_cluster()
    file_db, dbname = out / "bench.duckdb", f"bench_{uuid.uuid4().hex[:8]}"
    lake_db, data = f"ducklake:postgres:dbname={dbname} {server.params}", out / "lake-data"
    try:
        lakes.psql(server.params, f'CREATE DATABASE "{dbname}"')
        columns = {"DuckDB file": run_backend("file", str(file_db), None, src, args),
                   "lake (PostgreSQL catalog)": run_backend("lake", lake_db, data, src, args)}
        columns["DuckDB file"]["on disk"] = f"{file_db.stat().st_size / 2**20:.0f} MB"
        columns["lake (PostgreSQL catalog)"]["on disk"] = (f"{folder_bytes(data) / 2**20:.0f} MB files + "
                                                           f"{catalog_bytes(server, dbname) / 2**20:.0f} MB catalog")
    finally:
        # the steps run in the repository (bench_scale.measure): the lake's side files went to data/lakes/
        shutil.rmtree(ROOT / locate(lake_db).anchor.parent, ignore_errors=True)
        if server.folder:
            lakes.stop_cluster(server)
    print(f"\n{args.n:,} battles; each step a fresh process (wall, peak memory); pages: bench_pages.py "
          "(first visit with an empty data cache / median warm rerun)")
    table(columns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
