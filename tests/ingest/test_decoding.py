"""`decoding.json_lines`: orjson reads the lines it reads as json does, and json the others, so
a JSON-lines file gives the same values, and the same one-line errors, as it did when every line
went through `text_lines` and `loads`. Checked on generated lines: JSON values of every kind,
then the same lines damaged with the bytes where the two parsers differ."""

from __future__ import annotations

import json
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from fuzzing import CASES, FAST, HOSTILE_JSON
from pipeline.ingest import decoding
from pipeline.ingest.decoding import SourceError, json_lines, loads, text_lines

_NUMBERS = st.integers() | st.floats() | st.integers(-2**70, 2**70) | st.sampled_from(
    [2**63 - 1, 2**63, 2**64 - 1, 2**64, -2**63, -2**63 - 1, 10**18, -10**18, 0.0, -0.0, 1e-400, 5e-324])
_TEXT = st.text() | st.sampled_from(["\ud800", "x\udfff", "\x00", "\ufeff", "\u2028", "\x0b", "é😀"])
_VALUES = st.recursive(st.none() | st.booleans() | _NUMBERS | _TEXT,
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
                       max_leaves=20)
# bytes json and orjson may read differently: surrogates, spaces JSON does not have, a trailing
# comma, a byte-order mark, NUL, bytes that are not UTF-8, brackets and digits near the limits
_DAMAGE = [b"\x0b", b"\x0c", b"\x00", b",", b",]", b",}", b"\xef\xbb\xbf", b"\xff", b"\xed\xa0\x80", b"\\u", b'"\\ud800"',
           b"\\ud83d\\ude00", b"NaN", b"-Infinity", b"01", b"1.", b".5", b"-", b"1e400", b" ", b"\t", b"\r", b"\xc2\xa0",
           b"[" * 65, b"{" * 40, b"9" * 19, b"-" + b"9" * 19, b"1" * 18, b'"', b"\\", b"[]", b"{}", b"\x1c"]


def _dumped(value, ascii_only: bool, compact: bool) -> bytes:
    separators = (",", ":") if compact else None
    return json.dumps(value, ensure_ascii=ascii_only, separators=separators).encode("utf-8", "surrogatepass")


def _outcome(read):
    """[(line number, repr of the value)] or the error's message: repr tells int from float,
    -0.0 from 0.0 and one key order from another."""
    try:
        return [(n, type(v).__name__, repr(v)) for n, v in read()]
    except SourceError as exc:
        return str(exc)


def _as_before(path):
    """The lines read as before orjson: every one through text_lines and loads."""
    return [(n, loads(line, path, n)) for n, line in text_lines(path) if line.strip()]


def _same_both_ways(tmp_path, content: bytes, block: int | None = None) -> None:
    """json_lines reads `content` as every line through json did; `block`: read that many bytes at a
    time (lines then cross blocks, and a line may be longer than several)."""
    path = tmp_path / "lines.jsonl"
    path.write_bytes(content)
    with patch.object(decoding, "_BLOCK", block or decoding._BLOCK):
        assert _outcome(lambda: json_lines(path)) == _outcome(lambda: _as_before(path))


@FAST
@given(values=st.lists(_VALUES, min_size=1, max_size=3), ascii_only=st.booleans(), compact=st.booleans(),
       crlf=st.booleans())
def test_json_values_read_as_json_reads_them(values, ascii_only, compact, crlf, tmp_path_factory):
    CASES["json lines: values"] += 1
    end = b"\r\n" if crlf else b"\n"
    _same_both_ways(tmp_path_factory.getbasetemp(), end.join(_dumped(v, ascii_only, compact) for v in values) + end)


@FAST
@given(values=st.lists(_VALUES, min_size=1, max_size=4), block=st.integers(1, 40), final_newline=st.booleans(),
       blank=st.booleans(), bom=st.booleans())
def test_lines_across_blocks_read_as_json_reads_them(values, block, final_newline, blank, bom, tmp_path_factory):
    """The file read a few bytes at a time: line numbers, offsets in messages and values as before,
    with or without a final newline, a blank line or a byte-order mark."""
    CASES["json lines: blocks"] += 1
    lines = [_dumped(v, False, True) for v in values] + ([b"   "] if blank else []) + [b'{"n": 12345678901234567890}']
    content = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (b"\n" if final_newline else b"")
    _same_both_ways(tmp_path_factory.getbasetemp(), content, block)
    _same_both_ways(tmp_path_factory.getbasetemp(), content + b"\xff\n{}", block)  # a byte that is not UTF-8


@FAST
@given(value=_VALUES, damage=st.lists(st.tuples(st.sampled_from(_DAMAGE), st.integers(0, 10**6)), min_size=1,
                                      max_size=3), ascii_only=st.booleans())
def test_damaged_lines_read_or_fail_as_json_makes_them(value, damage, ascii_only, tmp_path_factory):
    CASES["json lines: damaged"] += 1
    line = _dumped(value, ascii_only, compact=False)
    for piece, at in damage:
        at %= len(line) + 1
        line = line[:at] + piece + line[at:]
    _same_both_ways(tmp_path_factory.getbasetemp(), b'{"first": 1}\n' + line + b"\n")


@FAST
@given(fragment=st.sampled_from(HOSTILE_JSON[:-1]) | st.from_regex(r"-?[0-9]{1,22}(\.[0-9]{1,17})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
       depth=st.integers(0, 70))
def test_numbers_and_nesting_near_the_limits(fragment, depth, tmp_path_factory):
    CASES["json lines: limits"] += 1
    line = ("[" * depth + fragment + "]" * depth).encode()
    _same_both_ways(tmp_path_factory.getbasetemp(), line + b"\n")


def test_plain_records_are_parsed_by_orjson(tmp_path, monkeypatch):
    """The fast path is taken (a record line is not sent to json), so the speed is real."""
    seen = []
    monkeypatch.setattr(decoding, "loads", lambda *a, **k: seen.append(a) or loads(*a, **k))
    path = tmp_path / "r.jsonl"
    path.write_text('{"query": "q", "labels": {"human": "response_1"}, "score": [1, 2.5, -3]}\n\n'
                    '{"n": 123456789012345678901}\n')
    assert [v for _, v in json_lines(path)] == [{"query": "q", "labels": {"human": "response_1"},
                                                "score": [1, 2.5, -3]}, {"n": 123456789012345678901}]
    assert len(seen) == 1  # the 21-digit integer only (orjson would read it as a float); a blank line is skipped


def test_a_utf16_or_utf32_file_is_read_whole_and_looked_at_once(tmp_path, monkeypatch):
    """Wide encodings are decoded whole; their head is read once to find the encoding (it was
    read again when the block reader handed a wide file to the line reader)."""
    looks = []
    real = decoding._first_look
    monkeypatch.setattr(decoding, "_first_look", lambda path: looks.append(path) or real(path))
    values = [{"a": 1, "b": "é😀"}, [None, 2.5], "x"]
    for codec in ("utf-16", "utf-32"):
        path = tmp_path / f"{codec}.jsonl"
        path.write_bytes("\n".join(json.dumps(v, ensure_ascii=False) for v in values).encode(codec))
        looks.clear()
        assert [(n, v) for n, v in json_lines(path)] == [(1, values[0]), (2, values[1]), (3, values[2])]
        assert looks == [path]
        looks.clear()
        assert [line for _, line in text_lines(path)] == [json.dumps(v, ensure_ascii=False) for v in values]
        assert looks == [path]
