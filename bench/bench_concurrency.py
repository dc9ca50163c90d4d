"""A one-judge `fit` on the demo database, with and without an analyst's read-only DuckDB
connection held open in another process the whole time (issue 11: it took 42 s instead
of about 1 s before jobs wrote a private copy and published it atomically).

    .venv/bin/python bench/bench_concurrency.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.demo import build_demo  # noqa: E402
from pipeline.model.fitting import fit_database  # noqa: E402

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SELECT count(*) FROM labels").fetchone()
print("open", flush=True)
sys.stdin.readline()
"""


def one_fit(db: Path) -> float:
    started = time.perf_counter()
    fit_database(db, judges=["human"])
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.duckdb"
        build_demo(template, fit=False)
        free, held = Path(tmp) / "free.duckdb", Path(tmp) / "held.duckdb"
        shutil.copyfile(template, free)
        shutil.copyfile(template, held)
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(held)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "open"
            t_free, t_held = [], []
            for _ in range(args.repeat):  # interleaved, so both see the same machine load
                t_free.append(one_fit(free))
                t_held.append(one_fit(held))
        finally:
            holder.communicate("\n", timeout=30)
    a, b = statistics.median(t_free), statistics.median(t_held)
    print(f"one-judge fit (human x every group, 5,240 demo pairs), median of {args.repeat}:")
    print(f"  without a reader: {a:.2f} s")
    print(f"  with a read-only connection held in another process: {b:.2f} s ({b / a:.2f}x)")


if __name__ == "__main__":
    main()
