"""Benchmark of loading: `demo` end to end, 100,000 release-format pairs, 100,000 Arena pairs.

Prints the demo's wall time (generate, load, fit), and the time and peak memory (RSS of a
fresh process) of loading (a) a generated JSONL file of 100,000 release-format pairs x 50
judges (the demo's 12 and 38 generated ones, as bench_pages.py --big) and (b) 100,000 raw
Chatbot-Arena-shaped battles, stored with their style features. Goals: demo under 15 s (issue 2); each load under 60 s and 2 GB (issues 2, 9 and 11).

    .venv/bin/python bench/bench_load.py [--pairs 100000] [--judges 50] [--skip-demo] [--skip-release] [--skip-arena]
        [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_JUDGES = 12  # judges of every demo record


def bench_demo(workdir: Path) -> None:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "demo", "--db", str(workdir / "demo.duckdb")],
                   cwd=ROOT, check=True)
    print(f"demo end to end: {time.perf_counter() - t0:.1f} s (goal < 15 s)")


def write_big_file(path: Path, n_pairs: int, extra_judges: int = 0) -> None:
    """Demo records repeated with distinct queries, so every one is a new pair; with
    `extra_judges`, each record also carries that many more judges' labels (judge k: the
    human's choice flipped on 5% + k% of the pairs, a stable hash picking which)."""
    sys.path.insert(0, str(ROOT))
    from pipeline.demo import generate_records

    base = generate_records()
    flip = {"response_1": "response_2", "response_2": "response_1"}
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n_pairs):
            rec = dict(base[i % len(base)])
            rec["id"] = i
            rec["query"] = f"{rec['query']} [copy {i // len(base)}]"
            if extra_judges:
                labels = rec["preference_labels"] = dict(rec["preference_labels"])
                human = labels["human"]
                for k in range(extra_judges):
                    flipped = zlib.crc32(f"{i}:{k}".encode()) % 100 < 5 + k
                    labels[f"extra-judge-{k:02d}"] = flip[human] if flipped else human
            f.write(json.dumps(rec) + "\n")


LOAD_SNIPPET = """
import resource, sys, time
from pipeline.ingest.loader import load_source
t0 = time.perf_counter()
report = load_source(sys.argv[1], db=sys.argv[2])
secs = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
print(f"{report.new_pairs} {secs:.2f} {usage.ru_maxrss / 1024:.0f} {usage.ru_utime + usage.ru_stime:.2f}")
"""


def write_arena_file(path: Path, n_pairs: int) -> None:
    """Battles in the lmsys/chatbot_arena_conversations layout, texts from the demo's responses."""
    sys.path.insert(0, str(ROOT))
    from pipeline.demo import generate_records

    base = generate_records()
    n_ties = n_pairs // 20  # extra tie and both-bad rows: read, counted and left out
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n_pairs + n_ties):
            rec = base[i % len(base)]
            query = f"{rec['query']} [battle {i}]"
            won = ("tie", "tie (bothbad)")[i % 2] if i >= n_pairs else rec["preference_labels"]["human"]
            f.write(json.dumps({
                "question_id": f"b{i}", "model_a": rec["response_1"]["model"], "model_b": rec["response_2"]["model"],
                "winner": {"response_1": "model_a", "response_2": "model_b"}.get(won, won),
                "judge": f"arena_user_{i % 7919}",
                "conversation_a": [{"role": "user", "content": query},
                                   {"role": "assistant", "content": rec["response_1"]["content"]}],
                "conversation_b": [{"role": "user", "content": query},
                                   {"role": "assistant", "content": rec["response_2"]["content"]}],
                "turn": 1, "anony": True, "language": "English" if i % 5 else "German", "tstamp": 1.7e9 + i,
            }) + "\n")


def _measure(path: Path, db: Path) -> tuple[int, float, float, float]:
    """(new pairs, wall seconds, peak MB, CPU seconds): CPU time shows the cost on a busy machine."""
    out = subprocess.run([sys.executable, "-c", LOAD_SNIPPET, str(path), str(db)],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout.splitlines()[-1].split()
    return int(out[0]), float(out[1]), float(out[2]), float(out[3])


def bench_arena(workdir: Path, n_pairs: int) -> None:
    path = workdir / "arena.jsonl"
    write_arena_file(path, n_pairs)
    size_mb = path.stat().st_size / 2**20
    pairs, secs, peak, cpu = _measure(path, workdir / "arena.duckdb")
    import duckdb

    con = duckdb.connect(str(workdir / "arena.duckdb"), read_only=True)
    n_style = con.execute("SELECT count(*) FROM features").fetchone()[0]
    con.close()
    print(f"load {n_pairs + n_pairs // 20} Arena battles ({size_mb:.0f} MB JSONL) -> {pairs} raw pairs with {n_style} style "
          f"features: {secs:.1f} s ({cpu:.1f} s CPU), peak memory {peak:.0f} MB (goal < 60 s and < 2048 MB)")


BULK_SNIPPET = """
import sys, time, duckdb
t0 = time.perf_counter()
con = duckdb.connect(sys.argv[2])
con.execute("CREATE TABLE t AS SELECT * FROM read_json(?, format = 'newline_delimited')", [sys.argv[1]])
print(f"{time.perf_counter() - t0:.2f}")
"""


def bulk_read(path: Path, db: Path) -> float:
    """DuckDB's own bulk read of the file into a table (issue 18's yardstick), in a fresh process: seconds."""
    out = subprocess.run([sys.executable, "-c", BULK_SNIPPET, str(path), str(db)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    db.unlink()
    return float(out[-1])


def bench_load(workdir: Path, n_pairs: int, judges: int, repeat: int = 1) -> None:
    """The release load against DuckDB's bulk read of the same file, `repeat` times, each load
    right after its own bulk read (both move with the host), then the median ratio."""
    path = workdir / "big.jsonl"
    write_big_file(path, n_pairs, extra_judges=max(judges - DEMO_JUDGES, 0))
    size_mb = path.stat().st_size / 2**20
    ratios = []
    for _ in range(repeat):
        bulk = bulk_read(path, workdir / "bulk.duckdb")
        db = workdir / "big.duckdb"
        for stale in (db, Path(f"{db}.wal")):
            stale.unlink(missing_ok=True)  # each run loads into a new database
        pairs, secs, peak, cpu = _measure(path, db)
        ratios.append(secs / bulk)
        print(f"load {pairs} pairs x {max(judges, DEMO_JUDGES)} judges ({size_mb:.0f} MB JSONL): {secs:.1f} s wall "
              f"({cpu:.1f} s CPU), peak memory {peak:.0f} MB (goal < 60 s and < 2048 MB); DuckDB's bulk read of the "
              f"file {bulk:.1f} s: {secs / bulk:.1f}x (issue 18's goal <= 4x; the release is read row by row in Python)")
    if repeat > 1:
        print(f"load / bulk read over {repeat} runs: median {statistics.median(ratios):.1f}x, "
              f"from {min(ratios):.1f}x to {max(ratios):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--judges", type=int, default=50, help="judges per release-format pair (12 are the demo's)")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-release", action="store_true")
    parser.add_argument("--skip-arena", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="release loads, each right after its own bulk read; prints the median ratio")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_demo:
            bench_demo(Path(tmp))
        if not args.skip_release:
            bench_load(Path(tmp), args.pairs, args.judges, args.repeat)
        if not args.skip_arena:
            bench_arena(Path(tmp), args.pairs)


if __name__ == "__main__":
    main()
