"""Comments found by our own scanner (DuckDB 1.5's tokenizer skips them without a token)."""

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.sqlguard.comments import blank_comments


@pytest.mark.parametrize("text, want, open_", [
    ("x /* note */ = 1", "x   = 1", False),
    ("annotated -- raw pairs too?\n", "annotated  \n", False),
    ("a = '--' AND b = '/* x */'", "a = '--' AND b = '/* x */'", False),
    ('"odd--name" = 1', '"odd--name" = 1', False),
    ("/* a /* nested */ still */ 1", "  1", False),
    ("x = 1 /*", "x = 1  ", True),
    ("s = 'it''s -- here' -- gone", "s = 'it''s -- here'  ", False),
    ("s = E'a\\' -- in' -- out", "s = E'a\\' -- in'  ", False),
    ("s = $$ -- kept $$ -- out", "s = $$ -- kept $$  ", False),
    ("s = $t$ /* kept */ $t$", "s = $t$ /* kept */ $t$", False),
])
def test_comments_are_blanked_and_strings_kept(text, want, open_):
    assert blank_comments(text) == (want, open_)


@given(st.lists(st.sampled_from(["x", "1", "=", "'a--b'", "'/*'", "(", ")", "AND", "-- c\n", "/* c */", " "]),
                max_size=30))
def test_what_is_left_tokenizes_like_the_text_with_comments_dropped(parts):
    text = " ".join(parts)
    blanked, never_closed = blank_comments(text)
    assert not never_closed
    assert "-- c" not in blanked and "/* c */" not in blanked
    # a comment stands for white space ('a' -- c<newline> 'b' is one string: the literals join across a line)
    kept = " ".join({"-- c\n": " \n", "/* c */": " "}.get(p, p) for p in parts)
    assert [k for _, k in duckdb.tokenize(blanked)] == [k for _, k in duckdb.tokenize(kept)]
