"""The warm-up (pipeline/ingest/compiled.py) compiles every loop a load takes, of every kind of
input a load gives it: after it, loads of each layout with a compiled check compile nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from records_factory import make_record

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "formats" / "fixtures"
# Every module with a compiled loop but the fit's kernel (compiled at the first fit)
LOOPS = sorted(p for p in (ROOT / "pipeline").rglob("*.py")
               if "from numba import njit" in p.read_text() and p.name != "ep_kernels.py")

# In a fresh process (no loop compiled yet), warm up, then load one file of each kind that a
# compiled loop checks or measures; print the signatures the loads added to any loop.
_SCRIPT = """
import importlib, sys, numba
from pipeline.ingest import compiled
from pipeline.ingest.loader import load_source

modules = [importlib.import_module(name) for name in sys.argv[1].split(",")]

def signatures():
    return {(m.__name__, name): set(f.signatures) for m in modules
            for name, f in vars(m).items() if isinstance(f, numba.core.registry.CPUDispatcher)}

compiled.warm()
before = signatures()
entries = [k for k in before if k[1] in ('_scan', '_count_all', '_after_last_newline')]  # the loops called from Python
assert len(entries) == 6 and all(before[k] for k in entries), entries
for i, path in enumerate(sys.argv[2:]):
    load_source(path, db=f"load{i}.duckdb")  # in the working folder: the test's own
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
    modules = ",".join(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in LOOPS)
    done = subprocess.run([sys.executable, "-c", _SCRIPT, modules, *map(str, files)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "{}"


def test_make_compiles_again_when_a_module_with_a_loop_changes():
    makefile = (ROOT / "Makefile").read_text()
    assert len(LOOPS) == 5 and all(p.name in makefile for p in LOOPS)
