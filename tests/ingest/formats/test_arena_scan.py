"""The DuckDB read of Arena JSON lines (formats/arena_scan.py) gives what the Python reader gives:
the same pairs, skips and counts, and for a file Python refuses the same one-line error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest import formats
from pipeline.ingest.formats import arena_scan


def battle(i: int, **over) -> dict:
    row = {"question_id": f"q{i}", "model_a": "m-a", "model_b": "m-b", "winner": "model_a", "judge": f"u{i % 3}",
           "conversation_a": [{"role": "user", "content": f"question {i}?"}, {"role": "assistant", "content": f"A {i}"}],
           "conversation_b": [{"role": "user", "content": f"question {i}?"}, {"role": "assistant", "content": f"B {i}"}],
           "turn": 1, "anony": True, "language": "English"}
    row.update(over)
    return {k: v for k, v in row.items() if v is not DROP}


DROP = object()
MULTI = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "r1"},
         {"role": "user", "content": "two"}, {"role": "assistant", "content": ""}, {"role": "assistant", "content": "r2"}]

# Rows the fast read takes, and rows it must hand to Python (which may take or refuse them).
ODD_ROWS = {
    "uppercase role and system message": battle(1, conversation_a=[{"role": "system", "content": "be kind"},
                                                                   {"role": "USER", "content": "q"},
                                                                   {"role": "Assistant", "content": "a"}]),
    "role with spaces": battle(1, conversation_a=[{"role": " user ", "content": "q"}, {"role": "gpt", "content": "a"}]),
    "unknown role": battle(1, conversation_b=[{"role": "narrator", "content": "q"}]),
    "role missing": battle(1, conversation_b=[{"content": "q"}]),
    "role not a string": [battle(1, conversation_a=[{"role": 5, "content": "q"}, {"role": "assistant", "content": "a"}]),
                          battle(2, conversation_b=[{"role": True, "content": "q"}]),
                          battle(3, conversation_b=[{"role": ["user"], "content": "q"}]),
                          battle(4, conversation_b=[{"role": {"user": 1}, "content": "q"}]),
                          battle(5, conversation_b=[{"role": None, "content": "q"}])],
    "content a number": battle(1, conversation_a=[{"role": "user", "content": 5}, {"role": "assistant", "content": 1.50}]),
    "content parts": battle(1, conversation_b=[{"role": "user", "content": "q"},
                                               {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}]),
    "content null": battle(1, conversation_b=[{"role": "user", "content": None}, {"role": "assistant", "content": None}]),
    "content an object": battle(1, conversation_b=[{"role": "assistant", "content": {"x": 1}}]),
    "conversation as JSON text": battle(1, conversation_a=json.dumps(MULTI)),
    "conversation null": battle(1, conversation_a=None),
    "message not an object": battle(1, conversation_a=["hello"]),
    "multi-turn": battle(1, conversation_a=MULTI, conversation_b=MULTI),
    "empty conversation": battle(1, conversation_a=[]),
    "whitespace response": battle(1, conversation_b=[{"role": "assistant", "content": " \u3000\x1c\n"}]),
    "winner spellings": [battle(1, winner="Model_B"), battle(2, winner=1), battle(3, winner="2"), battle(4, winner=None),
                         battle(5, winner=""), battle(6, winner="tie (bothbad)"), battle(7, winner="TIE"),
                         battle(8, winner=DROP)],
    "winner float": battle(1, winner=2.0),
    "winner padded": battle(1, winner=" model_a "),
    "winner boolean": battle(1, winner=True),
    "winner unknown": battle(1, winner="the left one"),
    "winner with a dotted capital I": battle(1, winner="TİE"),  # DuckDB lowers it to 'tie', Python does not
    "ids as numbers": battle(1, question_id=123, model_a=7, judge=-4),
    "names as huge whole numbers": [battle(1, model_a=10**70), battle(2, question_id=-(10**65)), battle(3, judge=10**59),
                                    battle(4, turn=10**400)],  # Python takes a name under 2**199, a value under 2**1000
    "id as float": battle(1, question_id=1.5),
    "id instead of question_id": battle(1, question_id=DROP, id="x1"),
    "null question_id beside id": battle(1, question_id=None, id="x1"),
    "empty names": battle(1, question_id="", model_a="", judge=""),
    "model an object": battle(1, model_b={"name": "x"}),
    "attributes of every kind": battle(1, language="", turn=2, anony=False),
    "attribute float": battle(1, turn=1.0),
    "attribute list and object": battle(1, language=["en", "de"], anony={"a": {"b": True}}),
    "emoji escaped as a surrogate pair": battle(1, conversation_b=[{"role": "assistant", "content": "ok \U0001F600"}]),
    "content key quoted in a text": battle(1, conversation_b=[{"role": "assistant", "content": 'say "content": 5'}]),
}

# Raw lines, for what json.dumps would not write.
ODD_LINES = {
    "lone surrogate": '{"question_id": "q", "model_a": "a", "model_b": "b", "winner": "model_a", '
                      '"conversation_a": [{"role": "user", "content": "q\\ud800"}, {"role": "assistant", "content": "x"}], '
                      '"conversation_b": [{"role": "assistant", "content": "y"}]}',
    "duplicate key": '{"model_a": "a", "model_a": "z", "model_b": "b", "winner": "model_a", '
                     '"conversation_a": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}], '
                     '"conversation_b": [{"role": "assistant", "content": "y"}]}',
    "duplicate key in a message": '{"model_a": "a", "model_b": "b", "winner": "model_a", '
                                  '"conversation_a": [{"role": "user", "content": "q", "content": "r"}, '
                                  '{"role": "assistant", "content": "x"}], "conversation_b": [{"role": "assistant", "content": "y"}]}',
    "key spelled with escapes": '{"model_a": "a", "model_b": "b", "winner": "model_a", '
                                '"conversation_a": [{"role": "user", "\\u0063ontent": 7}, {"role": "assistant", "content": "x"}], '
                                '"conversation_b": [{"role": "assistant", "content": "y"}]}',
    "nested too deep": json.dumps(battle(1)).replace('"turn": 1', '"tstamp": ' + "[" * 70 + "1" + "]" * 70),
    "a number too long": json.dumps(battle(1)).replace('"turn": 1', '"tstamp": ' + "7" * 5000),
    "two objects on a line": json.dumps(battle(1)) + " " + json.dumps(battle(2)),
    "not an object": "[1, 2]",
    "not JSON": '{"model_a": "a",',
    "a NaN": json.dumps(battle(1)).replace('"turn": 1', '"turn": NaN'),
}


def _write(tmp_path, name: str, middle: list[str]) -> object:
    lines = [json.dumps(battle(i)) for i in range(3)] + ["", "  "] + middle + [json.dumps(battle(i)) for i in range(3, 6)]
    path = tmp_path / f"{abs(hash(name))}.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    return path


def _read(path, fast: bool, monkeypatch, multi_turn: bool = False):
    """(pairs, skip lines, rows) or the error's text, through formats.Reading as `load` reads."""
    monkeypatch.setattr(arena_scan, "applies", (lambda p: True) if fast else (lambda p: False))
    reading = formats.Reading("arena", [path], formats.Options(multi_turn=multi_turn))
    try:
        pairs = list(reading.pairs())
    except ValueError as exc:  # SourceError and RowError
        return f"{type(exc).__name__}: {exc}"
    return pairs, reading.skips.lines(), [(t.judge, t.rater, t.query) for t in reading.skips.ties], reading.rows


