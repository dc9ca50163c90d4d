"""Issue 17, "every battle kept", on the real AlpacaEval sample (../shared/real/alpaca-eval): the
reference model answers every instruction, so texts repeat across battles of other models.
Every row must end as a stored battle, a counted tie, or a counted true duplicate."""

from __future__ import annotations

import gzip
import json
import shutil

import duckdb
import pytest

from pipeline.ingest.loader import load_source


# gpt-3.5-turbo-1106 and its _concise / _verbose variants share answers with each other: small and
# enough; the whole sample (8 files, 6,440 rows) is the slow case.
@pytest.mark.parametrize("files", ["gpt-3.5-turbo-1106*", pytest.param("*", marks=pytest.mark.slow)])
def test_every_alpaca_eval_row_is_a_battle_a_tie_or_a_duplicate(shared_real, tmp_path, files):
    folder = tmp_path / "alpaca"
    folder.mkdir()
    rows = []
    for path in sorted((shared_real / "alpaca-eval").glob(f"{files}.annotations.json.gz")):
        target = folder / path.name.removesuffix(".gz")
        with gzip.open(path, "rb") as src, target.open("wb") as dst:  # compressed inputs land elsewhere
            shutil.copyfileobj(src, dst)
        rows += json.loads(target.read_text())
    ties = [r for r in rows if r["preference"] in (0, 1.5)]
    voted = [r for r in rows if r["preference"] not in (0, 1.5)]
    battles = {(r["instruction"], r["output_1"], r["output_2"], r["generator_1"], r["generator_2"]) for r in voted}
    texts = {(r["instruction"], r["output_1"], r["output_2"]) for r in voted}
    assert len(texts) < len(battles)  # the sample has battles whose texts another battle shares

    db = tmp_path / "a.duckdb"
    report = load_source(str(folder), db=db)
    assert report.records == len(rows)
    assert report.new_pairs == len(battles)
    assert report.duplicates_in_source == len(voted) - len(battles)
    assert report.new_labels + report.left_out == len(rows)
    assert any(line.startswith(f"{len(ties)} rows left out: tie") for line in report.skipped)
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = set(con.execute("SELECT query, response_1, response_2, model_1, model_2 FROM pairs").fetchall())
    finally:
        con.close()
    assert stored == battles
