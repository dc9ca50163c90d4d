"""Which lines of a block of JSON lines orjson may read as json does, found in one compiled pass.

`decoding.json_lines` gives a line to orjson unless it holds what the two parsers read otherwise
or what our limits refuse: a NUL byte, a run of 19 digits or more (past 64 bits orjson gives a
float, json an int) or more than MAX_DEPTH brackets (orjson allows 1,024 levels). Asked with
bytes methods, line by line, those questions cost three passes and a copy of every line: about
as long as orjson's own parse on 100,000 release records. This loop asks them in one pass over a
block of lines, without the GIL.

numba compiles the loop on first use (then from its cache on disk); importing this module
imports numba, so `decoding` imports it when it first reads JSON lines.
"""

from __future__ import annotations

import numpy as np
from numba import njit

LONG_DIGITS = 19  # a run this long may be an integer orjson reads as a float


# 0/1 per byte value: one table lookup a byte, no branch but the (rare) end of a line
_DIGIT = np.zeros(256, dtype=np.int64)
_DIGIT[ord("0"):ord("9") + 1] = 1
_BRACKET = np.zeros(256, dtype=np.int64)
_BRACKET[[ord("["), ord("{")]] = 1
_NUL = np.zeros(256, dtype=np.int64)
_NUL[0] = 1


@njit(cache=True, nogil=True)
def _scan(data, max_brackets, long_digits, digit, bracket, nul):  # pragma: no cover - compiled
    n_lines = 0
    for j in range(len(data)):  # a vectorised pass (bytes.count took 0.6 ns a byte)
        n_lines += data[j] == 10
    ends = np.empty(n_lines, dtype=np.int64)
    clean = np.empty(n_lines, dtype=np.bool_)
    line = 0
    run = 0        # digits in a row, up to this byte
    longest = 0    # the line's longest run of digits so far
    brackets = 0
    nuls = 0
    for j in range(len(data)):
        b = data[j]
        run = (run + 1) * digit[b]
        longest = max(longest, run)
        brackets += bracket[b]
        nuls += nul[b]
        if b == 10:
            ends[line] = j
            clean[line] = longest < long_digits and brackets <= max_brackets and nuls == 0
            line += 1
            run = longest = brackets = nuls = 0
    return ends, clean


def scan(block: bytes, max_brackets: int, compiled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(where each line of `block` ends: the index of its newline, whether orjson may read it).
    `block` ends with a newline; every line in it is one of the arrays' entries. `compiled`
    False: the same answer from numpy's passes (`_scan_arrays`), for a file's first block."""
    data = np.frombuffer(block, dtype=np.uint8)
    if not compiled:
        return _scan_arrays(data, max_brackets, LONG_DIGITS)
    return _scan(data, max_brackets, LONG_DIGITS, _DIGIT, _BRACKET, _NUL)


def _scan_arrays(data: np.ndarray, max_brackets: int, long_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """`_scan` as a few numpy passes, without compiled code: a load reads a file's first block to
    tell its format, and numba's first call (0.25 s, loading the loop from its cache) need not
    come before the load can start; the next blocks, if any are read, take the compiled loop.
    Slower per byte, and only ever given one block."""
    newline = data == 10
    ends = np.flatnonzero(newline)
    line = np.cumsum(newline) - newline  # each byte's line: the newlines before it
    n_lines = len(ends)
    brackets = np.bincount(line, weights=_BRACKET[data], minlength=n_lines)[:n_lines]
    nuls = np.bincount(line, weights=_NUL[data], minlength=n_lines)[:n_lines]
    digit = _DIGIT[data].astype(bool)
    edges = np.diff(np.concatenate(([0], digit.view(np.int8), [0])))  # runs of digits: +1 at a start, -1 past its end
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = np.zeros(n_lines, dtype=np.int64)
    np.maximum.at(longest, line[starts], stops - starts)  # a run never crosses a newline
    return ends, (longest < long_digits) & (brackets <= max_brackets) & (nuls == 0)


__all__ = ["LONG_DIGITS", "scan"]
