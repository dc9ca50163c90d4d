"""The compiled count of tokens, words and list items (pipeline/properties/ascii_counts.py) gives
what the regular expressions give on every ASCII text, and leaves every other text to them."""

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.properties import ascii_counts, measures
from pipeline.properties.style import LIST_ITEM_RE, TOKEN_RE

# The characters each alternative of WORD_RE and TOKEN_RE turns on, and then any ASCII
TRICKY = "aZ09_ .,:;'`-\"*#!?()[]{}<>@$%&\t\n\r\x0b\x0c\x1c\x1f\x00smdtlrveSMDTLRVE"
# ... and LIST_ITEM_RE's: line starts, blanks, markers, one to four digits
LINES = st.lists(st.sampled_from(["\n", "\r\n", " ", "\t", "  ", "-", "*", "+", "1", "12", "123", "1234", ".", ")",
                                  "x", "\x0b", "\x0c", "\r", "#"]), max_size=14).map("".join)
ASCII = st.text(alphabet=st.sampled_from(TRICKY), max_size=60) | st.text(
    alphabet=st.characters(max_codepoint=127), max_size=60) | LINES


def regex_counts(texts: list[str]) -> tuple[list[int], list[int], list[int]]:
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    got = frame.select(tokens=pl.col("t").str.count_matches(TOKEN_RE), words=measures.words(pl.col("t")),
                       list_items=pl.col("t").str.count_matches(LIST_ITEM_RE))
    return got["tokens"].to_list(), got["words"].to_list(), got["list_items"].to_list()


@settings(max_examples=400, deadline=None)
@given(st.lists(ASCII, min_size=1, max_size=8))
@example(["Don't stop... --x 3,36 a.b. 'll 're've 'S x'sy ``code`` 10:30 a,b .5"])
@example(["", " ", "'", "''", "'s", "'sx", "a--b", "--", "...", ".a", "a.", "a:1", "a:", ",1"])
@example(["- a\n * b\n1. c\n12) d\n1234. e\n-\tf\n- \n-x\n  + \x0bg\n   3.  h", "\n- a", "-  ", "7."])
def test_the_compiled_count_equals_the_regular_expressions_on_ascii(texts):
    counted = ascii_counts.counts(pl.Series(texts, dtype=pl.String))
    assert tuple(c.tolist() for c in counted) == regex_counts(texts)


def test_measures_names_what_the_loop_counts():
    assert measures.COMPILED == ascii_counts.MEASURES


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=6))
def test_a_text_with_any_other_character_is_left_to_the_regular_expressions(texts):
    counted = ascii_counts.counts(pl.Series(texts, dtype=pl.String))
    for text, *values in zip(texts, *counted):
        assert all((v == -1) == (not text.isascii()) for v in values)
    frame = pl.DataFrame({"pair_id": range(len(texts)), "response_1": texts, "response_2": texts[::-1]})
    wide = measures.measure_frame(frame)  # mixed texts: each counted by one of the two ways
    for k, side in ((1, texts), (2, texts[::-1])):
        assert tuple(wide[f"{m}_{k}"].to_list() for m in ascii_counts.MEASURES) == regex_counts(side)


def test_nulls_and_slices():
    series = pl.Series(["a b", None, "c, d", "é"], dtype=pl.String)
    tokens, words, items = ascii_counts.counts(series)
    assert tokens.tolist() == [2, -1, 3, -1] and words.tolist() == [2, -1, 3, -1] and items.tolist() == [0, -1, 0, -1]
    tokens, *_ = ascii_counts.counts(series.slice(2, 1))  # a slice's offsets do not start at 0
    assert tokens.tolist() == [3]
    assert [a.tolist() for a in ascii_counts.counts(pl.Series([], dtype=pl.String))] == [[], [], []]


@settings(max_examples=100, deadline=None)
@given(st.lists(ASCII | st.text(max_size=20) | st.none(), min_size=1, max_size=8), st.integers(0, 3))
def test_arrow_strings_are_counted_in_place_as_the_series_is(texts, start):
    """A loader's Arrow batch (32-bit offsets, maybe a slice, maybe chunked) counts as its polars Series."""
    import pyarrow as pa

    expected = [c.tolist() for c in ascii_counts.counts(pl.Series(texts[start:], dtype=pl.String))]
    small = pa.array(texts, type=pa.string()).slice(start)
    chunked = pa.chunked_array([pa.array(texts[start:start + 1], type=pa.large_string()),
                                pa.array(texts[start + 1:], type=pa.large_string())])
    for arrow in (small, chunked, pa.chunked_array([small])):
        assert [c.tolist() for c in ascii_counts.counts(arrow)] == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(ASCII | st.text(max_size=20) | st.none(), ASCII | st.text(max_size=20)), min_size=1,
                max_size=6))
def test_an_arrow_batch_is_measured_as_its_frame(pairs):
    import pyarrow as pa

    columns = {"pair_id": list(range(len(pairs))), "response_1": [a for a, _ in pairs],
               "response_2": [b for _, b in pairs]}
    batch = pa.RecordBatch.from_pydict(columns, schema=pa.schema([("pair_id", pa.int64()), ("response_1", pa.string()),
                                                                  ("response_2", pa.string())]))
    assert measures.measure_frame(batch).equals(measures.measure_frame(pl.from_arrow(batch)))
