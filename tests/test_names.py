"""Names people can confuse (issue 13.6): NFKC, and no invisible, bidi or control characters."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.names import MAX_NAME_CHARS, NameRefused, check_name

settings.register_profile("names", max_examples=300, deadline=None)


@pytest.mark.parametrize("raw, name", [
    ("human", "human"), ("ｈｕｍａｎ", "human"), ("  gpt  4 ", "gpt 4"), ("ﬁne", "fine"),
    ("gpt\u00a04", "gpt 4"), ("[/bold]", "[/bold]"), ("a;b 'c'", "a;b 'c'"), ("e\u0301", "\u00e9"),
    ("paper/gpt-4", "paper/gpt-4"), ("日本語", "日本語"),
])
def test_normalised(raw, name):
    assert check_name(raw, "judge name") == name


@pytest.mark.parametrize("raw, says", [
    ("human\u200b", "U+200B ZERO WIDTH SPACE"),
    ("\u202ehuman", "RIGHT-TO-LEFT OVERRIDE"),
    ("hu\u2066man", "U+2066"),
    ("\ufeffhuman", "U+FEFF"),
    ("hu\u200dman", "ZERO WIDTH JOINER"),
    ("human\n", "control character"),
    ("hu\x1b[31mman", "U+001B"),
    ("a\u2028b", "line separator"),
    ("\ud800", "surrogate"),
    ("a\ue000", "private-use"),
    ("a\u3164", "invisible"),
    ("a\ufe0f", "invisible"),
    ("", "empty"),
    ("   ", "only spaces"),
    ("x" * (MAX_NAME_CHARS + 1), "limit is"),
])
def test_refused_in_one_line(raw, says):
    with pytest.raises(NameRefused) as exc:
        check_name(raw, "judge name")
    message = str(exc.value)
    assert says in message and "\n" not in message and "judge name" in message


def test_zero_width_does_not_become_human():
    with pytest.raises(NameRefused):
        check_name("human\u200b")


@settings(settings.get_profile("names"))
@given(st.text(max_size=40))
def test_any_text_is_a_clean_name_or_one_refusal(text):
    try:
        name = check_name(text)
    except NameRefused as exc:
        assert "\n" not in str(exc)
        return
    assert name == name.strip() and name and len(name) <= MAX_NAME_CHARS and "  " not in name
    assert unicodedata.normalize("NFKC", name) == name
    assert all(unicodedata.category(ch) not in ("Cf", "Cc", "Cs", "Co", "Cn", "Zl", "Zp") for ch in name)
    assert check_name(name) == name  # normalising twice changes nothing
