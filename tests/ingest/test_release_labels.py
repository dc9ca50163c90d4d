"""A chunk's votes read as columns (release_labels) equal what parse_labels reads record by record."""

import json

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest import release_labels, writing
from pipeline.ingest.loader import load_source
from pipeline.ingest.records import RecordError, parse_labels, parse_record
from records_factory import make_record

EXACT = ["response_1", "response_2", "a", "b", "1", "2", "model_a", "model_b", None]
VARIANTS = [" Response_1", "B ", "MODEL_A", 1, 2, True, 1.0, [], {}, "", "tie", b"a"]
JUDGES = ["human", "gpt-4", "j:3", "ü-judge", "", "a b"]


def _votes(labels: release_labels.ChunkLabels) -> list[tuple[int, str, int]]:
    """(record, judge, choice) of every vote, in order."""
    owner = np.repeat(np.arange(len(labels.counts)), labels.counts)
    return list(zip(owner.tolist(), labels.judges.to_pylist(), labels.choices.tolist()))


def _by_parse_labels(records: list) -> list[tuple[int, str, int]] | str:
    """What parse_labels reads, as (record, judge, choice), or its message where it refuses."""
    out = []
    for i, rec in enumerate(records):
        try:
            out += [(i, judge, choice) for judge, choice in parse_labels(rec.get("preference_labels"), "r").items()]
        except RecordError as exc:
            return str(exc)
    return out


labels_objects = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(JUDGES), st.sampled_from(EXACT), max_size=5),
    st.dictionaries(st.sampled_from(JUDGES), st.sampled_from(EXACT + VARIANTS), max_size=5),
    st.sampled_from([[], "human", 3]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(labels_objects, max_size=8))
def test_columns_equal_parse_labels_or_leave_the_chunk_to_it(objects):
    records = [{"preference_labels": obj} for obj in objects]
    expected = _by_parse_labels(records)
    exact = all(obj is None or (isinstance(obj, dict) and all(c in EXACT for c in obj.values())) for obj in objects)
    got = release_labels.from_records(records)
    if exact:  # the common case is read as columns, never left to parse_labels
        assert got is not None
    if got is not None:
        assert _votes(got) == expected
        assert got.names == {judge for _, judge, _ in expected}
    else:  # parse_labels decides: what the loader then reads is its reading
        assert not exact
        if not isinstance(expected, str):
            pairs = [parse_record(make_record(i, preference_labels=obj), i) for i, obj in enumerate(objects)]
            assert _votes(release_labels.from_pairs(pairs)) == expected


def test_same_judges_in_the_same_order_share_one_list_of_names():
    records = [{"preference_labels": {"x": "a", "y": None, "z": "model_b"}} for _ in range(3)]
    got = release_labels.from_records(records)
    assert got.counts.tolist() == [2, 2, 2]  # null votes are not votes
    assert _votes(got) == [(i, j, c) for i in range(3) for j, c in (("x", 1), ("z", 2))]
    assert got.judges.type.value_type == "string"  # a dictionary of the three names, read by DuckDB as text


def test_rows_split_votes_of_new_pairs_from_the_others():
    got = release_labels.from_records([{"preference_labels": {"x": "a", "y": "b"}}, {"preference_labels": {"x": "b"}}])
    fresh, more = got.rows([10, 11], [True, False])
    assert fresh["pair_id"].tolist() == [10, 10] and more["pair_id"].tolist() == [11]
    assert fresh["judge"].to_pylist() == ["x", "y"] and more["judge"].to_pylist() == ["x"]
    assert fresh["preferred"].tolist() == [1, 2] and more["preferred"].tolist() == [2]


@pytest.mark.parametrize("chunk", [2, 5000])
def test_a_load_stores_every_vote_as_parse_labels_reads_it(tmp_path, monkeypatch, chunk):
    """Judges in another order from record to record, null votes, and a later chunk whose votes
    are written as people write them (read by parse_labels): every vote stored once, as read."""
    monkeypatch.setattr(writing, "CHUNK", chunk)
    labels = [{"human": "response_1", "gpt-4": "b", "late": None},
              {"gpt-4": "model_a", "human": None},
              {"human": "a", "gpt-4": "2", "late": "response_2"},
              {"human": " Response_2 ", "gpt-4": "A"},
              {}]
    records = [make_record(i, preference_labels=obj) for i, obj in enumerate(labels)]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = load_source(str(path), db=tmp_path / "db.duckdb")
    expected = sorted((i, j, c) for i, obj in enumerate(labels) for j, c in parse_labels(obj, "r").items())
    with duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT p.source_index, l.judge, l.preferred FROM labels l JOIN pairs p USING (pair_id) "
                             "ORDER BY ALL").fetchall()
    assert stored == expected
    assert report.new_labels == len(expected) == 8 and report.judges == ["gpt-4", "human", "late"]
