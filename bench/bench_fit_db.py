"""Benchmark of `fit` end to end on a release-sized database: read, fit, write.

5,240 generated pairs (the release's shape) labelled by 33 simulated judges (the demo's
profiles, and variations of them), so 33 x 16 = 528 judge x group fits, as in the paper.
Prints the time of a full fit (posterior mean, sd, interval and 5-fold held-out accuracy
for every fit), of the refit of one added judge, of the original's 10-fold averaging, and
how long the write lock was held.

    .venv/bin/python bench/bench_fit_db.py [--keep PATH]
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
from pipeline.fitting import fit_database  # noqa: E402
from pipeline.loader import load_records  # noqa: E402

N_JUDGES = 33


def judges(n: int = N_JUDGES):
    """The demo's profiles, then jittered copies of them up to n judges."""
    rng = np.random.default_rng(0)
    out = list(PROFILES)
    while len(out) < n:
        base = PROFILES[len(out) % len(PROFILES)]
        jitter = {p: w * rng.uniform(0.6, 1.4) for p, w in base.weights.items()}
        out.append(replace(base, name=f"{base.name}-variant-{len(out)}", weights=jitter))
    return out


def build(path: Path) -> float:
    t = time.perf_counter()
    load_records(generate_records(seed=1, profiles=judges()), source="bench", db=path)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", type=Path, help="keep the database here")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp())
    db = args.keep or folder / "bench.duckdb"
    print(f"building a release-sized database ({N_JUDGES} judges) ... {build(db):.1f} s")

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


if __name__ == "__main__":
    main()
