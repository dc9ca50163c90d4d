"""Render time of every dashboard page (streamlit.testing AppTest), on the fitted demo or at scale.

    .venv/bin/python bench/bench_pages.py            # builds the fitted demo in bench/out/ once
    .venv/bin/python bench/bench_pages.py --big      # 100,000 pairs x 50 judges (issue 11), built once
    .venv/bin/python bench/bench_pages.py --alpaca   # the AlpacaEval sample in ../shared/real, built once
    PREFDISSECT_DB=path.duckdb .venv/bin/python bench/bench_pages.py   # or any database
    .venv/bin/python bench/bench_pages.py --big --only What_if --only Leaderboard   # some pages only

The AlpacaEval database: every ../shared/real/alpaca-eval/*.annotations.json.gz (GPT-4-Turbo
judging 8 models against a reference; no paper annotations) loaded, fitted on the style set
(`fit --properties style`), with the judge's raw and style-controlled boards.

The big database: bench_load.py's generator (the demo's records repeated with distinct
queries) loaded, plus 38 extra judges (each the human's choices with a share flipped, so
they differ from each other), fitted for every judge x group.

For each page it prints:
- first: first visit with an empty data cache (modules already imported, shap and openai
  by the server's background thread, as in a running server);
- warm: median of 5 reruns with the data cache filled (a widget change, a revisit).
Streamlit's registry of installed components is scanned once, as a server does when it
starts: AppTest scans every installed package's metadata for each new AppTest (0.3-1 s
under load that no visitor waits for); --rescan keeps that scan in every render, as this
bench measured before.
Goal: every page under 1 s warm, none over 2 s on its first visit; exits non-zero otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ui import navigation  # noqa: E402 - after the path is set

PAGES = ["Home.py"] + [p.path for p in navigation.available() if not p.default]
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


EXTRA_JUDGES = 38
BIG_PAIRS = 100_000


def build_big(path: Path, n_pairs: int = BIG_PAIRS, extra_judges: int = EXTRA_JUDGES) -> None:
    """n_pairs release-format pairs (bench_load's generator), 12 demo judges + extra_judges, fitted."""
    from bench_load import write_big_file

    from pipeline.store import db as dbmod
    from pipeline.model.fitting import fit_database
    from pipeline.ingest.loader import load_source

    path.parent.mkdir(parents=True, exist_ok=True)
    source = path.with_suffix(".jsonl")
    t0 = time.perf_counter()
    write_big_file(source, n_pairs)
    load_source(str(source), db=path)
    t1 = time.perf_counter()
    with dbmod.writing(path) as con:
        for k in range(extra_judges):
            name = f"extra-judge-{k:02d}"
            # the human's choice, flipped on 5% + k% of the pairs (a stable hash picks which)
            con.execute("""INSERT INTO labels (pair_id, judge, preferred)
                           SELECT pair_id, $name, CASE WHEN hash(pair_id, $name) % 100 < $flip
                                                       THEN 3 - preferred ELSE preferred END
                           FROM labels WHERE judge = 'human'""", {"name": name, "flip": 5 + k})
            con.execute("INSERT INTO judges (judge, kind, size_b, source, note) VALUES ($n, 'llm', $s, 'bench', "
                        "'generated bench judge')", {"n": name, "s": float(1 + k % 9 * 8)})
    t2 = time.perf_counter()
    report = fit_database(path)
    t3 = time.perf_counter()
    source.unlink()
    print(f"built {path}: load {t1 - t0:.1f} s, {extra_judges} extra judges {t2 - t1:.1f} s, "
          f"fit {t3 - t2:.1f} s ({report.summary() if hasattr(report, 'summary') else ''})", flush=True)


def board_judge(path: Path) -> str:
    """The judge the answer views are timed for: the crowd where there is one, else the first fitted."""
    from pipeline.store import db as dbmod

    with dbmod.reading(path) as con:
        judges = [r[0] for r in con.execute("SELECT DISTINCT judge FROM fits ORDER BY judge").fetchall()]
    return "human" if "human" in judges or not judges else judges[0]


def fit_set(path: Path, judge: str) -> str:
    """The property set of the judge's fits: paper where fitted, else style."""
    from pipeline.store import db as dbmod

    with dbmod.reading(path) as con:
        sets = {r[0] for r in con.execute("SELECT DISTINCT property_set FROM fits WHERE judge = $j",
                                          {"j": judge}).fetchall()}
    return "paper" if "paper" in sets or not sets else min(sets)


def store_answers(path: Path, judge: str) -> tuple[str, str]:
    """Once per database: the judge's raw and style-controlled leaderboards and the forecasts
    of the second most frequent model (the first is the What-if page's default: computed on
    demand), so the Leaderboard page shows boards and both What-if paths are timed."""
    from pipeline.store import db as dbmod
    from pipeline.answers.forecasts import what_if
    from pipeline.answers.leaderboard import build_leaderboard
    from pipeline.queries import whatif

    with dbmod.reading(path) as con:
        models = whatif.models(con)
        (boards,), = con.execute("SELECT count(*) FROM leaderboard_runs WHERE judge = $j", {"j": judge}).fetchall()
        (stored,), = con.execute("SELECT count(*) FROM forecasts WHERE judge = $j AND model = $m",
                                 {"j": judge, "m": models[1]}).fetchall()
    if not boards:
        t0 = time.perf_counter()
        build_leaderboard(path, judges=[judge], group="All", control="style")
        print(f"stored {judge}'s leaderboards (raw, style): {time.perf_counter() - t0:.1f} s", flush=True)
    if not stored:
        t0 = time.perf_counter()
        what_if(path, judge=judge, model=models[1], group="All", property_set=fit_set(path, judge))
        print(f"stored the forecasts of {judge} x {models[1]}: {time.perf_counter() - t0:.1f} s", flush=True)
    return models[0], models[1]


def answer_views(path: Path) -> list[tuple[str, str, dict]]:
    """The Leaderboard and What-if views worth timing (none where the database has no fit)."""
    from pipeline.answers.forecasts import ForecastError
    from pipeline.answers.leaderboard import LeaderboardError

    judge = board_judge(path)
    try:
        computed, stored = store_answers(path, judge)
    except (ForecastError, LeaderboardError, IndexError) as exc:
        print(f"no Leaderboard / What-if views: {exc or 'fewer than 2 response models'}")
        return []
    props = fit_set(path, judge)
    return [(f"Leaderboard: {judge[:12]}, style control", "pages/9_Leaderboard.py",
             {"judge": judge, "control": "style"}),
            (f"What if: stored ({stored})", "pages/10_What_if.py",
             {"judge": judge, "model": stored, "properties": props}),
            (f"What if: computed ({computed})", "pages/10_What_if.py",
             {"judge": judge, "model": computed, "properties": props})]


ALPACA = ROOT.parent / "shared" / "real" / "alpaca-eval"


def build_alpaca(path: Path) -> None:
    """The AlpacaEval sample: loaded (gunzipped into a temporary folder), fitted on style, boards."""
    import gzip
    import shutil
    import tempfile

    from pipeline.answers.leaderboard import build_leaderboard
    from pipeline.ingest.loader import load_source
    from pipeline.model.fitting import fit_database

    files = sorted(ALPACA.glob("*.annotations.json.gz"))
    if not files:
        sys.exit(f"no AlpacaEval files in {ALPACA} (../shared/real beside the repository)")
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            with gzip.open(f, "rb") as src, open(Path(tmp) / f.name.removesuffix(".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
        load_source(tmp, db=path, name="alpaca-eval")
    t1 = time.perf_counter()
    fit_database(path, property_set="style")
    t2 = time.perf_counter()
    build_leaderboard(path, group="All", control="style")
    print(f"built {path}: load {t1 - t0:.1f} s, style fit {t2 - t1:.1f} s, boards {time.perf_counter() - t2:.1f} s",
          flush=True)


def database(big: bool, alpaca: bool = False) -> Path | str:
    env = os.environ.get("PREFDISSECT_DB")
    if env:
        return env  # a file's path or ducklake:... as given
    if alpaca:
        path = ROOT / "bench" / "out" / "pages_alpaca.duckdb"
        if not path.exists():
            print(f"building the AlpacaEval sample at {path} ...", flush=True)
            build_alpaca(path)
        return path
    if big:
        path = ROOT / "bench" / "out" / "pages_big.duckdb"
        if not path.exists():
            print(f"building {BIG_PAIRS:,} pairs x {12 + EXTRA_JUDGES} judges at {path} ...", flush=True)
            build_big(path)
        return path
    path = ROOT / "bench" / "out" / "pages_demo.duckdb"
    if not path.exists():
        from pipeline.demo import build_demo

        print(f"building the fitted demo database at {path} ...", flush=True)
        build_demo(path, fit=True)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", action="store_true", help="100,000 pairs x 50 judges instead of the demo")
    ap.add_argument("--alpaca", action="store_true",
                    help="the AlpacaEval sample of ../shared/real (style fit, boards) instead of the demo")
    ap.add_argument("--rescan", action="store_true",
                    help="let every render scan the installed components again (AppTest's default)")
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="time only the pages / views whose label or file contains TEXT (repeatable)")
    args = ap.parse_args()
    db = database(args.big, args.alpaca)
    os.environ["PREFDISSECT_DB"] = str(db)
    import logging

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    for name in ("streamlit", "streamlit.runtime.caching.storage", "streamlit.runtime.scriptrunner_utils",
                 "streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.caching.cache_data_api",
                 "streamlit.runtime.caching"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from ui import warmup

    t_warm = time.perf_counter()
    warmup.start()  # what Home.py does when the server starts: shap and openai in the background
    warmup.wait(120)
    print(f"background imports (shap, openai), once per server process: {time.perf_counter() - t_warm:.1f} s")

    registry = []  # the components registry of the first AppTest, shared like a server's

    def render(page: str, params: dict | None = None) -> float:
        at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
        if registry and not args.rescan and hasattr(at, "_bidi_component_manager"):
            at._bidi_component_manager = registry[0]
        if page != "Home.py":
            at.switch_page(page)
        for k, v in (params or {}).items():
            at.query_params[k] = v
        t0 = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")
        if not registry and getattr(at, "_bidi_component_manager", None) is not None:
            registry.append(at._bidi_component_manager)
        return seconds

    targets = [(p.removeprefix("pages/").removesuffix(".py"), p, None) for p in PAGES if (ROOT / p).exists()]
    targets += VIEWS + answer_views(db)
    if args.only:
        targets = [t for t in targets if any(o.lower() in f"{t[0]} {t[1]}".lower() for o in args.only)]
        if not targets:
            ap.error(f"no page or view matches {', '.join(args.only)}")
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
    print(f"{'page / view':45s} {'first (s)':>9s} {'warm (s)':>9s}")
    worst_first = worst_warm = 0.0
    for label, cold, warm in rows:
        flag = "" if cold < LIMIT_S and warm < GOAL_S else "  OVER"
        print(f"{label:45s} {cold:9.3f} {warm:9.3f}{flag}")
        worst_first, worst_warm = max(worst_first, cold), max(worst_warm, warm)
    print(f"slowest first visit: {worst_first:.3f} s (limit {LIMIT_S:g} s); slowest warm: {worst_warm:.3f} s "
          f"(goal < {GOAL_S:g} s)")
    return 0 if worst_first < LIMIT_S and worst_warm < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
