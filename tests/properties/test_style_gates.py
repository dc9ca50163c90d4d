"""A style property's gates (pipeline/properties/style.py: `needs`, `ascii_zero`) only skip
texts its regular expression would count 0 in: the gated count equals the plain one."""

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.properties import measures
from pipeline.properties.style import STYLE_PROPERTIES, gated_count

PIECES = ["# ", "## H", "\n", " ", "**", "__", "b", "```", "~~~", "```py", "[x](y)", "](", "http://a.b", "https://",
          "www.x.org", "?", "you", "Would you?", "😀", "\u2764\ufe0f", "\u00a9", "\ufe0f", "- ", "1. ", "é", "I'm sorry",
          "As an AI", ".", "\t"]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=20).map("".join) | st.text(max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=6))
@example(["".join(chr(c) for c in range(128))])  # every ASCII character: no emoji among them
def test_a_gated_count_equals_the_plain_count(texts):
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    is_ascii = pl.Series([t.isascii() for t in texts])
    for p in STYLE_PROPERTIES:
        plain = frame.select(p.count(pl.col("t")).cast(pl.Int64))[:, 0].to_list()
        gated = frame.select(gated_count(p, pl.col("t"), pl.lit(is_ascii)).cast(pl.Int64))[:, 0].to_list()
        assert gated == plain, p.name
    # as the loader measures: the texts' ASCII-ness known from the compiled count
    wide = measures.measure_frame(pl.DataFrame({"pair_id": range(len(texts)), "response_1": texts, "response_2": texts}))
    for p in STYLE_PROPERTIES:
        assert wide[f"{p.measure}_1"].to_list() == frame.select(p.count(pl.col("t")).cast(pl.Int64))[:, 0].to_list()


def test_the_gates_are_set_where_they_save_most():
    gates = {p.measure: (p.needs, p.ascii_zero) for p in STYLE_PROPERTIES}
    assert gates["code_blocks"] == (("```", "~~~"), False) and gates["emoji"] == ((), True)
    assert gates["tokens"] == ((), False)  # every text has tokens to count
