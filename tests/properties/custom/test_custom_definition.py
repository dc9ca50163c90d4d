"""The custom-property file: every bad case is one line naming the file, the table and the key."""

from __future__ import annotations

import pytest

from pipeline.properties.custom.definition import PropertyFileError, parse_text, read_file

GOOD = '''
[[property]]
name = "humour"
question = "Which response uses more humour?"
scale = "compare"

[[property]]
name = "hedging"
question = "How much does the response hedge its claims?"
scale = "Rating"
description = "Qualifiers such as 'might' or 'it depends'."
'''


def test_a_good_file_reads_in_order():
    f = parse_text(GOOD, "props.toml")
    assert f.names == ["humour", "hedging"]
    humour, hedging = f.properties
    assert (humour.scale, humour.description) == ("compare", None)
    assert (hedging.scale, hedging.description) == ("rating", "Qualifiers such as 'might' or 'it depends'.")
    assert "sign(rating 1 - rating 2)" in hedging.rule


def _table(**keys) -> str:
    body = "\n".join(f"{k} = {v}" for k, v in keys.items())
    return f"[[property]]\n{body}\n"


BASE = {"name": '"humour"', "question": '"Which is funnier?"', "scale": '"compare"'}

BAD = [
    ("unknown key", _table(**BASE, scael='"rating"'), "[[property]] #1 ('humour'), key 'scael': unknown key"),
    ("bad scale", _table(**{**BASE, "scale": '"likert"'}), "key 'scale': 'likert' is not a scale"),
    ("scale not a string", _table(**{**BASE, "scale": "3"}), "key 'scale': 3 is not a scale"),
    ("missing question", _table(name='"humour"', scale='"compare"'), "key 'question': missing"),
    ("empty name", _table(**{**BASE, "name": '"  "'}), "[[property]] #1, key 'name': is empty"),
    ("invisible character", _table(**{**BASE, "name": '"hu\\u200bmour"'}), "contains U+200B"),
    ("name with a quote", _table(**{**BASE, "name": "'say \"hi\"'"}), "is not a property name"),
    ("name too long", _table(**{**BASE, "name": '"' + "x" * 41 + '"'}), "the limit is 40"),
    ("question not text", _table(**{**BASE, "question": "42"}), "key 'question': expected a string, got int"),
    ("duplicate", _table(**BASE) + _table(**{**BASE, "name": '"Humour"'}),
     "[[property]] #2 ('Humour'), key 'name': 'Humour' is defined twice (also in [[property]] #1)"),
    ("paper name", _table(**{**BASE, "name": '"Friendly"'}), "clashes with the built-in property 'friendly'"),
    ("unknown top-level key", 'version = 2\n' + _table(**BASE), "unknown top-level key 'version'"),
    ("no tables", 'title = "x"\n', "unknown top-level key 'title'"),
    ("empty file", "", "no [[property]] table"),
    ("property not an array", '[property]\nname = "x"\n', "must be an array of tables"),
    ("not TOML", "[[property]\nname = ", "not valid TOML"),
]


@pytest.mark.parametrize("case, text, expected", BAD, ids=[c for c, _, _ in BAD])
def test_bad_files_are_refused_in_one_line(case, text, expected):
    with pytest.raises(PropertyFileError) as err:
        parse_text(text, "my/props.toml", reserved=["friendly", "harmless"])
    message = str(err.value)
    assert message.startswith("my/props.toml: "), message
    assert expected in message, message
    assert "\n" not in message


def test_style_names_are_reserved_too():
    from pipeline.properties.custom.definition import builtin_names

    names = builtin_names()
    assert "harmless" in names and "lengthy" in names
    try:
        from pipeline.properties.paper import paper as properties
        style = properties.set_names("style")
    except (AttributeError, ImportError, KeyError):
        style = []
    for n in style:
        assert n in names


def test_read_file_names_a_missing_or_binary_file(tmp_path):
    with pytest.raises(PropertyFileError, match="no such file"):
        read_file(tmp_path / "nope.toml")
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe[[property]]")
    with pytest.raises(PropertyFileError, match="not UTF-8"):
        read_file(bad)
