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
def _string_byte(b, st, hexd):
    """One byte inside a string; False when it spells a printable ASCII character as an escape."""
    esc = st[ESCAPE]
    if esc == 1:
        st[ESCAPE] = 2 if b == 117 else 0  # 'u'
        return True
    if esc >= 2:
        if esc == 5:
            if hexd[b]:
                return False
        elif (esc < 4 and b == 48) or (esc == 4 and 50 <= b <= 55):
            st[ESCAPE] = esc + 1
            return True
        st[ESCAPE] = 0  # another escape: this byte is read as any other
    if b == 92:  # a backslash
        st[ESCAPE] = 1
    elif b == 34:  # the closing quote
        st[IN_STRING] = 0
    return True


@njit(cache=True, nogil=True)
def _scan(buf, n, st, space, hexd, max_depth, max_digits):
    """The bytes buf[:n], carrying on from the state `st` (updated in place)."""
    for j in range(n):
        b = buf[j]
        if b == 11 or b == 12:  # a vertical tab or form feed: DuckDB skips one between records, Python does not
            st[PHASE] = ODD
            return
        phase = st[PHASE]
        if phase != INSIDE:
            if space[b]:
                continue
            if phase == BEFORE and b == 91:  # '['
                st[PHASE] = INSIDE
                st[DEPTH] = 1
                continue
            st[PHASE] = ODD
            return
        if 48 <= b <= 57:
            st[DIGITS] += 1
            if st[DIGITS] > max_digits:
                st[PHASE] = ODD
                return
        else:
            st[DIGITS] = 0
        if st[IN_STRING]:
            if not _string_byte(b, st, hexd):
                st[PHASE] = ODD
                return
            continue
        if space[b]:
            continue
        if st[AFTER_COMMA]:  # DuckDB reads a trailing comma, [1,] or {"a": 1,}: Python does not
            st[AFTER_COMMA] = 0
            if b == 93 or b == 125:
                st[PHASE] = ODD
                return
        depth = st[DEPTH]
        if b == 34:
            st[IN_STRING] = 1
            st[ESCAPE] = 0
        elif b == 91 or b == 123:  # '[' or '{'
            st[DEPTH] = depth + 1
            if depth + 1 > max_depth:
                st[PHASE] = ODD
                return
        elif b == 93 or b == 125:  # ']' or '}'
            st[DEPTH] = depth - 1
            if depth == 1:
                st[PHASE] = AFTER if b == 93 else ODD
            continue
        elif b == 44:  # a comma: between the list's elements at its own level
            st[AFTER_COMMA] = 1
            if depth == 1:
                st[COMMAS] += 1
            continue
        if depth == 1:
            st[SEEN] = 1  # an element begins (or goes on) at the list's own level


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