@pytest.mark.parametrize("multi_turn", [False, True])
@pytest.mark.parametrize("name", sorted(ODD_ROWS))
def test_odd_rows_read_as_python_reads_them(tmp_path, monkeypatch, name, multi_turn):
    rows = ODD_ROWS[name] if isinstance(ODD_ROWS[name], list) else [ODD_ROWS[name]]
    path = _write(tmp_path, name, [json.dumps(r) for r in rows])
    assert _read(path, True, monkeypatch, multi_turn) == _read(path, False, monkeypatch, multi_turn)


@pytest.mark.parametrize("name", sorted(ODD_LINES))
def test_odd_lines_read_or_refused_as_python_does(tmp_path, monkeypatch, name):
    path = _write(tmp_path, name, [ODD_LINES[name]])
    assert _read(path, True, monkeypatch) == _read(path, False, monkeypatch)


def test_invalid_utf8_is_refused_as_python_refuses_it(tmp_path, monkeypatch):
    path = _write(tmp_path, "utf8", [json.dumps(battle(9))])
    path.write_bytes(path.read_bytes().replace(b"A 9", b"A \xff9"))
    fast = _read(path, True, monkeypatch)
    assert fast == _read(path, False, monkeypatch) and "not UTF-8" in fast


def test_a_plain_file_never_reaches_the_python_reader(tmp_path, monkeypatch):
    rows = [battle(i, winner=w) for i, w in enumerate(["model_a", "model_b", "tie", "tie (bothbad)", None] * 30)]
    rows.append(battle(999, conversation_a=MULTI, conversation_b=MULTI))
    path = tmp_path / "plain.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    taken = []
    items = list(arena_scan.read(path, formats.Options(judge="human"), 10, taken.append,
                                 lambda k: pytest.fail(f"handed to Python at row {k}")))
    assert len(items) == len(rows) and taken == list(range(10, 10 + len(rows)))
    assert arena_scan.applies(path)
    assert _read(path, True, monkeypatch) == _read(path, False, monkeypatch)


