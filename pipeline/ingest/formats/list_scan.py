"""An independent count of the elements of a file holding one JSON list, for a scan that has
DuckDB read it (`read_json(format = 'array')`, issue 18), as one compiled pass over its bytes.

`line_scan` counts the lines of JSON lines; a list may be laid out any way (AlpacaEval's are
indented), so this pass follows its structure instead: strings (with their escapes), nesting,
and the commas between the list's elements. It also refuses, with None, what DuckDB may read
otherwise than `json_stream.json_list` does:
- anything but JSON's four spaces before the `[` or after the closing `]` (a byte-order mark,
  a second value, an object holding the list);
- a trailing comma (`[1,]`, `{"a": 1,}`), which DuckDB reads and Python refuses;
- a vertical tab or a form feed anywhere, which DuckDB skips between elements;
- an escape of a printable ASCII character (`\\u0020` to `\\u007f`), which a key could be
  spelled with;
- nesting past `max_depth`, or a run of more than `max_digits` digits (Python's reader refuses
  those: the file goes to it, to be refused with its line).

It does not check the JSON: DuckDB does, and any file it refuses goes to Python. The file (an
archive decompressed as it is read) comes in blocks, with the pass's state carried across
them, so memory stays bounded at any size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

from .. import compressed
from ..compressed import ArchiveBroken

BLOCK = 8 << 20
_SPACE = np.zeros(256, dtype=np.uint8)
_SPACE[[ord(c) for c in " \t\n\r"]] = 1
_HEX = np.zeros(256, dtype=np.uint8)
_HEX[[ord(c) for c in "0123456789abcdefABCDEF"]] = 1

# The pass's state, carried from block to block (one int64 array)
PHASE, DEPTH, IN_STRING, ESCAPE, DIGITS, COMMAS, SEEN, AFTER_COMMA = range(8)
BEFORE, INSIDE, AFTER, ODD = 0, 1, 2, 3      # PHASE: before the '[', inside the list, after its ']', refused
# ESCAPE: 0 none; 1 after a backslash; 2, 3, 4, 5 after \u, \u0, \u00, \u00 and a digit from 2 to 7


@njit(cache=True, nogil=True)
def _scan(buf, n, st, space, hexd, max_depth, max_digits):
    """The bytes buf[:n], carrying on from the state `st` (read first, written back at the end:
    kept in locals, the loop runs about ten times sooner than reading and writing `st` at every
    byte)."""
    phase, depth, in_string, escape = st[PHASE], st[DEPTH], st[IN_STRING], st[ESCAPE]
    digits, commas, seen, after_comma = st[DIGITS], st[COMMAS], st[SEEN], st[AFTER_COMMA]
    for j in range(n):
        b = buf[j]
        if b == 11 or b == 12:  # a vertical tab or form feed: DuckDB skips one between records, Python does not
            phase = ODD
            break
        if phase != INSIDE:
            if space[b]:
                continue
            if phase == BEFORE and b == 91:  # '['
                phase = INSIDE
                depth = 1
                continue
            phase = ODD
            break
        if 48 <= b <= 57:
            digits += 1
            if digits > max_digits:
                phase = ODD
                break
        else:
            digits = 0
        if in_string:  # one byte inside a string: odd when it spells a printable ASCII character as an escape
            if escape == 1:
                escape = 2 if b == 117 else 0  # 'u'
                continue
            if escape >= 2:
                if escape == 5:
                    if hexd[b]:
                        phase = ODD
                        break
                elif (escape < 4 and b == 48) or (escape == 4 and 50 <= b <= 55):
                    escape += 1
                    continue
                escape = 0  # another escape: this byte is read as any other
            if b == 92:  # a backslash
                escape = 1
            elif b == 34:  # the closing quote
                in_string = 0
            continue
        if space[b]:
            continue
        if after_comma:  # DuckDB reads a trailing comma, [1,] or {"a": 1,}: Python does not
            after_comma = 0
            if b == 93 or b == 125:
                phase = ODD
                break
        level = depth  # this byte's level: a bracket opens the next one
        if b == 34:
            in_string = 1
            escape = 0
        elif b == 91 or b == 123:  # '[' or '{'
            depth += 1
            if depth > max_depth:
                phase = ODD
                break
        elif b == 93 or b == 125:  # ']' or '}'
            depth -= 1
            if level == 1:
                phase = AFTER if b == 93 else ODD
            continue
        elif b == 44:  # a comma: between the list's elements at its own level
            after_comma = 1
            if level == 1:
                commas += 1
            continue
        if level == 1:
            seen = 1  # an element begins (or goes on) at the list's own level
    st[PHASE], st[DEPTH], st[IN_STRING], st[ESCAPE] = phase, depth, in_string, escape
    st[DIGITS], st[COMMAS], st[SEEN], st[AFTER_COMMA] = digits, commas, seen, after_comma


def count(path: Path, max_depth: int, max_digits: int) -> int | None:
    """The number of elements of the file's list, or None when it is not for DuckDB (above)."""
    st = np.zeros(8, dtype=np.int64)
    buf = np.empty(BLOCK, dtype=np.uint8)
    try:
        with compressed.open_bytes(path) as f:
            while got := f.readinto(memoryview(buf)):
                _scan(buf, got, st, _SPACE, _HEX, max_depth, max_digits)
                if st[PHASE] == ODD:
                    return None
    except ArchiveBroken:  # Python's reader says how far it got
        return None
    if st[PHASE] != AFTER:
        return None
    return int(st[COMMAS] + st[SEEN])


__all__ = ["count"]
