"""Benchmark at LMArena's size (issue 18, section 1): N Arena-shaped battles on one machine.

Generates N battles (default 1,000,000) as a JSONL file in the lmsys/chatbot_arena_conversations
layout that `load` detects as `arena`: ~30 models, responses of a few hundred characters, a
third of them with markdown (headers, lists, bold, code) so the style properties vary. Then,
each as a fresh process, with the load average beside every figure:
- DuckDB's own bulk read of the file (`CREATE TABLE t AS SELECT * FROM read_json(...)`, or
  read_csv / read_parquet for the other layouts);
- `python -m pipeline load FILE`: wall, CPU, peak memory, ratio to the bulk read, file size;
- `fit --properties style --judge human`, `leaderboard --control style`, and one small write
  (`group add` of a 1% slice, no fit): what the whole-file copy of a write costs;
- the first and warm visit of every page (bench_pages.py against the big database).
Goals (issue 18): load <= 4x the bulk read (3x wished), < 2 GB; fit and board < 30 s each;
warm pages < 1 s. Databases and the JSONL file go to bench/out/ (kept, so --reuse skips
generating and loading again).

    .venv/bin/python bench/bench_scale.py [--n 1000000] [--reuse] [--repeat K] [--load-only] [--then K] [--skip-pages]
        [--page TEXT ...]
        [--layout arena55k | arena-gz | arena-zst | lmarena | hh-rlhf | hh-rlhf-xz | hh-rlhf-bz2 | generic | generic-jsonl
         | generic-json | alpaca-eval | ultrafeedback | ultrafeedback-jsonl | openbmb | forensics]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
N_MODELS = 30
WORDS = ["the", "model", "answer", "explains", "each", "step", "of", "a", "simple", "method", "with",
         "care", "and", "gives", "short", "example", "that", "shows", "why", "result", "holds", "for",
         "most", "inputs", "while", "some", "edge", "cases", "need", "more", "checks", "before", "you",
         "rely", "on", "it", "in", "practice", "data", "value", "list", "function", "error", "time"]

# Run a command as this wrapper's only child, so RUSAGE_CHILDREN is that command's own peak.
MEASURE = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t0
u = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
print(f"{r.returncode} {wall:.2f} {u.ru_utime + u.ru_stime:.2f} {u.ru_maxrss / 1024:.0f}")
"""

BULK = """
import duckdb, sys
con = duckdb.connect(sys.argv[2])
reader = ("read_csv(?)" if sys.argv[1].endswith(".csv") else "read_parquet(?)" if sys.argv[1].endswith(".parquet")
          else "read_json(?, format='array')" if sys.argv[1].endswith(".json")
          else "read_json(?, format='newline_delimited')")
con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}", [sys.argv[1]])
print(con.execute("SELECT count(*) FROM t").fetchone()[0])
"""


# Feedback Forensics' one object: DuckDB reads it whole (the object must fit its maximum size)
# and unnests the comparisons, each kept as its JSON text (the cheapest read it has of them)
BULK_OBJECT = """
import duckdb, sys
con = duckdb.connect(sys.argv[2])
con.execute("CREATE TABLE t AS SELECT unnest(comparisons) AS comparison FROM read_json(?, "
            "maximum_object_size = 4000000000, columns = {'comparisons': 'JSON[]'})", [sys.argv[1]])
print(con.execute("SELECT count(*) FROM t").fetchone()[0])
"""


def sentence(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choices(WORDS, k=n_words)).capitalize() + "."


def response(rng: random.Random, quality: int) -> str:
    """A few hundred characters; a third with markdown, longer for better models."""
    n = rng.randint(2, 5) + quality // 10
    if rng.random() < 1 / 3:
        parts = [f"## {sentence(rng, 3)}", sentence(rng, 12)]
        parts += [f"- **{rng.choice(WORDS)}**: {sentence(rng, 8)}" for _ in range(rng.randint(2, 5))]
        if rng.random() < 0.3:
            parts.append(f"```python\ndef f(x):\n    return x * {rng.randint(2, 9)}\n```")
        return "\n".join(parts)
    return " ".join(sentence(rng, rng.randint(8, 16)) for _ in range(n))


