"""Benchmark of `fit` end to end on a release-sized database: read, fit, write.

5,240 generated pairs (the release's shape) labelled by 33 simulated judges (the demo's
profiles, and variations of them), so 33 x 16 = 528 judge x group fits, as in the paper.
Prints the time of a full fit (posterior mean, sd, interval and 5-fold held-out accuracy
for every fit), of the refit of one added judge, of the original's 10-fold averaging, and
how long the write lock was held. With --pairs 100000 --judges 50 (issue 11): `fit` of
all judges x groups (16 groups + All) on a database of that size, goal under 60 s, then
the style set on it.

    .venv/bin/python bench/bench_fit_db.py [--keep PATH] [--pairs N --judges J] [--build-only]

A --pairs database is built once into bench/out/ (git ignores it) and reused by later runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from pipeline.demo import PROFILES, generate_records  # noqa: E402
from pipeline.model.fitting import fit_database  # noqa: E402
from pipeline.ingest.release_load import load_records  # noqa: E402

N_JUDGES = 33
OUT = Path(__file__).resolve().parent / "out"


def judges(n: int = N_JUDGES):
    """The demo's profiles, then jittered copies of them up to n judges."""
    rng = np.random.default_rng(0)
    out = list(PROFILES)
    while len(out) < n:
        base = PROFILES[len(out) % len(PROFILES)]
        jitter = {p: w * rng.uniform(0.6, 1.4) for p, w in base.weights.items()}
        out.append(replace(base, name=f"{base.name}-variant-{len(out)}", weights=jitter))
    return out


def build(path: Path, n_pairs: int | None = None, n_judges: int = N_JUDGES) -> float:
    """The release's shape; n_pairs scales every group (distinct generated pairs, not copies)."""
    from pipeline.demo import GROUP_SIZES

    sizes = None
    if n_pairs:
        scale = n_pairs / sum(GROUP_SIZES.values())
        sizes = {g: round(n * scale) for g, n in GROUP_SIZES.items()}
    t = time.perf_counter()
    records = generate_records(seed=1, profiles=judges(n_judges), **({"group_sizes": sizes} if sizes else {}))
    load_records(records, source="bench", db=path)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", type=Path, help="keep the database here")
    ap.add_argument("--pairs", type=int, help="pairs of a larger database (e.g. 100000)")
    ap.add_argument("--judges", type=int, default=N_JUDGES)
    ap.add_argument("--build-only", action="store_true", help="build (or find) the database, fit nothing")
    ap.add_argument("--sets", default="paper,style", help="property sets fitted on a --pairs database")
    args = ap.parse_args()
    if args.keep:
        db = args.keep
    elif args.pairs:  # built once, reused: building 100,000 pairs takes longer than fitting them
        db = OUT / f"fit_{args.pairs}x{args.judges}.duckdb"
    else:
        db = Path(tempfile.mkdtemp()) / "bench.duckdb"
    size = f"{args.pairs:,} pairs" if args.pairs else "release-sized"
    if args.pairs and db.exists():
        print(f"reusing the {size} database ({args.judges} judges) at {db}")
    else:
        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"building a {size} database ({args.judges} judges) ... {build(db, args.pairs, args.judges):.1f} s")
    if args.build_only:
        return
    if args.pairs:
        big(db, args.sets.split(","))
        return

    report = fit_database(db)
    s = report.seconds
    print(f"full fit: {report.fitted} fits ({len(report.skipped)} skipped) in {s['total']:.2f} s "
          f"(read {s['read']:.2f}, compute {s['fit']:.2f}, write lock held {s['write']:.2f})")
    print(f"  = {s['total'] / max(report.fitted, 1) * 1000:.1f} ms per judge x group, "
          f"incl. 5-fold held-out accuracy")

    one = fit_database(db, judges=[PROFILES[0].name])
    print(f"refit of one judge: {one.fitted} fits in {one.seconds['total']:.2f} s")

    folds = fit_database(db, folds=10)
    print(f"10-fold averaged (the original's option): {folds.fitted} fits in {folds.seconds['total']:.2f} s")


def big(db: Path, sets: list[str]) -> None:
    for property_set in sets:
        report = fit_database(db, property_set=property_set)
        s = report.seconds
        print(f"fit --properties {property_set}: {report.fitted} fits ({len(report.groups)} groups, "
              f"{len(report.judges)} judges) in {s['total']:.1f} s (read {s['read']:.1f}, compute {s['fit']:.1f}, "
              f"write {s['write']:.1f}){' (goal < 60 s)' if property_set == 'paper' else ''}")


if __name__ == "__main__":
    main()
