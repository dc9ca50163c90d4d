"""The warm-up (pipeline/ingest/compiled.py) compiles every loop a load takes, of every kind of
input a load gives it: after it, loads of each layout with a compiled check compile nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from records_factory import make_record

FIXTURES = Path(__file__).parent / "formats" / "fixtures"

# In a fresh process (no loop compiled yet), warm up, then load one file of each kind that a
# compiled loop checks or measures; print the signatures the loads added to any loop.
_SCRIPT = """
import sys, numba
from pipeline.ingest import compiled, line_guard
from pipeline.ingest.formats import csv_scan, line_scan, list_scan
from pipeline.ingest.loader import load_source
from pipeline.properties import ascii_counts

def signatures():
    return {(m.__name__, name): set(f.signatures) for m in (ascii_counts, line_guard, csv_scan, line_scan, list_scan)
            for name, f in vars(m).items() if isinstance(f, numba.core.registry.CPUDispatcher)}

compiled.warm()
before = signatures()
entries = [k for k in before if k[1] in ('_scan', '_count_all', '_after_last_newline')]  # the loops called from Python
assert len(entries) == 6 and all(before[k] for k in entries), entries
for i, path in enumerate(sys.argv[1:]):
    load_source(path, db=f"{sys.argv[1]}.{i}.duckdb")
added = {k: v - before.get(k, set()) for k, v in signatures().items()}
print({k: len(v) for k, v in added.items() if v})
"""


def test_after_the_warm_up_a_load_compiles_nothing(tmp_path):
    release = tmp_path / "release.jsonl"
    release.write_text("".join(json.dumps(make_record(i)) + "\n" for i in range(30)))
    generic_list = tmp_path / "pairs.json"
    generic_list.write_text(json.dumps([{"prompt": f"q{i}", "response_1": "- a\n- b", "response_2": "it's x",
                                         "winner": "model_a"} for i in range(20)]))
    generic_csv = tmp_path / "pairs.csv"
    generic_csv.write_text("prompt,response_1,response_2,winner\n" + "".join(
        f'q{i},"1. a\n2. b",x y,model_b\n' for i in range(20)))
    files = [release, generic_list, generic_csv, *(FIXTURES / name for name in (
        "hh_rlhf.jsonl", "arena_55k.csv", "arena_conversations.jsonl",
        "openbmb_ultrafeedback.jsonl", "ultrafeedback_binarized.jsonl"))]
    done = subprocess.run([sys.executable, "-c", _SCRIPT, *map(str, files)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "{}"
