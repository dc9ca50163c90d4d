"""Time of the answers read-outs: `leaderboard` for all judges, forecasts, and the two pages.

    .venv/bin/python bench/bench_answers.py            # demo (built once in bench/out/) + 100,000 pairs
    .venv/bin/python bench/bench_answers.py --no-large # the demo only

Prints:
- `leaderboard` for every judge on the fitted demo (12 judges, 18 models, 5,240 pairs), raw and
  with the controls paper (29 covariates) and style (10); goal: under 10 s;
- the same on 100,000 generated pairs (4 judges, 40 models, 29 paper features); no goal;
- `whatif` for one judge x model, and `judge_difference` for two judges;
- the Leaderboard and What-if pages' render time on the demo (AppTest, cold data cache); goal < 1 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
DEMO_GOAL_S, PAGE_GOAL_S = 10.0, 1.0


def demo_db() -> Path:
    path = OUT / "answers_demo.duckdb"
    if not path.exists():
        from pipeline.demo import build_demo

        OUT.mkdir(parents=True, exist_ok=True)
        print(f"building the fitted demo at {path} ...", flush=True)
        build_demo(path, fit=True)
    return path


def large_db(n: int = 100_000, n_models: int = 40, judges: int = 4, seed: int = 0) -> Path:
    """n pairs between n_models models, 29 paper features each, labels of `judges` simulated judges."""
    import pyarrow as pa

    from pipeline.store import db as dbmod
    from pipeline.properties.paper import PROPERTY_NAMES

    path = OUT / f"answers_{n}.duckdb"
    if path.exists():
        return path
    print(f"generating {n:,} pairs at {path} ...", flush=True)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_models, n)
    b = (a + rng.integers(1, n_models, n)) % n_models
    names = np.array([f"model-{i:02d}" for i in range(n_models)])
    strength = rng.normal(0, 0.6, n_models)
    X = rng.choice(np.array([-1, 0, 0, 1], dtype=np.int8), size=(n, len(PROPERTY_NAMES)))
    ids = np.arange(n)
    pairs_t = pa.table({"pair_id": ids, "model_1": names[a], "model_2": names[b]})  # noqa: F841
    feats_t = pa.table({"pair_id": np.repeat(ids, len(PROPERTY_NAMES)),  # noqa: F841
                        "property": np.tile(PROPERTY_NAMES, n), "value": X.ravel()})
    labels = []
    for j in range(judges):
        w = rng.normal(0, 0.3, len(PROPERTY_NAMES))
        p = 1 / (1 + np.exp(-(strength[a] - strength[b] + X @ w)))
        labels.append(pa.table({"pair_id": ids, "judge": [f"judge-{j}"] * n,
                                "preferred": np.where(rng.random(n) < p, 1, 2).astype(np.int8)}))
    labels_t = pa.concat_tables(labels)  # noqa: F841
    with dbmod.writing(path) as con:
        con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, model_1, model_2, "
                    "response_1, response_2, usable) SELECT pair_id, 'bench', pair_id, 'k' || pair_id, "
                    "'q' || pair_id, model_1, model_2, 'a', 'b', TRUE FROM pairs_t")
        con.execute("INSERT INTO pair_groups SELECT pair_id, 'All', 'all' FROM pairs_t")
        con.execute("INSERT INTO features SELECT pair_id, property, value FROM feats_t")
        con.execute("INSERT INTO judges (judge, kind) SELECT DISTINCT judge, 'llm' FROM labels_t")
        con.execute("INSERT INTO labels (pair_id, judge, preferred) SELECT pair_id, judge, preferred FROM labels_t")
    return path


def time_leaderboards(db: Path, controls: list[str]) -> list[tuple[str, float, dict]]:
    from pipeline.answers.leaderboard import build_leaderboard

    rows = []
    for control in controls:
        t0 = time.perf_counter()
        report = build_leaderboard(db, control=control)
        rows.append((control, time.perf_counter() - t0, report.seconds | {"judges": len(
            {b.judge for b in report.boards})}))
    return rows


def print_leaderboards(label: str, rows) -> float:
    print(f"\n`leaderboard` for all judges: {label}")
    print(f"{'control':10s} {'judges':>6s} {'total (s)':>10s} {'read':>7s} {'fit':>7s} {'write':>7s}")
    for control, secs, parts in rows:
        print(f"{control:10s} {parts['judges']:6d} {secs:10.2f} {parts['read']:7.2f} {parts['fit']:7.2f} "
              f"{parts['write']:7.2f}")
    return max(s for _, s, _ in rows)


def time_pages(db: Path) -> list[tuple[str, float]]:
    import logging

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    for name in ("streamlit", "streamlit.runtime.caching.storage", "streamlit.runtime.scriptrunner_utils"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ["PREFDISSECT_DB"] = str(db)
    views = [("Leaderboard: raw vs paper control", "pages/9_Leaderboard.py", {"judge": "human", "control": "paper"}),
             ("Leaderboard: raw", "pages/9_Leaderboard.py", {"judge": "human", "control": "none"}),
             ("What if: stored", "pages/10_What_if.py", {"judge": "human", "model": "gpt-4"}),
             ("What if: computed on demand", "pages/10_What_if.py", {"judge": "gpt-4-turbo", "model": "palm-2"})]

    registry = []  # installed components, scanned once as a server does (see bench_pages.py)

    def render(page, params):
        at = AppTest.from_file(str(ROOT / page), default_timeout=120)
        if registry and hasattr(at, "_bidi_component_manager"):
            at._bidi_component_manager = registry[0]
        for k, v in params.items():
            at.query_params[k] = v
        t0 = time.perf_counter()
        at.run()
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")
        if not registry and getattr(at, "_bidi_component_manager", None) is not None:
            registry.append(at._bidi_component_manager)
        return time.perf_counter() - t0

    for _, page, params in views:  # imports once, as in a running server
        render(page, params)
    out = []
    for label, page, params in views:
        st.cache_data.clear()
        out.append((label, render(page, params)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-large", action="store_true", help="skip the 100,000-pair run")
    args = parser.parse_args()

    from pipeline.answers.differences import judge_difference
    from pipeline.answers.forecasts import what_if

    source = demo_db()
    db = OUT / "answers_demo_work.duckdb"
    shutil.copyfile(source, db)
    worst_demo = print_leaderboards("fitted demo (5,240 pairs, 18 models)",
                                    time_leaderboards(db, ["none", "style", "paper"]))
    t0 = time.perf_counter()
    report = what_if(db, judge="human", model="gpt-4")
    t1 = time.perf_counter()
    judge_difference(db, "human", "gpt-4-turbo")
    t2 = time.perf_counter()
    print(f"\n`whatif` human x gpt-4 ({report.n_pairs} pairs, 29 properties x 2 directions, 400 draws): "
          f"{t1 - t0:.2f} s")
    print(f"judge_difference human vs gpt-4-turbo (ranked, with prob_first): {t2 - t1:.2f} s")
    worst_large = None
    if not args.no_large:
        big = large_db()
        worst_large = print_leaderboards("100,000 generated pairs (4 judges, 40 models)",
                                         time_leaderboards(big, ["none", "paper"]))
    pages = time_pages(db)
    print(f"\n{'page / view (cold data cache)':45s} {'s':>6s}")
    for label, secs in pages:
        print(f"{label:45s} {secs:6.3f}" + ("" if secs < PAGE_GOAL_S else "  over 1 s"))
    slowest = max(s for _, s in pages)
    print(f"\ndemo leaderboard, slowest control: {worst_demo:.2f} s (goal < {DEMO_GOAL_S:g} s)"
          + (f"; 100,000 pairs: {worst_large:.2f} s" if worst_large is not None else "")
          + f"; slowest page: {slowest:.3f} s (goal < {PAGE_GOAL_S:g} s)")
    return 0 if worst_demo < DEMO_GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