def test_only_plain_jsonl_files_are_read_by_duckdb(tmp_path):
    for name, content in [("a.jsonl.gz", b"x"), ("a.json", b"{}"), ("bom.jsonl", b"\xef\xbb\xbf{}\n"),
                          ("utf16.jsonl", "{}\n".encode("utf-16"))]:
        (tmp_path / name).write_bytes(content)
        assert not arena_scan.applies(tmp_path / name), name


def test_blank_is_what_python_calls_space_for_every_character():
    """`blank` of each single character (surrogates aside) is `not c.strip()`."""
    import duckdb
    found = {c for (c,) in duckdb.sql(
        f"SELECT i FROM (SELECT * FROM range(1, 55296) UNION ALL SELECT * FROM range(57344, 1114112)) t(i) "
        f"WHERE {arena_scan.blank('chr(i::INTEGER)')}").fetchall()}
    assert found == {i for i in range(1, 0x110000) if chr(i).isspace()}


SPACES = [chr(i) for i in range(0x3001) if chr(i).isspace()]
NOT_SPACES = ["a", "\x08", "\x00", "\x7f", "\u200b", "\ufeff", "\u180e", "/", "\\", '"', "\U0001F600", "u", "2", "0", "8", "t"]


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), st.text(st.sampled_from(SPACES + NOT_SPACES), max_size=6),
                                st.text(st.sampled_from(SPACES), max_size=6)), min_size=1, max_size=20),
       ascii_only=st.booleans())
def test_json_blank_finds_a_blank_string_as_python_does_without_unescaping_it(texts, ascii_only, tmp_path_factory):
    """A string leaf read by DuckDB (as it writes it back: some spaces escaped, some not) is
    `json_blank` exactly when Python calls it empty; a null too; a number or a list is not."""
    import duckdb
    path = tmp_path_factory.mktemp("blank") / "rows.jsonl"
    values = [*texts, 5, [" "]]
    path.write_text("".join(json.dumps({"v": v}, ensure_ascii=ascii_only) + "\n" for v in values), encoding="utf-8")
    got = [b for (b,) in duckdb.execute(f"SELECT {arena_scan.json_blank('v')} FROM read_json(?, format = "
                                        "'newline_delimited', columns = {'v': 'JSON'})", [str(path)]).fetchall()]
    assert got == [v is None or (isinstance(v, str) and not v.strip()) for v in values]
