"""Small raw-battle databases for the app and query tests, built as a user builds them: a generated
CSV (README, "Loading raw labelled pairs", format `generic`) through `python -m pipeline load`,
then `fit --properties style`.

Four models with a style each: `alpha...` (a long name) writes headers, lists and bold; `beta`
asks the user a question; `gamma` refuses; `delta` writes plain text. Each judge mostly prefers the
longer response, with its own noise, so two judges disagree on some pairs.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["alpha-model-with-a-rather-long-name-v2", "beta", "gamma", "delta"]
WORDS = ["tea", "leaf", "water", "heat", "cup", "pot", "steep"]


def response(model: str, rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
    if model == MODELS[0]:
        return f"# Answer\n\n- **{words}**\n- item two\n- item three"
    if model == "beta":
        return words + " Do you want more?"
    if model == "gamma":
        return "I'm sorry, I can't help with that. " + words[:20]
    return words


def battles(n: int = 160, seed: int = 0, models: list[str] | None = MODELS) -> list[dict]:
    """n battles; without models, pairs that name no model (as HH-RLHF)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.sample(models or MODELS, 2)
        r1, r2 = response(a, rng), response(b, rng)
        if i % 10 == 0:  # now and then two plain answers of one length: no style difference at all
            r1 = " ".join(rng.choice(WORDS) for _ in range(20))
            r2 = " ".join(rng.choice(WORDS) for _ in range(20))
        row = {"prompt": f"Question {i}: how do I make tea?", "response_1": r1, "response_2": r2}
        if models:
            row.update(model_1=a, model_2=b)
        row["longer"] = 1 if len(r1) >= len(r2) else 2
        rows.append(row)
    return rows


def write(path: Path, rows: list[dict], noise: float, seed: int) -> Path:
    """The battles as a CSV whose `winner` is the longer response, flipped with probability `noise`."""
    rng = random.Random(seed)
    cols = [c for c in rows[0] if c != "longer"] + ["winner"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            win = r["longer"] if rng.random() >= noise else 3 - r["longer"]
            w.writerow([r[c] for c in cols[:-1]] + [win])
    return path


def cli(*args: str) -> None:
    """`python -m pipeline ARGS`, run in this process (the same Typer app, without a new
    interpreter's start: several seconds a call on a busy machine)."""
    from typer.testing import CliRunner

    from pipeline.cli.main import app

    done = CliRunner().invoke(app, list(args))
    assert done.exit_code == 0, (done.output, done.exception)


def build(folder: Path, judges: dict[str, float], *, n: int = 160, with_models: bool = True,
          fit: bool = True) -> Path:
    """A database of n raw battles labelled by each judge (name -> noise), fitted on style."""
    db = folder / "raw.duckdb"
    rows = battles(n, models=MODELS if with_models else None)
    for i, (judge, noise) in enumerate(judges.items()):
        src = write(folder / f"{judge}.csv", rows, noise, seed=i + 1)
        cli("load", str(src), "--judge", judge, "--name", judge, "--db", str(db))
    if fit:
        cli("fit", "--properties", "style", "--db", str(db))
    return db
