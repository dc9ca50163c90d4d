"""pipeline.queries.raw_pairs: the stored pairs the Annotate page offers (pairs.annotated = FALSE)."""

from __future__ import annotations

import json

from dbquery import scalar
from pipeline.ingest.loader import load_source
from pipeline.ingest.release_load import load_records
from pipeline.queries.raw_pairs import unannotated_count
from records_factory import make_record


def test_counts_only_pairs_without_annotations(tmp_path, empty_db):
    db = tmp_path / "mixed.duckdb"
    load_records([make_record(i) for i in range(3)], source="release", db=db)
    assert unannotated_count(db) == 0  # released pairs come annotated
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps({"prompt": f"Question {i}?", "response_a": f"Answer {i}.",
                                       "response_b": "No idea.", "winner": "model_a"}) + "\n" for i in range(4)))
    load_source(str(raw), db=db)
    assert unannotated_count(db) == 4 == scalar(db, "SELECT count(*) FROM pairs WHERE NOT annotated")
    assert unannotated_count(empty_db) == 0