def write_battles(path: Path, n: int, seed: int = 0) -> None:
    """n battles, 5% of them ties / both-bad (read, counted, left out by `load`). The model
    with the larger index wins more often, and longer markdown answers a little more."""
    rng = random.Random(seed)
    models = [f"model-{k:02d}" for k in range(N_MODELS)]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            a, b = rng.sample(range(N_MODELS), 2)
            query = f"{sentence(rng, rng.randint(6, 14))[:-1]}? (battle {i})"
            ra, rb = response(rng, a), response(rng, b)
            if i % 20 == 0:
                winner = ("tie", "tie (bothbad)")[i // 20 % 2]
            else:
                edge = (a - b) / N_MODELS + (len(ra) - len(rb)) / 2000
                winner = "model_a" if rng.random() < 0.5 + edge / 2 else "model_b"
            f.write(json.dumps({
                "question_id": f"q{i}", "model_a": models[a], "model_b": models[b], "winner": winner,
                "judge": f"arena_user_{i % 7919}",
                "conversation_a": [{"role": "user", "content": query}, {"role": "assistant", "content": ra}],
                "conversation_b": [{"role": "user", "content": query}, {"role": "assistant", "content": rb}],
                "turn": 1, "anony": True, "language": "English" if i % 5 else "German", "tstamp": 1.7e9 + i,
            }) + "\n")


def write_arena55k(jsonl: Path, path: Path) -> None:
    """The same battles in the Kaggle arena-human-preference-55k layout (a CSV of JSON-encoded
    turn lists and one-hot winners), which `load` reads with DuckDB (formats/arena55k_scan.py)."""
    import csv

    with open(jsonl, encoding="utf-8") as src, open(path, "w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(["id", "model_a", "model_b", "prompt", "response_a", "response_b", "winner_model_a",
                    "winner_model_b", "winner_tie"])
        for line in src:
            b = json.loads(line)
            turns = [[m["content"] for m in b[c] if m["role"] == role] for c, role in
                     (("conversation_a", "user"), ("conversation_a", "assistant"), ("conversation_b", "assistant"))]
            win = b["winner"]
            w.writerow([b["question_id"], b["model_a"], b["model_b"], *(json.dumps(t) for t in turns),
                        int(win == "model_a"), int(win == "model_b"), int(win.startswith("tie"))])


def write_lmarena(jsonl: Path, path: Path) -> None:
    """The same battles in LMArena's arena-human-preference-140k parquet layout: content as
    {type, text, image, mimeType} parts, both_bad, category tags as nested structs, which `load`
    reads with DuckDB (formats/parquet_scan.py)."""
    import duckdb

    part = "[{'type': 'text', 'text': m.content, 'image': NULL::VARCHAR, 'mimeType': NULL::VARCHAR}]"
    flag = "hash(question_id) % {} = 0"
    duckdb.connect().execute(f"""
COPY (SELECT question_id AS id, model_a, model_b, replace(winner, 'tie (bothbad)', 'both_bad') AS winner,
  'session-' || (row_number() OVER () // 3) AS evaluation_session_id, 1 AS evaluation_order,
  list_transform(conversation_a, m -> {{'role': m.role, 'content': {part}}}) AS conversation_a,
  list_transform(conversation_b, m -> {{'role': m.role, 'content': {part}}}) AS conversation_b,
  {{'criteria_v0.1': {{'specificity': {flag.format(2)}, 'complexity': {flag.format(3)}}},
    'math_v0.1': {{'math': {flag.format(7)}}}, 'if_v0.1': {{'if': true, 'score': (hash(question_id) % 5)::INT}}}}
    AS category_tag,
  language, false AS is_code, to_timestamp(tstamp) AS timestamp
FROM read_json(?, format = 'newline_delimited', columns = {{'question_id': 'VARCHAR', 'model_a': 'VARCHAR',
  'model_b': 'VARCHAR', 'winner': 'VARCHAR', 'conversation_a': 'STRUCT(role VARCHAR, content VARCHAR)[]',
  'conversation_b': 'STRUCT(role VARCHAR, content VARCHAR)[]', 'language': 'VARCHAR', 'tstamp': 'DOUBLE'}}))
TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)""", [str(jsonl)])


