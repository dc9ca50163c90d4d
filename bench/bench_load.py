"""Benchmark of the foundation: `demo` end to end, and loading 100,000 release-format pairs.

Prints the demo's wall time (generate, load, fit) and the time and peak memory (RSS of a
fresh process) of loading a generated JSONL file of 100,000 pairs. Goals (issue 2): demo
under 15 s, 100,000 pairs under 60 s and 2 GB.

    .venv/bin/python bench/bench_load.py [--pairs 100000] [--skip-demo]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_demo(workdir: Path) -> None:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "demo", "--db", str(workdir / "demo.duckdb")],
                   cwd=ROOT, check=True)
    print(f"demo end to end: {time.perf_counter() - t0:.1f} s (goal < 15 s)")


def write_big_file(path: Path, n_pairs: int) -> None:
    """Demo records repeated with distinct queries, so every one is a new pair."""
    sys.path.insert(0, str(ROOT))
    from pipeline.demo import generate_records

    base = generate_records()
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n_pairs):
            rec = dict(base[i % len(base)])
            rec["id"] = i
            rec["query"] = f"{rec['query']} [copy {i // len(base)}]"
            f.write(json.dumps(rec) + "\n")


LOAD_SNIPPET = """
import resource, sys, time
from pipeline.loader import load_source
t0 = time.perf_counter()
report = load_source(sys.argv[1], db=sys.argv[2])
secs = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{report.new_pairs} {secs:.2f} {peak_mb:.0f}")
"""


def bench_load(workdir: Path, n_pairs: int) -> None:
    path = workdir / "big.jsonl"
    write_big_file(path, n_pairs)
    size_mb = path.stat().st_size / 2**20
    out = subprocess.run([sys.executable, "-c", LOAD_SNIPPET, str(path), str(workdir / "big.duckdb")],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout.splitlines()[-1].split()
    pairs, secs, peak = int(out[0]), float(out[1]), float(out[2])
    print(f"load {pairs} pairs ({size_mb:.0f} MB JSONL): {secs:.1f} s, peak memory {peak:.0f} MB "
          f"(goal < 60 s and < 2048 MB)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_demo:
            bench_demo(Path(tmp))
        bench_load(Path(tmp), args.pairs)


if __name__ == "__main__":
    main()
