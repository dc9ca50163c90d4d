"""The views on the measures (model_style, length_effect) and judge_agreement's intervals and
position-adjusted kappa, checked against values computed here in Python."""

import gzip
import json
from collections import defaultdict
from statistics import mean, median

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from dbquery import rows
from scipy.stats import binomtest

from pipeline.ingest.loader import load_source

MODELS = ["terse", "chatty", "lister"]


def text(model: str, i: int) -> str:
    if model == "terse":
        return f"Yes {i}."
    if model == "chatty":
        return "Well, " + "let me explain this at length. " * (i % 5 + 2) + ("As an AI, I think so." if i % 3 else "")
    return "## Steps\n" + "".join(f"- **step** {k}\n" for k in range(i % 4)) + "See https://example.org 😀"


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """Raw battles (no annotations, no num_words in the file) of three models, two judges."""
    folder = tmp_path_factory.mktemp("raw")
    battles = []
    for i in range(60):
        a, b = MODELS[i % 3], MODELS[(i + 1 + i // 3 % 2) % 3]
        battles.append({"prompt": f"question {i}", "model_a": a, "model_b": b, "response_a": text(a, i),
                        "response_b": text(b, i), "winner": "model_a" if i % 4 else "model_b"})
    path = folder / "battles.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in battles))
    db = folder / "raw.duckdb"
    load_source(str(path), db=db)
    return battles, db


def python_measures(battles):
    """Each response's (model, tokens, words, headers...) from the measure definitions, per response."""
    import polars as pl

    from pipeline.properties.measures import measure_frame

    frame = pl.DataFrame({"pair_id": list(range(len(battles))),
                          "response_1": [b["response_a"] for b in battles],
                          "response_2": [b["response_b"] for b in battles]})
    wide = measure_frame(frame).to_dicts()
    out = []
    for b, w in zip(battles, wide):
        for k, side in ((1, "a"), (2, "b")):
            out.append({"model": b[f"model_{side}"], **{m[:-2]: v for m, v in w.items() if m.endswith(f"_{k}")}})
    return out


def test_model_style_per_model(raw):
    battles, db = raw
    per = defaultdict(list)
    for r in python_measures(battles):
        per[r["model"]].append(r)
    got = {r[0]: r[1:] for r in rows(db, "SELECT model, responses, median_tokens, mean_tokens, mean_words, "
                                         "share_headers, share_lists, share_bold, share_code, share_links, "
                                         "share_emoji, share_refusals, share_as_an_ai FROM model_style")}
    assert set(got) == set(MODELS)
    for model, rs in per.items():
        share = {m: mean(r[m] > 0 for r in rs) for m in ("headers", "list_items", "bold", "code_blocks", "links",
                                                          "emoji", "refusals", "as_an_ai")}
        want = (len(rs), median(r["tokens"] for r in rs), mean(r["tokens"] for r in rs), mean(r["words"] for r in rs),
                share["headers"], share["list_items"], share["bold"], share["code_blocks"], share["links"],
                share["emoji"], share["refusals"], share["as_an_ai"])
        assert got[model] == pytest.approx(want), model
    assert got["lister"][4] == 1 and got["terse"][4] == 0 and 0 < got["chatty"][11] < 1


def test_length_effect_covers_raw_pairs(raw):
    battles, db = raw
    outcomes = []
    for b, (w1, w2) in zip(battles, [(r1["words"], r2["words"]) for r1, r2 in
                                     zip(python_measures(battles)[::2], python_measures(battles)[1::2])]):
        if w1 != w2:
            outcomes.append((w1 > w2) == (b["winner"] == "model_a"))
    assert len(outcomes) > 30
    assert rows(db, "SELECT judge, n, longer_win_rate FROM length_effect") == [
        ("human", len(outcomes), pytest.approx(mean(outcomes)))]


def agreement_view(labels: list[tuple[int, str, int]]) -> dict:
    from pathlib import Path

    con = duckdb.connect()
    given = pa.table({"pair_id": pa.array([r[0] for r in labels], pa.int32()),  # noqa: F841 - read below
                      "judge": [r[1] for r in labels], "preferred": pa.array([r[2] for r in labels], pa.int8())})
    con.execute("CREATE TABLE labels AS SELECT * FROM given")
    con.execute((Path(__file__).resolve().parent.parent / "sql" / "judge_agreement.sql").read_text())
    cur = con.execute("SELECT * FROM judge_agreement")
    names = [d[0] for d in cur.description]
    return {(r[0], r[1]): dict(zip(names, r)) for r in cur.fetchall()}


def test_judge_agreement_intervals_and_position_kappa():
    rng = np.random.default_rng(5)
    truth = rng.integers(1, 3, 400)
    labels = [(i, "a", int(t)) for i, t in enumerate(truth)]
    labels += [(i, "b", int(t if rng.random() < 0.8 else 3 - t)) for i, t in enumerate(truth) if i % 5]
    view = agreement_view(labels)
    a = {i: p for i, j, p in labels if j == "a"}
    b = {i: p for i, j, p in labels if j == "b"}
    both = [(a[i], b[i]) for i in b]
    n, same = len(both), sum(x == y for x, y in both)
    p_o = same / n
    pa, pb = mean(x == 1 for x, _ in both), mean(y == 1 for _, y in both)
    p_e = pa * pb + (1 - pa) * (1 - pb)
    kappa = (p_o - p_e) / (1 - p_e)
    se = np.sqrt(p_o * (1 - p_o) / n) / (1 - p_e)
    wilson = binomtest(same, n).proportion_ci(0.95, method="wilson")
    got = view[("a", "b")]
    assert got["n"] == n and got["agreement"] == pytest.approx(p_o) and got["kappa"] == pytest.approx(kappa)
    assert (got["agreement_low"], got["agreement_high"]) == pytest.approx((wilson.low, wilson.high), rel=1e-6)
    assert (got["kappa_low"], got["kappa_high"]) == pytest.approx((kappa - 1.959964 * se, kappa + 1.959964 * se))
    assert got["kappa_position"] == pytest.approx(2 * p_o - 1)
    assert (got["kappa_position_low"], got["kappa_position_high"]) == pytest.approx(
        (2 * wilson.low - 1, 2 * wilson.high - 1), rel=1e-6)
    assert view[("b", "a")]["kappa_low"] == pytest.approx(got["kappa_low"])  # symmetric


def test_position_kappa_survives_a_dominant_position():
    """AlpacaEval's layout: both judges choose response 1 (the reference) 95% of the time and
    agree on 93% of pairs: Cohen's kappa is low, the position-adjusted one is not."""
    rng = np.random.default_rng(1)
    a = np.where(rng.random(2000) < 0.95, 1, 2)
    b = np.where(rng.random(2000) < 0.93, a, 3 - a)
    view = agreement_view([(i, "a", int(x)) for i, x in enumerate(a)] + [(i, "b", int(x)) for i, x in enumerate(b)])
    got = view[("a", "b")]
    assert got["agreement"] > 0.9 and got["kappa"] < 0.6 and got["kappa_position"] > 0.8
    assert got["kappa_low"] < got["kappa"] < got["kappa_high"]
    assert got["kappa_position_low"] < got["kappa_position"] < got["kappa_position_high"]


def test_agreement_intervals_when_judges_always_agree():
    view = agreement_view([(i, j, 1 + i % 2) for i in range(10) for j in ("a", "b")])
    got = view[("a", "b")]
    assert (got["agreement"], got["kappa"], got["kappa_position"]) == (1, 1, 1)
    assert got["agreement_low"] < 1 == pytest.approx(got["agreement_high"])  # Wilson: not a zero-width interval
    assert got["kappa_position_low"] < 1


@pytest.mark.slow
def test_alpaca_eval_verbose_answers_are_longer_than_concise_ones(shared_real, tmp_path):
    folder = tmp_path / "alpaca"
    folder.mkdir()
    for name in ("gpt-3.5-turbo-1106_verbose", "gpt-3.5-turbo-1106_concise"):
        src = shared_real / "alpaca-eval" / f"{name}.annotations.json.gz"
        (folder / f"{name}.annotations.json").write_bytes(gzip.decompress(src.read_bytes()))
    db = tmp_path / "a.duckdb"
    for path in sorted(folder.iterdir()):
        load_source(str(path), db=db)
    got = {m: (n, med, avg) for m, n, med, avg in rows(db, "SELECT model, responses, median_tokens, mean_tokens "
                                                           "FROM model_style")}
    verbose, concise = got["gpt-3.5-turbo-1106_verbose"], got["gpt-3.5-turbo-1106_concise"]
    assert min(verbose[0], concise[0]) > 790  # 805 instructions, less ties
    assert verbose[1] > 1.5 * concise[1] and verbose[2] > concise[2]
    # raw pairs count in length_effect: the judge prefers the longer answer
    n, rate = rows(db, "SELECT n, longer_win_rate FROM length_effect")[0]
    assert n > 1500 and rate > 0.5