def write_ultrafeedback(jsonl: Path, path: Path) -> None:
    """The same battles in UltraFeedback's binarized parquet layout (prompt, prompt_id, chosen and
    rejected as {content, role} lists, score_chosen / score_rejected; a tie's two scores equal),
    which `load` reads with DuckDB (formats/ultrafeedback_scan.py)."""
    import duckdb

    conv = "[{{'content': q, 'role': 'user'}}, {{'content': {side}, 'role': 'assistant'}}]"
    duckdb.connect().execute(f"""
COPY (SELECT q AS prompt, question_id AS prompt_id,
  {conv.format(side="CASE WHEN winner = 'model_b' THEN b ELSE a END")} AS chosen,
  {conv.format(side="CASE WHEN winner = 'model_b' THEN a ELSE b END")} AS rejected,
  (CASE WHEN winner LIKE 'tie%' THEN 7.0 ELSE 8.5 END)::DOUBLE AS score_chosen, 7.0::DOUBLE AS score_rejected,
  'bench' AS source
FROM (SELECT *, conversation_a[1].content AS q, conversation_a[2].content AS a, conversation_b[2].content AS b
      FROM read_json(?, format = 'newline_delimited', columns = {{'question_id': 'VARCHAR', 'winner': 'VARCHAR',
        'conversation_a': 'STRUCT(role VARCHAR, content VARCHAR)[]',
        'conversation_b': 'STRUCT(role VARCHAR, content VARCHAR)[]'}})))
TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)""", [str(jsonl)])


def write_ultrafeedback_jsonl(jsonl: Path, path: Path) -> None:
    """The binarized layout of `write_ultrafeedback` as JSON lines (formats/ultrafeedback_scan.py's
    `JSONL`)."""
    import duckdb

    parquet = path.with_suffix(".tmp.parquet")
    write_ultrafeedback(jsonl, parquet)
    duckdb.connect().execute(f"COPY (SELECT * FROM read_parquet(?)) TO '{path}' (FORMAT json)", [str(parquet)])
    parquet.unlink()


def write_openbmb(jsonl: Path, path: Path) -> None:
    """The same battles in openbmb/UltraFeedback's layout: `instruction` and `completions` of
    {model, response, overall_score} (the winner scored 8.5, a tie's two scores equal), as JSON lines."""
    import duckdb

    duckdb.connect().execute(f"""
COPY (SELECT 'bench' AS source, conversation_a[1].content AS instruction, [model_a, model_b] AS models,
  [{{'model': model_a, 'response': conversation_a[2].content,
     'overall_score': CASE WHEN winner IN ('model_a') THEN 8.5 ELSE 7.0 END}},
   {{'model': model_b, 'response': conversation_b[2].content,
     'overall_score': CASE WHEN winner IN ('model_b') THEN 8.5 ELSE 7.0 END}}] AS completions
FROM read_json(?, format = 'newline_delimited', columns = {{'model_a': 'VARCHAR', 'model_b': 'VARCHAR',
  'winner': 'VARCHAR', 'conversation_a': 'STRUCT(role VARCHAR, content VARCHAR)[]',
  'conversation_b': 'STRUCT(role VARCHAR, content VARCHAR)[]'}}))
TO '{path}' (FORMAT json)""", [str(jsonl)])


def write_forensics(jsonl: Path, path: Path) -> None:
    """The same battles as Feedback Forensics' AnnotatedPairs JSON: one object, the comparisons
    in a list between its metadata and its annotators (read as a stream in two passes). DuckDB's
    bulk read of it (`BULK_OBJECT`) reads the whole object at once."""
    import duckdb

    listed = path.with_suffix(".tmp.json")
    duckdb.connect().execute(f"""
COPY (SELECT question_id AS id, conversation_a[1].content AS prompt,
  {{'text': conversation_a[2].content, 'model': model_a}} AS response_a,
  {{'text': conversation_b[2].content, 'model': model_b}} AS response_b,
  {{'crowd': {{'pref': CASE winner WHEN 'model_a' THEN 'a' WHEN 'model_b' THEN 'b' END}}}} AS annotations
FROM read_json(?, format = 'newline_delimited', columns = {{'question_id': 'VARCHAR', 'model_a': 'VARCHAR',
  'model_b': 'VARCHAR', 'winner': 'VARCHAR', 'conversation_a': 'STRUCT(role VARCHAR, content VARCHAR)[]',
  'conversation_b': 'STRUCT(role VARCHAR, content VARCHAR)[]'}}))
TO '{listed}' (FORMAT json, ARRAY true)""", [str(jsonl)])
    with open(path, "w", encoding="utf-8") as out, open(listed, encoding="utf-8") as rows:
        out.write('{"metadata": {"version": "2.0", "default_annotator": "crowd"},\n"comparisons": ')
        shutil.copyfileobj(rows, out)
        out.write(',\n"annotators": {"crowd": {"name": "crowd", "type": "human"}}}\n')
    listed.unlink()


