"""A `rate` TOML file of any nesting depth or number size is read, or refused in one line (issue 20,
class 4). Before: 3,000 levels of `[[[...]]]` raised RecursionError and a 5,000-digit integer a raw
ValueError, each a traceback from `rate`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.properties.custom.definition import PropertyFileError, parse_text

HEAD = "[[property]]\nname = 'x'\nquestion = 'Which is better?'\nscale = 'compare'\n"


def nested(kind: str, depth: int) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "inline":
        return "{" + "a = {" * (depth - 1) + "}" * depth
    return "[" * depth + "1" + "]" * depth


VALUES = st.one_of(
    st.builds(nested, st.sampled_from(["array", "inline", "one"]), st.integers(1, 6000)),
    st.integers(1, 7000).map(lambda n: "9" * n),
    st.integers(1, 7000).map(lambda n: "-" + "1" * n),
    st.integers(1, 5000).map(lambda n: "1" + "0" * n + ".5"),
)


@settings(max_examples=150, deadline=None)
@given(value=VALUES, where=st.sampled_from(["extra", "top", "description"]))
def test_any_depth_or_number_is_read_or_refused_in_one_line(value, where):
    if where == "top":
        text = f"junk = {value}\n" + HEAD
    elif where == "extra":
        text = HEAD + f"extra = {value}\n"
    else:
        text = HEAD.replace("scale", f"description = {value}\nscale")
    with pytest.raises(PropertyFileError) as info:  # every case has an unknown key or a non-string value
        parse_text(text, "p.toml")
    message = str(info.value)
    assert message.startswith("p.toml") and "\n" not in message and len(message) < 400


@pytest.mark.parametrize("value, says", [("[" * 3000 + "]" * 3000, "nested too deeply"),
                                         ("9" * 5000, "more than 4,300 digits")])
def test_the_issue_examples(value, says):
    with pytest.raises(PropertyFileError, match=says):
        parse_text(HEAD + f"n = {value}\n", "p.toml")
