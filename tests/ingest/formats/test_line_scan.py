"""The compiled pass over raw lines (pipeline/ingest/formats/line_scan.py) behind
arena_scan.line_check gives what the line-by-line Python check gave, on generated files."""

import json
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.ingest import sources
from pipeline.ingest.formats import arena_scan, line_scan

# The line-by-line check line_scan replaced, with regular expressions: the reference.
_LONG_DIGITS = re.compile(rb"[0-9]{4301}")
_STRING = re.compile(rb'"(?:[^"\\\n]|\\[^\n])*(?:\\)?"?')  # a string, to its closing quote or the line's end
_ODD_VALUE = re.compile(rb'\s*:\s*[^\s"n]')                   # after a named key: a value not text or null
_ESCAPE = re.compile(rb"\\[^\n]")                              # an escape, left to right: \\ is one
_ESCAPED_ASCII = re.compile(rb"\\u00[2-7][0-9a-fA-F]")
_TRAILING_COMMA = re.compile(rb",[ \t\r\x0b\x0c]*[}\]]")


def _odd(line: bytes, keys: tuple[str, ...]) -> bool:
    """A value of one of `keys` not text or null, a printable ASCII character spelled as an escape,
    or a trailing comma outside strings."""
    quoted = {f'"{key}"'.encode() for key in keys}
    outside = []
    at = 0
    for string in _STRING.finditer(line):
        outside.append(line[at:string.start()])
        at = string.end()
        token = string.group()
        if token in quoted and _ODD_VALUE.match(line, at):
            return True
        if any(_ESCAPED_ASCII.match(token, e.start()) for e in _ESCAPE.finditer(token)):
            return True
    outside.append(line[at:])
    bare = b'""'.join(outside)  # each string as an empty one
    return bool(_ESCAPED_ASCII.search(bare) or _TRAILING_COMMA.search(bare))


def reference_line_check(path, keys=("content",)):
    rows = 0
    with open(path, "rb") as f:
        for line in f:
            if re.search(rb"[\x0b\x0c]", line):  # a vertical tab or form feed, even on a blank line
                return None
            if not line.strip():
                continue
            rows += 1
            if _odd(line, keys):
                return None
            if line.count(b"[") + line.count(b"{") > sources.MAX_DEPTH or (
                    len(line) > 4300 and _LONG_DIGITS.search(line)):
                try:
                    sources.loads(line.decode("utf-8"), path)
                except (sources.SourceError, UnicodeDecodeError):
                    return None
    return rows


PIECES = ['"content"', '"content" :', '"content":', '"response":', '"respons":', '"response"', ': ', ' "x"', ' null', 'n', '5', '{', '[', '}', ']',
          '\\u0041', '\\u00', '\\u001f', '\\u0080', '\\n', '\\', '\\\\', '"', ' ', '\t', '\r', '\x0b', '\x0c', '\n',
          '\n\n', '{"a": 1}', '{"content": "x"}', '{"content": 7}', '{"response": [1]}', 'é', '\x00', ',', ', ', '[1,]', '{"a": 1,}',
          '"a,]"']
LINE_TEXT = st.lists(st.sampled_from(PIECES), max_size=25).map("".join)


def write(tmp_path, data: bytes):
    path = tmp_path / "x.jsonl"
    path.write_bytes(data)
    return path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINE_TEXT, max_size=8), st.booleans())
@example(['{"content"\n: 5}'], True)       # a newline between: two lines, neither odd
@example(['{"content":\t\n'], False)
@example(["[" * 65], True)                   # nested too deep: a suspect Python refuses
@example(["[" * 40 + "]" * 40 + "{}" * 30], True)  # many brackets, valid: kept
@example(['{"a": 1 , }'], True)              # a trailing comma: refused
@example(['{"a": "x ,}", "b": "\\" ,]"}'], True)  # commas and brackets in texts: kept
@example(['{"a": "\\\\u0041"}'], True)        # an escaped backslash, then text: kept
@example(['\x0b'], False)                     # a blank line of a vertical tab: refused all the same
@example(['"\\\x0b'], False)                  # a vertical tab escaped in a string: refused too
def test_the_compiled_pass_equals_the_line_by_line_check(tmp_path, lines, newline_at_end):  # one file, rewritten
    data = "\n".join(lines).encode("utf-8") + (b"\n" if newline_at_end else b"")
    path = write(tmp_path, data)
    assert arena_scan.line_check(path) == reference_line_check(path)


def test_long_numbers_and_long_lines(tmp_path):
    ok = json.dumps({"n": int("9" * 4000), "t": "x" * 9000}).encode()
    too_long = b'{"n": ' + b"1" * 4301 + b"}"
    path = write(tmp_path, ok + b"\n" + ok + b"\n")
    assert arena_scan.line_check(path) == reference_line_check(path) == 2
    path = write(tmp_path, ok + b"\n" + too_long + b"\n")
    assert arena_scan.line_check(path) is None and reference_line_check(path) is None


def test_blocks_give_the_file_back_in_whole_lines(tmp_path):
    lines = [b"x" * n for n in (0, 1, 5, 17, 40, 3)]
    data = b"\n".join(lines)
    path = write(tmp_path, data)
    for size in (4, 7, 16, 100):  # lines longer than a block make it grow
        got = [b.tobytes() for b in line_scan.blocks(path, size=size)]
        assert b"".join(got) == data and all(g.endswith(b"\n") for g in got[:-1])


def test_many_suspect_lines_in_one_block(tmp_path):
    deep_ok = json.dumps([[[[1]]]] * 20).encode()  # 81 brackets: each line is a suspect, and valid
    path = write(tmp_path, b"\n".join([deep_ok] * 40))
    assert arena_scan.line_check(path) == reference_line_check(path) == 40


KEY_SETS = [("content",), ("response",), ("content", "response"), ("response", "respons")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINE_TEXT, max_size=8), st.sampled_from(KEY_SETS))
@example(['{"response": 5}'], ("response",))      # refused for openbmb's replies...
@example(['{"response": 5}'], ("content",))       # ...not where only contents are checked
@example(['{"content": "x", "response": 5}'], ("content", "response"))  # each key named is checked
@example(['{"respons": 5, "response": "x"}'], ("response",))  # a shorter key is another key
def test_the_keys_checked_are_the_ones_named(tmp_path, lines, keys):
    path = write(tmp_path, "\n".join(lines).encode("utf-8") + b"\n")
    assert arena_scan.line_check(path, keys) == reference_line_check(path, keys)
