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


def scan(block: bytes, max_brackets: int) -> tuple[np.ndarray, np.ndarray]:
    """(where each line of `block` ends: the index of its newline, whether orjson may read it).
    `block` ends with a newline; every line in it is one of the arrays' entries."""
    data = np.frombuffer(block, dtype=np.uint8)
    return _scan(data, max_brackets, LONG_DIGITS, _DIGIT, _BRACKET, _NUL)


__all__ = ["LONG_DIGITS", "scan"]