def _generic_pair(b: dict) -> dict:
    """A generated battle's columns as generic pairs name them, but the winner."""
    return {"id": b["question_id"], "prompt": b["conversation_a"][0]["content"],
            "response_1": b["conversation_a"][1]["content"], "response_2": b["conversation_b"][1]["content"],
            "model_1": b["model_a"], "model_2": b["model_b"]}


def write_generic(jsonl: Path, path: Path) -> None:
    """The same battles as generic pairs in a CSV (prompt, response_1, response_2, model_1,
    model_2, winner as a / b / tie / both_bad), which `load` reads with DuckDB
    (formats/generic_scan.py)."""
    import csv

    words = {"model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "both_bad"}
    with open(jsonl, encoding="utf-8") as src, open(path, "w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(["id", "prompt", "response_1", "response_2", "model_1", "model_2", "winner"])
        for line in src:
            b = json.loads(line)
            w.writerow([*_generic_pair(b).values(), words[b["winner"]]])


def write_generic_jsonl(jsonl: Path, path: Path) -> None:
    """The same generic pairs as JSON lines, the winner as 1 / 2 (a number), "tie" or "both_bad"
    (formats/generic_scan.py reads them with DuckDB too)."""
    words = {"model_a": 1, "model_b": 2, "tie": "tie", "tie (bothbad)": "both_bad"}
    with open(jsonl, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
        for line in src:
            b = json.loads(line)
            out.write(json.dumps({**_generic_pair(b), "winner": words[b["winner"]]}) + "\n")


def write_generic_json(jsonl: Path, path: Path) -> None:
    """The same generic pairs as one JSON list, an element a line (formats/generic_scan.py reads
    it with DuckDB as an array; `list_scan` counts its elements)."""
    words = {"model_a": 1, "model_b": 2, "tie": "tie", "tie (bothbad)": "both_bad"}
    with open(jsonl, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
        out.write("[")
        for i, line in enumerate(src):
            b = json.loads(line)
            out.write(("," if i else "") + "\n" + json.dumps({**_generic_pair(b), "winner": words[b["winner"]]}))
        out.write("\n]\n")


def write_alpaca_eval(jsonl: Path, path: Path) -> None:
    """The same battles as AlpacaEval annotations: one indented JSON list, as AlpacaEval writes
    `annotations.json`, four annotators taking turns (formats/alpaca_eval_scan.py reads it with
    DuckDB, a judge per row); a tie or both-bad is preference 1.5."""
    prefs = {"model_a": 1, "model_b": 2, "tie": 1.5, "tie (bothbad)": 1.5}
    annotators = ["weighted_alpaca_eval_gpt4_turbo", "alpaca_eval_gpt4", "claude_3_opus", "chatgpt"]
    with open(jsonl, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
        out.write("[")
        for i, line in enumerate(src):
            b = json.loads(line)
            row = {"dataset": "helpful_base", "instruction": b["conversation_a"][0]["content"],
                   "output_1": b["conversation_a"][1]["content"], "generator_1": b["model_a"],
                   "output_2": b["conversation_b"][1]["content"], "generator_2": b["model_b"],
                   "annotator": annotators[i % 4], "preference": prefs[b["winner"]]}
            out.write(("," if i else "") + "\n  " + json.dumps(row))
        out.write("\n]\n")


def write_hh_rlhf(jsonl: Path, path: Path) -> None:
    """The same battles as Anthropic HH-RLHF chosen/rejected transcripts (the winner's reply is
    chosen; a tie keeps side a), which `load` reads with DuckDB (formats/hh_rlhf_scan.py)."""
    with open(jsonl, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
        for line in src:
            b = json.loads(line)
            query = b["conversation_a"][0]["content"]
            replies = b["conversation_a"][1]["content"], b["conversation_b"][1]["content"]
            chosen, rejected = replies[::-1] if b["winner"] == "model_b" else replies
            out.write(json.dumps({"chosen": f"\n\nHuman: {query}\n\nAssistant: {chosen}",
                                  "rejected": f"\n\nHuman: {query}\n\nAssistant: {rejected}"}) + "\n")


def write_gzip(jsonl: Path, path: Path) -> None:
    """The JSON lines gzipped (fast level), which DuckDB and the line check each decompress."""
    with open(jsonl, "rb") as plain, gzip.open(path, "wb", compresslevel=1) as packed:
        shutil.copyfileobj(plain, packed, 1 << 20)


def write_hh_archive(codec: str):
    """The HH-RLHF JSON lines (`write_hh_rlhf`, reused when there) as bzip2 or xz, which DuckDB
    reads neither of: `load` decompresses it into its scratch folder, then reads the plain copy.
    Its yardstick: Python's decompression, then DuckDB's bulk read of the plain file (`YARDSTICK`)."""
    import bz2
    import lzma

    def write(jsonl: Path, path: Path) -> None:
        plain = path.with_name(path.name.rsplit(".", 1)[0])
        if not plain.exists():
            write_hh_rlhf(jsonl, plain)
        packed = bz2.open(path, "wb", compresslevel=1) if codec == "bzip2" else lzma.open(path, "wb", preset=3)
        with open(plain, "rb") as src, packed:
            shutil.copyfileobj(src, packed, 1 << 20)
    return write


def write_zstd(jsonl: Path, path: Path) -> None:
    """The JSON lines as zstd (level 3), which DuckDB and the line check each decompress."""
    import zstandard

    with open(jsonl, "rb") as plain, open(path, "wb") as out:
        zstandard.ZstdCompressor(level=3).copy_stream(plain, out)


# --layout: (the converted file's name after scale_N, the tag of its databases, its writer)
LAYOUTS = {"arena55k": ("_55k.csv", "55k", write_arena55k), "arena-gz": (".jsonl.gz", "gz", write_gzip),
           "arena-zst": (".jsonl.zst", "zst", write_zstd),
           "lmarena": ("_lmarena.parquet", "lm", write_lmarena), "hh-rlhf": ("_hh.jsonl", "hh", write_hh_rlhf),
           "hh-rlhf-xz": ("_hh.jsonl.xz", "hhxz", write_hh_archive("xz")),
           "hh-rlhf-bz2": ("_hh.jsonl.bz2", "hhbz2", write_hh_archive("bzip2")),
           "generic": ("_generic.csv", "generic", write_generic),
           "generic-jsonl": ("_generic.jsonl", "gjson", write_generic_jsonl),
           "generic-json": ("_generic.json", "glist", write_generic_json),
           "alpaca-eval": ("_alpaca.json", "alpaca", write_alpaca_eval),
           "ultrafeedback": ("_uf.parquet", "uf", write_ultrafeedback),
           "ultrafeedback-jsonl": ("_uf.jsonl", "ufjson", write_ultrafeedback_jsonl),
           "openbmb": ("_openbmb.jsonl", "openbmb", write_openbmb),
           "forensics": ("_forensics.json", "forensics", write_forensics)}


# archives DuckDB cannot read: the yardstick is Python's decompression and then DuckDB's bulk read
YARDSTICK = ("hh-rlhf-xz", "hh-rlhf-bz2")


def measure(args: list[str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak MB, load averages) of one command run as a fresh process; exits on failure.
    The writes of the steps before are flushed first: on this machine's disk a gigabyte written by
    one step and flushed during the next slowed the next by up to a fifth (a load's first run
    after another layout's was 2 to 5 s longer than its second)."""
    os.sync()
    load = os.getloadavg()[0]
    r = subprocess.run([sys.executable, "-c", MEASURE, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    rc, wall, cpu, peak = r.stdout.split()
    if rc != "0":
        sys.exit(f"failed: {' '.join(args)}\n{r.stderr}")
    return float(wall), float(cpu), float(peak), f"(load average {load:.1f} -> {os.getloadavg()[0]:.1f})"


def copy_cost(db: Path) -> None:
    """What every write pays before its own work: the byte copy and fsync of the whole file."""

    copy = db.with_name(db.name + ".benchcopy")
    t0 = time.perf_counter()
    shutil.copyfile(db, copy)
    t1 = time.perf_counter()
    fd = os.open(copy, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    t2 = time.perf_counter()
    copy.unlink()
    print(f"copy of the {db.stat().st_size / 2**30:.2f} GB file alone: {t1 - t0:.1f} s, fsync {t2 - t1:.1f} s "
          f"(load average {os.getloadavg()[0]:.1f})", flush=True)


def bulk_read(src: Path, bulk_db: Path, script: str = BULK) -> float:
    """DuckDB's own bulk read of the file into a table (the load's yardstick): its wall seconds."""
    bulk_db.unlink(missing_ok=True)
    bw, bc, bp, bl = measure([sys.executable, "-c", script, str(src), str(bulk_db)])
    reader = reader_of(src) if script == BULK else "read_json of the whole object, its comparisons unnested"
    print(f"DuckDB bulk read ({reader}) into a table: {bw:.1f} s wall, {bc:.1f} s CPU, peak {bp:.0f} MB {bl}",
          flush=True)
    bulk_db.unlink(missing_ok=True)
    return bw


DECOMPRESS = """
import bz2, lzma, shutil, sys
opened = bz2.open if sys.argv[1].endswith(".bz2") else lzma.open
with opened(sys.argv[1], "rb") as packed, open(sys.argv[2], "wb") as plain:
    shutil.copyfileobj(packed, plain, 1 << 20)
"""


def archive_yardstick(src: Path, bulk_db: Path) -> float:
    """What reading an archive DuckDB cannot read costs with DuckDB: Python decompresses it to a
    file (as `load` does into its scratch folder), then DuckDB bulk-reads that file. Its wall seconds."""
    plain = bulk_db.with_name(bulk_db.stem + "_plain.jsonl")
    dw, dc, dp, dl = measure([sys.executable, "-c", DECOMPRESS, str(src), str(plain)])
    print(f"decompressed by Python ({'bz2' if src.suffix == '.bz2' else 'lzma'}): {dw:.1f} s wall, {dc:.1f} s CPU "
          f"{dl}", flush=True)
    try:
        return dw + bulk_read(plain, bulk_db)
    finally:
        plain.unlink(missing_ok=True)


def reader_of(src: Path) -> str:
    return {".csv": "read_csv", ".parquet": "read_parquet"}.get(src.suffix, "read_json")


def duckdb_connection(db: Path):
    import duckdb

    return duckdb.connect(str(db), read_only=True)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="battles to generate (5%% ties)")
    ap.add_argument("--reuse", action="store_true", help="keep the JSONL file and database of an earlier run")
    ap.add_argument("--skip-pages", action="store_true")
    ap.add_argument("--layout", choices=["arena", *LAYOUTS], default="arena",
                    help="arena: Arena JSON lines; arena55k: the same battles as the Kaggle CSV layout; arena-gz: "
                         "the JSON lines gzipped; arena-zst: as zstd; lmarena: LMArena's 140k parquet layout; hh-rlhf: chosen/rejected "
                         "transcripts; hh-rlhf-xz, hh-rlhf-bz2: the same as xz or bzip2 (against Python's decompression and the plain file's bulk read); generic: a CSV of named columns; generic-jsonl: the same as JSON lines; "
                         "generic-json: the same as one JSON list; alpaca-eval: AlpacaEval annotations, four annotators; "
                         "ultrafeedback: UltraFeedback's binarized parquet; ultrafeedback-jsonl: the same as JSON lines; "
                         "openbmb: openbmb/UltraFeedback's completions as JSON lines; forensics: Feedback Forensics' "
                         "AnnotatedPairs object (read row by row in Python, against DuckDB's read of the whole object) "
                         "(all but forensics read by DuckDB and sorted in SQL)")
    ap.add_argument("--repeat", type=int, default=1, metavar="K",
                    help="bulk read and load K times in turn (a fresh database each time), with the median ratio")
    ap.add_argument("--load-only", action="store_true", help="stop after the loads (no fit, board, write or pages)")
    ap.add_argument("--then", type=int, default=0, metavar="K",
                    help="then load K more files of N other battles (Arena JSON lines, seeds 1 to K) into the same "
                         "database, one after another: the peak of a load onto millions of stored pairs")
    ap.add_argument("--page", action="append", default=[], metavar="TEXT",
                    help="time only these pages / views (bench_pages.py --only; repeatable)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    src, db, bulk_db = OUT / f"scale_{args.n}.jsonl", OUT / f"scale_{args.n}.duckdb", OUT / f"scale_{args.n}_bulk.duckdb"
    if not (args.reuse and src.exists()):
        t0 = time.perf_counter()
        write_battles(src, args.n)
        print(f"generated {args.n:,} battles ({src.stat().st_size / 2**30:.2f} GB JSONL): "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    if args.layout != "arena":
        suffix, tag, write = LAYOUTS[args.layout]
        converted = OUT / f"scale_{args.n}{suffix}"
        if not (args.reuse and converted.exists()):
            write(src, converted)
        src, db, bulk_db = converted, OUT / f"scale_{args.n}_{tag}.duckdb", OUT / f"scale_{args.n}_{tag}_bulk.duckdb"
    ratios = []
    for run in range(args.repeat):  # each load right after its own bulk read: the host's speed drifts
        if args.layout in YARDSTICK:
            bw = archive_yardstick(src, bulk_db)
        else:
            bw = bulk_read(src, bulk_db, BULK_OBJECT if args.layout == "forensics" else BULK)
        if args.reuse and db.exists() and args.repeat == 1:
            break
        for p in (db, Path(f"{db}.wal")):
            p.unlink(missing_ok=True)
        lw, lc, lp, ll = measure(cli("load", str(src), "--db", str(db)))
        ratios.append(lw / bw)
        print(f"load: {lw:.1f} s wall, {lc:.1f} s CPU, peak {lp:.0f} MB; {lw / bw:.1f}x the bulk read's wall (an archive's: with its decompression) "
              f"(goal <= 4x, wish 3x; < 2048 MB); database {db.stat().st_size / 2**30:.2f} GB {ll}", flush=True)
    if len(ratios) > 1:
        print(f"load / bulk read over {len(ratios)} runs: median {statistics.median(ratios):.1f}x, "
              f"from {min(ratios):.1f}x to {max(ratios):.1f}x", flush=True)
    for seed in range(1, args.then + 1):
        more = OUT / f"scale_{args.n}_seed{seed}.jsonl"
        if not more.exists():
            write_battles(more, args.n, seed=seed)
        with duckdb_connection(db) as con:
            stored = con.execute("SELECT count(*) FROM pairs").fetchone()[0]
        w, c, p, la = measure(cli("load", str(more), "--db", str(db)))
        print(f"load of {args.n:,} other battles onto {stored:,} stored pairs: {w:.1f} s wall, {c:.1f} s CPU, "
              f"peak {p:.0f} MB (< 2048 MB) {la}", flush=True)
    if args.load_only:
        return 0
    steps = [("fit --properties style --judge human", cli("fit", "--properties", "style", "--judge", "human",
                                                        "--db", str(db))),
             ("leaderboard --judge human --control style", cli("leaderboard", "--judge", "human", "--control",
                                                                "style", "--db", str(db))),
             ("group add (1% slice, no fit): one small write", cli("group", "add", "scale_bench", "--where",
                                                                   "hash(pair_id) % 100 = 0", "--replace",
                                                                   "--db", str(db)))]
    if args.layout.startswith("hh-rlhf"):  # no models: no leaderboard
        steps = [step for step in steps if not step[0].startswith("leaderboard")]
    for label, cmd in steps:
        w, c, p, la = measure(cmd)
        print(f"{label}: {w:.1f} s wall, {c:.1f} s CPU, peak {p:.0f} MB {la}", flush=True)
    copy_cost(db)
    if not args.skip_pages:
        print("pages (bench_pages.py on this database):", flush=True)
        env = dict(os.environ, PREFDISSECT_DB=str(db))
        only = [a for text in args.page for a in ("--only", text)]
        subprocess.run([sys.executable, str(ROOT / "bench" / "bench_pages.py"), *only], cwd=ROOT, env=env, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
