"""The style property set (pipeline/properties/style.py): each count on its own, the comparison rule,
the long frame the loader stores, and the backfill of pairs stored without style rows."""

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest import style_backfill
from pipeline.properties import style
from pipeline.properties.paper_rules import compare_length
from pipeline.properties.paper import PROPERTY_NAMES
from pipeline.properties.sets import registry_rows, set_names
from pipeline.properties.style import STYLE_BY_NAME, STYLE_NAMES, compare_counts, style_counts, style_features


def count(name: str, text: str) -> int:
    """One property's count of one text, through the same polars expression as the loader."""
    key = STYLE_BY_NAME[name].source_key
    frame = pl.DataFrame({"pair_id": [0], "response_1": [text], "response_2": [""]})
    return style_counts(frame)[f"{key}_1"][0]


def test_ten_properties_each_documented_and_unique_across_sets():
    assert len(STYLE_NAMES) >= 10
    assert STYLE_NAMES[:4] == ["length (tokens)", "markdown headers", "list items", "bold spans"]  # LMArena's four
    assert not set(STYLE_NAMES) & set(PROPERTY_NAMES)
    for p in style.STYLE_PROPERTIES:
        assert p.count.__doc__ and p.description and p.rule
    rows = [r for r in registry_rows() if r[0] == "style"]
    assert [r[2] for r in rows] == STYLE_NAMES == set_names("style")
    assert [r[1] for r in rows] == list(range(len(STYLE_NAMES)))
    assert set_names("paper+style") == PROPERTY_NAMES + STYLE_NAMES


def test_tokens():
    assert count("length (tokens)", "Hello, world!") == 4
    assert count("length (tokens)", "") == 0
    assert count("length (tokens)", "naïve café — 3.14") == 6  # words, the dash, 3 . 14
    assert count("length (tokens)", "  spaces\n\tonly  ") == 2


def test_markdown_headers():
    assert count("markdown headers", "# Title\ntext\n## Part\n   ### Three spaces") == 3
    assert count("markdown headers", "#hashtag\n    # four spaces is code\nC# is a language\n####### seven") == 0


def test_list_items():
    text = "Steps:\n- one\n* two\n+ three\n  - nested\n1. first\n2) second\n• bullet"
    assert count("list items", text) == 7
    assert count("list items", "-not a list\n*emphasis*\n3.14 is pi\n- ") == 0


def test_bold_spans():
    assert count("bold spans", "**Bold** and __also bold__ and **two words**") == 3
    assert count("bold spans", "2**3 and ** ** and a*b*c and **\nbroken**") == 0


def test_code_blocks():
    assert count("code blocks", "```python\nx = 1\n```\ntext\n~~~\ny\n~~~") == 2
    assert count("code blocks", "```\nunclosed") == 1  # a truncated response still opened a block
    assert count("code blocks", "inline `code` and ``` mid-line") == 0


def test_links():
    text = "See [the docs](https://example.org/a) or https://b.example/x, and www.c.example."
    assert count("links", text) == 3  # the markdown link counts once, not twice
    assert count("links", "http:// is not a link, nor example.org") == 0


def test_emoji():
    assert count("emoji", "Great job 🎉👍 ✅ and ❤️") == 4
    assert count("emoji", "No emoji: 1 # * © ® ™ :-)") == 0


def test_questions_to_the_user():
    text = "Would you like more details? Is the sky blue? What is your budget?\nDo you?"
    assert count("questions to the user", text) == 3
    assert count("questions to the user", "Why? Because I said so. You are right.") == 0


def test_refusals_and_apologies():
    text = "I'm sorry, but I can't help with that. I apologize. I won\u2019t assist. My apologies."
    assert count("refusals & apologies", text) == 5
    assert count("refusals & apologies", "I can help with that. Don't be sorry. I will not forget.") == 0


def test_as_an_ai():
    text = "As an AI language model, I have no body. I'm just an AI. I am a large language model."
    assert count("as-an-AI", text) == 3
    assert count("as-an-AI", "AI is a field. As a teacher, I am an aide.") == 0


def test_count_rule_ignores_trivial_differences():
    assert compare_counts(1, 0, 1) == 1 and compare_counts(0, 1, 1) == -1
    assert compare_counts(2, 1, 1) == 1           # 1 <= 0.8 x 2
    assert compare_counts(5, 4, 1) == 1           # 4 <= 0.8 x 5
    assert compare_counts(11, 10, 1) == 0         # 10 > 0.8 x 11: nobody notices one more of eleven
    assert compare_counts(3, 3, 1) == 0 and compare_counts(0, 0, 1) == 0
    assert compare_counts(3, 2, 2) == 0           # under the minimum difference


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(0, 400), st.integers(0, 400)),
                min_size=1, max_size=30))
