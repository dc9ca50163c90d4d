"""The AlpacaEval sample end to end (issue 17): load, style fit, three boards, `whatif --as`.

Prints each step's time, each board's Spearman correlation with AlpacaEval's official
length-controlled win rates (../shared/real/alpaca-eval/leaderboard.csv) and its held-out
log loss, and the natural experiments (gpt-3.5-turbo-1106 as its _verbose / _concise variant).

    .venv/bin/python bench/bench_alpaca.py [--out bench/out/alpaca.duckdb]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REAL = ROOT.parent / "shared" / "real" / "alpaca-eval"
JUDGE = "weighted_alpaca_eval_gpt4_turbo"
MODEL = "gpt-3.5-turbo-1106"


def main() -> None:
    from pipeline.answers.leaderboard import build_leaderboard
    from pipeline.answers.style_transfer import style_transfer

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "alpaca.duckdb")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for src in REAL.glob("*.annotations.json.gz"):  # gunzipped here in case compressed loading is absent
            with gzip.open(src) as f, open(Path(tmp) / src.name[:-3], "wb") as g:
                shutil.copyfileobj(f, g)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pipeline", "load", tmp, "--db", str(args.out)], check=True,
                       cwd=ROOT, capture_output=True)
        print(f"load: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "fit", "--properties", "style", "--db", str(args.out)],
                   check=True, cwd=ROOT, capture_output=True)
    print(f"fit --properties style: {time.perf_counter() - t:.1f} s")
    official = {r[""]: float(r["length_controlled_winrate"]) for r in csv.DictReader(open(REAL / "leaderboard.csv"))}
    for name, kw in (("raw", dict(control="none")), ("style, sign", dict(control="style")),
                     ("style, continuous", dict(control="style", control_form="continuous")),
                     ("length, sign", dict(control="length (tokens)")),
                     ("length, continuous", dict(control="length (tokens)", control_form="continuous"))):
        t = time.perf_counter()
        board = build_leaderboard(args.out, judges=[JUDGE], min_battles=1, **kw).boards[-1]
        s = board.result.by_model()
        models = [m for m in s if m in official]
        rho = spearmanr([s[m] for m in models], [official[m] for m in models])[0]
        print(f"board {name}: {time.perf_counter() - t:.1f} s; Spearman with official LC win rates {rho:.3f} "
              f"({len(models)} models); held-out log loss {board.result.heldout_log_loss:.4f} "
              f"(raw {board.heldout_raw:.4f})")
    for variant in (f"{MODEL}_verbose", f"{MODEL}_concise"):
        for form in ("continuous", "sign"):
            t = time.perf_counter()
            r = style_transfer(args.out, judge=JUDGE, model=MODEL, as_model=variant, form=form)
            print(f"whatif --as {variant} ({form}): {time.perf_counter() - t:.1f} s; measured {100 * r.observed:.1f}%, "
                  f"forecast {100 * r.forecast:.1f}% [{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}], "
                  f"variant measured {100 * r.observed_as:.1f}%")


if __name__ == "__main__":
    main()
