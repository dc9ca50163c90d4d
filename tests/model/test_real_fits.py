"""Fits on real judgements (../shared/real): baselines, layout warnings, the adjusted
dissection against the controlled leaderboard, and what is known of the judges."""

import gzip
import shutil

import pytest
from dbquery import rows, scalar
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()
JUDGE = "weighted_alpaca_eval_gpt4_turbo"


def gunzipped(src, dest):
    with gzip.open(src, "rb") as f, open(dest, "wb") as out:
        shutil.copyfileobj(f, out)
    return dest


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def alpaca(shared_real, tmp_path_factory):
    """The AlpacaEval sample, fitted on style, plain and adjusted, with a style-controlled board."""
    tmp = tmp_path_factory.mktemp("alpaca")
    folder = tmp / "annotations"
    folder.mkdir()
    for src in sorted((shared_real / "alpaca-eval").glob("*.annotations.json.gz")):
        gunzipped(src, folder / src.name.removesuffix(".gz"))
    db = tmp / "ae.duckdb"
    cli("load", folder, "--db", db, "--format", "alpaca-eval")
    outputs = {"plain": cli("fit", "--db", db, "--properties", "style"),
               "adjusted": cli("fit", "--db", db, "--properties", "style", "--adjust", "models")}
    cli("leaderboard", "--db", db, "--control", "style")
    return db, outputs


def fit_weight(db, property_set, prop):
    return rows(db, "SELECT weight, ci_low, ci_high FROM fits WHERE judge = ? AND group_name = 'All' "
                    "AND property_set = ? AND property = ?", [JUDGE, property_set, prop])[0]


@pytest.mark.slow  # the module's AlpacaEval load and three fits take ~10-25 s
def test_baseline_accuracy_is_the_majority_share(alpaca):
    db, outputs = alpaca
    ones, n = rows(db, "SELECT sum((preferred = 1)::INT), count(*) FROM labels WHERE judge = ?", [JUDGE])[0]
    majority = max(ones, n - ones) / n
    for pset in ("style", "style@models"):
        base, share, acc = rows(db, "SELECT baseline_accuracy, share_response_1, accuracy FROM fit_runs "
                                    "WHERE judge = ? AND group_name = 'All' AND property_set = ?", [JUDGE, pset])[0]
        assert base == pytest.approx(majority, abs=1e-12) and share == pytest.approx(ones / n, abs=1e-12)
        assert 0.5 < acc < 1
    assert "always-'response 1' baseline" in outputs["plain"].replace("\n", " ")


@pytest.mark.slow  # the module's AlpacaEval load and three fits take ~10-25 s
def test_the_layout_warns(alpaca):
    db, outputs = alpaca
    text = " ".join(outputs["plain"].split())
    assert "response 1 is always gpt4_1106_preview" in text and "wins 91% of the labels" in text
    assert scalar(db, "SELECT constant_model_1 FROM fit_runs WHERE property_set = 'style' AND judge = ?",
                  [JUDGE]) == "gpt4_1106_preview"
    assert scalar(db, "SELECT adjust FROM fit_runs WHERE property_set = 'style@models'") == "models"


@pytest.mark.slow  # the module's AlpacaEval load and three fits take ~10-25 s
def test_adjusted_headers_agree_with_the_leaderboard(alpaca):
    db, _ = alpaca
    board_w, board_lo, board_hi = rows(db, "SELECT weight, ci_low, ci_high FROM leaderboard_controls WHERE "
                                           "judge = ? AND control = 'style' AND property = 'markdown headers'",
                                       [JUDGE])[0]
    w, lo, hi = fit_weight(db, "style@models", "markdown headers")
    assert board_lo < w < board_hi and lo < board_w < hi
    # length too: the adjusted weight is the board's, not the unadjusted one (twice as large here)
    w, lo, hi = fit_weight(db, "style@models", "length (tokens)")
    board_len = scalar(db, "SELECT weight FROM leaderboard_controls WHERE judge = ? AND control = 'style' "
                           "AND property = 'length (tokens)'", [JUDGE])
    assert lo < board_len < hi and fit_weight(db, "style", "length (tokens)")[1] > hi


@pytest.mark.slow  # the module's AlpacaEval load and three fits take ~10-25 s
def test_alpaca_eval_rewards_length(alpaca):
    db, _ = alpaca
    for pset in ("style", "style@models"):
        w, lo, _ = fit_weight(db, pset, "length (tokens)")
        assert w > 0 and lo > 0


def test_hh_raters_prefer_refusals_and_shorter_answers(shared_real, tmp_path):
    src = gunzipped(shared_real / "hh-rlhf" / "harmless-base-test.jsonl.gz", tmp_path / "hh.jsonl")
    db = tmp_path / "hh.duckdb"
    cli("load", src, "--db", db)
    out = cli("fit", "--db", db, "--properties", "style")
    weight = {p: (w, lo, hi) for p, w, lo, hi in rows(
        db, "SELECT property, weight, ci_low, ci_high FROM fits WHERE group_name = 'All' AND property_set = 'style'")}
    w, lo, hi = weight["refusals & apologies"]
    assert w > 0 and lo > 0
    w, lo, hi = weight["length (tokens)"]
    assert w < 0 and hi < 0
    assert "warning" not in out  # crowdworkers' pairs are balanced: nothing to warn about
    result = runner.invoke(app, ["fit", "--db", str(db), "--properties", "style", "--adjust", "models"])
    assert result.exit_code == 1 and "needs pairs that name the models" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow  # shares the module's AlpacaEval load
def test_the_raw_leaderboard_orders_the_models_as_alpaca_evals_win_rates(alpaca, shared_real):
    """The raw board's strengths, against the official AlpacaEval 2.0 win rates of the same models."""
    import csv

    from scipy.stats import spearmanr

    db, _ = alpaca
    cli("leaderboard", "--db", db, "--control", "none", "--judge", JUDGE)
    board = dict(rows(db, "SELECT model, strength FROM leaderboard WHERE judge = ? AND group_name = 'All' "
                          "AND control = 'none'", [JUDGE]))
    with open(shared_real / "alpaca-eval" / "leaderboard.csv", newline="") as f:
        official = {r[""]: float(r["win_rate"]) for r in csv.DictReader(f)}
    models = sorted(set(board) & set(official))
    assert len(models) >= 7, models
    rho = spearmanr([board[m] for m in models], [official[m] for m in models]).statistic
    assert rho >= 0.95, (rho, {m: (board[m], official[m]) for m in models})