def test_vectorised_rules_equal_the_scalar_rules(pairs):
    """Counts rule vs compare_counts, and the token length rule vs the paper's word-length rule."""
    frame = pl.DataFrame({"c1": [p[0] for p in pairs], "c2": [p[1] for p in pairs],
                          "t1": [p[2] for p in pairs], "t2": [p[3] for p in pairs]})
    got = frame.select(style.compare(STYLE_BY_NAME["list items"], pl.col("c1"), pl.col("c2")).alias("c"),
                       style.compare(STYLE_BY_NAME["length (tokens)"], pl.col("t1"), pl.col("t2")).alias("t"))
    assert got["c"].to_list() == [compare_counts(a, b, 1) for a, b, _, _ in pairs]
    assert got["t"].to_list() == [compare_length(a, b) for _, _, a, b in pairs]


def test_style_features_frame():
    frame = pl.DataFrame({"pair_id": [7, 3], "response_1": ["- a\n- b\n- c\nWould you like more?", "ok"],
                          "response_2": ["Plain text.", None]})
    out = style_features(frame)
    assert out.columns == ["pair_id", "property", "value"] and out.height == 2 * len(STYLE_NAMES)
    assert out["value"].dtype == pl.Int8
    assert out["pair_id"].to_list() == [7] * len(STYLE_NAMES) + [3] * len(STYLE_NAMES)
    first = dict(zip(out["property"][:len(STYLE_NAMES)], out["value"][:len(STYLE_NAMES)]))
    assert first["list items"] == 1 and first["questions to the user"] == 1 and first["emoji"] == 0
    assert first["length (tokens)"] == 1  # 14 tokens against 3
    second = dict(zip(out["property"][len(STYLE_NAMES):], out["value"][len(STYLE_NAMES):]))
    assert second.pop("length (tokens)") == 1 and set(second.values()) == {0}  # 'ok' vs no text: SPEC 4d, s=0
    swapped = style_features(frame.rename({"response_1": "response_2", "response_2": "response_1"}))
    assert (swapped["value"] == -out["value"]).all()  # the rule is antisymmetric
    with pytest.raises(ValueError, match="response_2"):
        style_features(frame.drop("response_2"))


def test_deterministic_and_fast_enough():
    import time

    texts = ["# Plan\n- **one** 🎉\n- two https://a.example\n" * 20, "As an AI, I'm sorry. Do you agree?" * 10]
    frame = pl.DataFrame({"pair_id": range(10_000), "response_1": texts * 5_000, "response_2": texts[::-1] * 5_000})
    t = time.perf_counter()
    a = style_features(frame)
    assert time.perf_counter() - t < 60  # no pathological slowness; bench/bench_fit.py measures the speed
    assert a.equals(style_features(frame))


def test_backfill_fills_only_pairs_without_style_rows(tmp_path):
    from dbquery import rows

    from pipeline.store import db as dbmod
    from pipeline.demo import generate_records
    from pipeline.ingest.release_load import load_records

    db = tmp_path / "s.duckdb"
    load_records(generate_records(seed=3, group_sizes={"Code": 30}), source="s", db=db)
    with dbmod.writing(db) as con:  # as an older file would be: no style rows
        con.execute("DELETE FROM features WHERE list_contains(?, property)", [STYLE_NAMES])
        con.execute("UPDATE pairs SET response_1 = '- a\n- b\n- c', response_2 = 'no list here' "
                    "WHERE pair_id = (SELECT min(pair_id) FROM pairs)")
    n_pairs = rows(db, "SELECT count(*) FROM pairs")[0][0]
    assert style_backfill.backfill(db) == n_pairs
    got = rows(db, "SELECT count(*), count(DISTINCT pair_id) FROM features WHERE list_contains(?, property)",
               [STYLE_NAMES])
    assert got == [(n_pairs * len(STYLE_NAMES), n_pairs)]
    first = rows(db, "SELECT value FROM features WHERE property = 'list items' AND pair_id = "
                     "(SELECT min(pair_id) FROM pairs)")
    assert first == [(1,)]
    stamp = db.stat().st_mtime_ns
    assert style_backfill.backfill(db) == 0 and db.stat().st_mtime_ns == stamp  # nothing to do: nothing written
