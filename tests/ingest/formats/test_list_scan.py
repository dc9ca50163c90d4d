"""The compiled pass over a JSON list (pipeline/ingest/formats/list_scan.py) counts what a plain
byte-by-byte reading of its rules counts, on generated lists, damaged ones too, cut into blocks
anywhere."""

import json

import pytest
from fuzzing import FAST
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline.ingest.formats import list_scan

SPACES = b" \t\n\r"
HEX = b"0123456789abcdefABCDEF"


# what may follow a backslash, position by position, to spell a printable ASCII character
_ESCAPED_ASCII = [b"u", b"0", b"0", b"234567", HEX]


def _string_byte(b: int, pending: bytes | None) -> tuple[bool, bytes | None, bool]:
    """One byte inside a string: (the string goes on, what follows its backslash so far or None,
    refused)."""
    if pending is not None:
        if pending == b"":  # the byte right after a backslash is the escape's, whatever it is
            return True, (b"u" if b == ord("u") else None), False
        candidate = pending + bytes([b])
        if all(c in _ESCAPED_ASCII[i] for i, c in enumerate(candidate)):
            return True, candidate, len(candidate) == len(_ESCAPED_ASCII)
        # not such an escape after all: this byte is read as any other
    if b == ord("\\"):
        return True, b"", False
    return b != ord('"'), None, False


def reference_count(data: bytes, max_depth: int, max_digits: int) -> int | None:
    """The list's elements, or None where list_scan's module docstring says it refuses the file."""
    before, inside, after = range(3)
    phase, depth, digits, commas, seen = before, 0, 0, 0, False
    in_string, pending, after_comma = False, None, False
    for b in data:
        if b in (11, 12):
            return None
        if phase != inside:
            if b in SPACES:
                continue
            if phase == before and b == ord("["):
                phase, depth = inside, 1
                continue
            return None
        digits = digits + 1 if ord("0") <= b <= ord("9") else 0
        if digits > max_digits:
            return None
        if in_string:
            in_string, pending, refused = _string_byte(b, pending)
            if refused:
                return None
            continue
        if b in SPACES:
            continue
        if after_comma:
            after_comma = False
            if b in b"]}":
                return None
        level = depth
        if b == ord('"'):
            in_string, pending = True, None
        elif b in b"[{":
            depth += 1
            if depth > max_depth:
                return None
        elif b in b"]}":
            depth -= 1
            if level == 1:
                if b == ord("}"):
                    return None
                phase = after
            continue
        elif b == ord(","):
            after_comma = True
            commas += level == 1
            continue
        if level == 1:
            seen = True
    return commas + seen if phase == after else None


def _scan_bytes(data: bytes, tmp_path, block: int, monkeypatch, max_depth: int = 4, max_digits: int = 5):
    path = tmp_path / "rows.json"
    path.write_bytes(data)
    monkeypatch.setattr(list_scan, "BLOCK", block)
    return list_scan.count(path, max_depth, max_digits)


VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**7, 10**7) | st.text(max_size=6),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                      max_leaves=8)
# Bytes that change how the pass reads a list, put in anywhere
DAMAGE = st.sampled_from([b",", b"\x0b", b"\\u0041", b"\\u007F", b"\\u001f", b"\\", b'"', b"[", b"]", b"{", b"}",
                          b"9999999", b" ", b"\n", b"\\\\u0041"])


@FAST
@given(rows=st.lists(VALUES, max_size=5), indent=st.sampled_from([None, 0, 2]),
       damage=st.lists(st.tuples(st.integers(0, 10**6), DAMAGE), max_size=2), block=st.integers(1, 9))
@example(rows=[{"a": 1}, {"b": [1, 2]}], indent=None, damage=[], block=4)  # an element opening with a bracket
def test_the_count_is_the_references(rows, indent, damage, block, tmp_path_factory):
    data = json.dumps(rows, indent=indent).encode()
    for at, piece in damage:
        at %= len(data) + 1
        data = data[:at] + piece + data[at:]
    expected = reference_count(data, 4, 5)
    tmp_path = tmp_path_factory.mktemp("list")
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _scan_bytes(data, tmp_path, block, monkeypatch) == expected
        assert _scan_bytes(data, tmp_path, 1 << 20, monkeypatch) == expected
