"""Render time of every dashboard page on the fitted demo database (streamlit.testing AppTest).

    .venv/bin/python bench/bench_pages.py            # builds the fitted demo in bench/out/ once
    PREFDISSECT_DB=path.duckdb .venv/bin/python bench/bench_pages.py   # or any database

For each page it prints:
- cold: first visit with an empty data cache (modules already imported, as in a running
  server where another page was opened before);
- warm: median of 5 reruns with the data cache filled (a widget change, a revisit).
Goal: every page under 1 s, none over 2 s. Exits non-zero when a page is over 2 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ["Home.py", "pages/1_Dissection.py", "pages/2_Similarity.py", "pages/3_Samples_and_SHAP.py",
         "pages/4_Statistics.py", "pages/5_Add_judge.py", "pages/6_Annotate.py", "pages/7_SQL.py"]
# Extra views worth timing: (label, page, query params)
VIEWS = [
    ("Dissection: one judge x all groups", "pages/1_Dissection.py", {"view": "across", "judge": "human"}),
    ("Similarity: clustered, Spearman", "pages/2_Similarity.py", {"order": "cluster", "method": "spearman"}),
    ("Samples: text search + disagreement", "pages/3_Samples_and_SHAP.py",
     {"q": "prime numbers", "disagree": "gpt-4-turbo"}),
    ("Statistics: property correlation", "pages/4_Statistics.py", {"view": "correlation"}),
    ("Statistics: judge agreement", "pages/4_Statistics.py", {"view": "agreement"}),
]
GOAL_S, LIMIT_S = 1.0, 2.0


def database() -> Path:
    env = os.environ.get("PREFDISSECT_DB")
    if env:
        return Path(env)
    path = ROOT / "bench" / "out" / "pages_demo.duckdb"
    if not path.exists():
        from pipeline.demo import build_demo

        print(f"building the fitted demo database at {path} ...", flush=True)
        build_demo(path, fit=True)
    return path


def main() -> int:
    db = database()
    os.environ["PREFDISSECT_DB"] = str(db)
    import logging

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    for name in ("streamlit", "streamlit.runtime.caching.storage", "streamlit.runtime.scriptrunner_utils"):
        logging.getLogger(name).setLevel(logging.ERROR)

    def render(page: str, params: dict | None = None) -> float:
        at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
        if page != "Home.py":
            at.switch_page(page)
        for k, v in (params or {}).items():
            at.query_params[k] = v
        t0 = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")
        return seconds

    targets = [(p.removeprefix("pages/").removesuffix(".py"), p, None) for p in PAGES if (ROOT / p).exists()]
    targets += VIEWS
    t0 = time.perf_counter()
    for _, page, params in targets:  # import every module once (a running server has)
        render(page, params)
    first = time.perf_counter() - t0
    rows = []
    for label, page, params in targets:
        st.cache_data.clear()
        cold = render(page, params)
        warm = statistics.median(render(page, params) for _ in range(5))
        rows.append((label, cold, warm))
    print(f"database: {db}")
    print(f"first pass over {len(targets)} views (imports included): {first:.1f} s")
    print(f"{'page / view':45s} {'cold (s)':>9s} {'warm (s)':>9s}")
    worst = 0.0
    for label, cold, warm in rows:
        flag = "" if cold < GOAL_S else ("  over 1 s" if cold < LIMIT_S else "  OVER 2 s")
        print(f"{label:45s} {cold:9.3f} {warm:9.3f}{flag}")
        worst = max(worst, cold)
    print(f"slowest cold render: {worst:.3f} s (goal < {GOAL_S:g} s, limit {LIMIT_S:g} s)")
    return 0 if worst < LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
