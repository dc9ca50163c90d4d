"""One compiled pass over a CSV file that says whether DuckDB's reading of it can be trusted to be
Python's (`files._csv`, the csv module's default dialect), and how many rows it has (issue 18).

It accepts only files that both readers must split alike: fields separated by `,`, quoted fields
in `"` with `""` for a quote, records ending in `\\n` or `\\r\\n`, and every record (the header
included) with the same number of fields. A file is refused ("odd") at the first of:
- a quote inside an unquoted field, or anything but `"`, `,` or the record's end after a closing
  quote (the csv module keeps those in the field, DuckDB's strict mode refuses them);
- a `\\r` that is not part of a record's `\\r\\n` (inside quotes too), records ending both ways
  in one file (DuckDB refuses that or reads it wrongly), or a NUL byte;
- a record with another number of fields than the header, or a quote left open at the end.

Blank lines after the header are skipped as `csv.DictReader` skips them; a blank line before the
header, a blank line in a file of one column and a header spanning lines (a quoted line break) are
odd too: there the two readers part (found by tests/ingest/formats/test_csv_scan.py). The caller compares the count with the
rows DuckDB read. The file is read in fixed blocks into one buffer, the parser's state carried
from one block to the next; numba compiles the loop on first use and it runs without the GIL.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

from .. import compressed

BLOCK = 8 << 20  # bytes read at a time

# states
_START, _UNQUOTED, _QUOTED, _QUOTE_IN_QUOTED, _AFTER_CR = 0, 1, 2, 3, 4
_ODD = -1


@njit(cache=True, nogil=True)
def _record_end(fields, content, expected, records):
    """(expected, records, odd) once a record ends: a blank line is skipped; the first record
    is the header and sets how many fields every other must have."""
    if not content:  # a blank line: DictReader skips it, but takes one before the header as the
        # header, and DuckDB reads it as a row of one NULL in a file of one column
        return expected, records, expected <= 1
    if expected < 0:
        return fields + 1, records, False
    if fields + 1 != expected:
        return expected, records, True
    return expected, records + 1, False


_ONES = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)
_QUOTES, _LFS, _CRS, _COMMAS = (_ONES * np.uint64(c) for c in (34, 10, 13, 44))  # the byte in every lane


@njit(cache=True, nogil=True)
def _has_zero_byte(v):
    return ((v - _ONES) & ~v & _HIGH) != 0


@njit(cache=True, nogil=True)
def _special(b, comma):
    return b == 34 or b == 10 or b == 13 or b == 0 or (comma and b == 44)


@njit(cache=True, nogil=True)
def _next_special(buf, words, j, n, comma):
    """The first index from j of a quote, line feed, carriage return or NUL (and of a comma when
    `comma`) in buf[:n], else n; eight bytes at a time (`words` is buf seen as 64-bit words)
    where it can."""
    while j < n and (j & 7) != 0:
        if _special(buf[j], comma):
            return j
        j += 1
    while j + 8 <= n:
        w = words[j >> 3]
        if (_has_zero_byte(w) or _has_zero_byte(w ^ _QUOTES) or _has_zero_byte(w ^ _LFS) or _has_zero_byte(w ^ _CRS)
                or (comma and _has_zero_byte(w ^ _COMMAS))):
            break
        j += 8
    while j < n:
        if _special(buf[j], comma):
            return j
        j += 1
    return n


@njit(cache=True, nogil=True)
def _scan(buf, words, n, state, fields, content, expected, records, ending):
    """Feed buf[:n] to the parser; returns its state after (state is _ODD once refused). `ending`
    is how records end: 0 not seen yet, 10 `\\n`, 13 `\\r\\n`."""
    j = -1
    while j + 1 < n:
        j += 1
        b = buf[j]
        if state == _QUOTED:  # most bytes: skip to the next quote, line feed, carriage return or NUL
            j = _next_special(buf, words, j, n, False)
            if j == n:
                break
            b = buf[j]
            if b == 34:  # '"': a doubled quote or the field's end
                state = _QUOTE_IN_QUOTED
            elif b == 13 or b == 0 or (b == 10 and expected < 0):  # DuckDB misreads a header spanning lines
                return _ODD, fields, content, expected, records, ending
            continue
        if b == 0:
            return _ODD, fields, content, expected, records, ending
        if state == _AFTER_CR and b != 10:
            return _ODD, fields, content, expected, records, ending
        if b == 10:  # '\n': the record ends
            kind = 13 if state == _AFTER_CR else 10
            if ending == 0:
                ending = kind
            elif kind != ending:
                return _ODD, fields, content, expected, records, ending
            expected, records, odd = _record_end(fields, content, expected, records)
            if odd:
                return _ODD, fields, content, expected, records, ending
            state, fields, content = _START, 0, False
        elif b == 13:  # '\r': must be followed by '\n'
            state = _AFTER_CR
        elif b == 44:  # ','
            fields += 1
            content = True
            state = _START
        elif b == 34:  # '"'
            if state == _START:
                state, content = _QUOTED, True
            elif state == _QUOTE_IN_QUOTED:
                state = _QUOTED
            else:
                return _ODD, fields, content, expected, records, ending
        elif state == _QUOTE_IN_QUOTED:
            return _ODD, fields, content, expected, records, ending
        else:  # an unquoted field's byte: skip to the next that matters, a comma or quote included
            state, content = _UNQUOTED, True
            j = _next_special(buf, words, j + 1, n, True) - 1
    return state, fields, content, expected, records, ending


def scan(path: Path, block: int = BLOCK) -> tuple[int, int] | None:
    """(header fields, rows after the header), or None when the file is odd (above)."""
    buf = np.empty(-(-block // 8) * 8, dtype=np.uint8)  # whole 64-bit words, of which `block` bytes are read
    words = buf.view(np.uint64)
    state, fields, content, expected, records, ending = _START, 0, False, -1, 0, 0
    try:
        with compressed.open_bytes(path) as f:  # a .gz file decompressed as it is read
            while got := f.readinto(memoryview(buf)[:block]):
                state, fields, content, expected, records, ending = _scan(buf, words, got, state, fields, content,
                                                                          expected, records, ending)
                if state == _ODD:
                    return None
    except compressed.ArchiveBroken:  # Python's reader says how far it got
        return None
    if state in (_QUOTED, _AFTER_CR):
        return None
    if content:  # a last record without its line ending
        expected, records, odd = _record_end(fields, content, expected, records)
        if odd:
            return None
    return (expected, records) if expected > 0 else None


__all__ = ["BLOCK", "scan"]
