"""`arena_scan.line_check`'s pass over the raw lines of a JSON-lines file, as one compiled loop
(issue 18: in Python it took 4 to 5 s of a million-battle load, beside DuckDB's parse).

Per line (bytes up to a b"\\n"), it finds what `arena_scan` must know before it trusts DuckDB's
read of the file:
- whether the line is blank (only b" \\t\\n\\r\\x0b\\x0c", what `bytes.strip()` strips);
- a value that is not text or null for a key the caller names (a message's `"content"` unless
  told otherwise; openbmb's completions name `"response"`): the key in quotes, spaces, `:`,
  spaces, then a byte other than a space, `"` or `n` (the regular expression `arena_scan` used
  to search);
- an escape of a printable ASCII character (`\\u0020` to `\\u007f`), which a key could be
  spelled with;
- a comma followed, past spaces, by `}` or `]` outside strings: DuckDB reads such a trailing
  comma, Python's reader refuses the line;
- a vertical tab or a form feed anywhere: DuckDB skips one before or after a record, and
  Python's reader refuses it (in a string it is a raw control character both refuse);
- whether Python's reader might refuse the line: more than MAX_DEPTH brackets (`[` and `{`),
  or a run of more digits than Python converts. Those lines are only suspects: the caller
  parses them with `sources.loads` to know.

The file (a .gz one decompressed as it is read) comes in blocks of whole lines, so memory stays
bounded at any size; numba compiles the loop on first use (then from its disk cache) and it runs
without the GIL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numba import njit

from .. import compressed

BLOCK = 8 << 20              # bytes read at a time (a longer line makes its block longer)
_SPACE = np.zeros(256, dtype=np.uint8)
_SPACE[[ord(c) for c in " \t\n\r\x0b\x0c"]] = 1
KEYS = ("content",)         # the keys whose values must be text or null, unless the caller names others
_HEX = np.zeros(256, dtype=np.uint8)
_HEX[[ord(c) for c in "0123456789abcdefABCDEF"]] = 1
_KIND = np.zeros(256, dtype=np.uint8)  # 1 newline, 2 bracket, 3 quote, 4 backslash, 5 comma, 6 refused; 0 the rest
_KIND[10], _KIND[ord("[")], _KIND[ord("{")], _KIND[ord('"')], _KIND[ord("\\")], _KIND[ord(",")] = 1, 2, 2, 3, 4, 5
_KIND[[0x0B, 0x0C]] = 6  # DuckDB skips a vertical tab or form feed around a record; JSON has no such space


def _words(keys: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The keys in quotes, as bytes: one row each (padded), and each one's length."""
    quoted = [f'"{key}"'.encode() for key in keys]
    words = np.zeros((len(quoted), max(map(len, quoted))), dtype=np.uint8)
    for row, word in zip(words, quoted):
        row[:len(word)] = np.frombuffer(word, dtype=np.uint8)
    return words, np.array([len(w) for w in quoted], dtype=np.int64)


@njit(cache=True, nogil=True)
def _key_at(buf, j, n, word, length):
    """Does the quoted key `word` (its `length` bytes) start at j?"""
    if j + length > n or buf[j + length - 1] != 34:  # its closing quote first: most strings fail here
        return False
    for i in range(1, length - 1):
        if buf[j + i] != word[i]:
            return False
    return True


@njit(cache=True, nogil=True)
def _odd_value(buf, k, n, space):
    """At k ends a named key: is it followed by spaces, `:`, spaces and a byte other than a
    space, `"` or `n`, all on its line (a newline is a space that ends the line)?"""
    while k < n and space[buf[k]]:
        if buf[k] == 10:
            return False
        k += 1
    if k >= n or buf[k] != 58:  # ':'
        return False
    k += 1
    while k < n and space[buf[k]]:
        if buf[k] == 10:
            return False
        k += 1
    return k < n and buf[k] != 34 and buf[k] != 110  # '"', 'n'


@njit(cache=True, nogil=True)
def _escaped_ascii(buf, j, n, hexd):
    """At j (a backslash) starts `\\u00` + [2-7] + a hex digit? (None of those is a newline.)"""
    return (j + 5 < n and buf[j + 1] == 117 and buf[j + 2] == 48 and buf[j + 3] == 48
            and 50 <= buf[j + 4] <= 55 and hexd[buf[j + 5]] == 1)


@njit(cache=True, nogil=True)
def _blank(buf, start, end, space):
    for j in range(start, end):
        if not space[buf[j]]:
            return False
    return True


@njit(cache=True, nogil=True)
def _longest_digits(buf, start, end):
    longest = 0
    run = 0
    for j in range(start, end):
        if 48 <= buf[j] <= 57:
            run += 1
            longest = max(longest, run)
        else:
            run = 0
    return longest


@njit(cache=True, nogil=True)
def _trailing_comma(buf, j, n, space):
    """At j (a comma outside strings): do only spaces stand between it and a `}` or `]` on its line?"""
    k = j + 1
    while k < n and space[buf[k]] and buf[k] != 10:
        k += 1
    return k < n and (buf[k] == 125 or buf[k] == 93)


@njit(cache=True, nogil=True)
def _scan(buf, n, kind, space, words, lengths, hexd, max_brackets, max_digits, suspects):
    """Lines of buf[:n]: (non-blank lines, odd (1: a line `line_check` refuses outright),
    suspect lines written to `suspects` as (start, end) rows, how many). One lookup per byte:
    only newlines, brackets, quotes, backslashes and commas (`kind` > 0) are looked at further,
    a comma only outside strings."""
    rows = 0
    found = 0
    start = 0
    brackets = 0
    in_string = False
    j = 0
    while j < n:
        k = kind[buf[j]]
        if k == 0:
            j += 1
            continue
        if k == 1:  # the line ends here, with its newline (as `for line in file` gives it)
            found, rows = _line_done(buf, start, j + 1, brackets, space, max_brackets, max_digits,
                                     suspects, found, rows)
            start = j + 1
            brackets = 0
            in_string = False
        elif k == 2:
            brackets += 1
        elif k == 4:
            if _escaped_ascii(buf, j, n, hexd):
                return rows, 1, found
            if in_string and j + 1 < n and (buf[j + 1] == 34 or buf[j + 1] == 92):
                j += 1  # an escaped quote or backslash is text (any other byte is looked at as it comes)
        elif k == 3:
            if not in_string:
                for w in range(len(lengths)):
                    if _key_at(buf, j, n, words[w], lengths[w]) and _odd_value(buf, j + lengths[w], n, space):
                        return rows, 1, found
            in_string = not in_string
        elif k == 6:
            return rows, 1, found
        elif not in_string and _trailing_comma(buf, j, n, space):  # DuckDB reads {"a": 1,}: Python does not
            return rows, 1, found
        j += 1
    if start < n:  # a last line without its newline
        found, rows = _line_done(buf, start, n, brackets, space, max_brackets, max_digits, suspects, found, rows)
    return rows, 0, found


@njit(cache=True, nogil=True)
def _line_done(buf, start, end, brackets, space, max_brackets, max_digits, suspects, found, rows):
    if _blank(buf, start, end, space):
        return found, rows
    if brackets > max_brackets or (end - start > max_digits and _longest_digits(buf, start, end) > max_digits):
        if found < len(suspects):
            suspects[found, 0] = start
            suspects[found, 1] = end
        found += 1
    return found, rows + 1


@njit(cache=True, nogil=True)
def _after_last_newline(buf, lo, hi):
    for j in range(hi - 1, lo - 1, -1):
        if buf[j] == 10:
            return j + 1
    return 0


def blocks(path: Path, size: int = BLOCK) -> Iterator[np.ndarray]:
    """The file as blocks of whole lines (the last may lack its newline), read into one reused
    buffer: a block is valid until the next is asked for."""
    buf = np.empty(size, dtype=np.uint8)
    filled = 0  # bytes of an unfinished line at the buffer's start
    with compressed.open_bytes(path) as f:  # a .gz file decompressed as it is read
        while got := f.readinto(memoryview(buf)[filled:]):
            end = filled + got
            cut = _after_last_newline(buf, filled, end)
            if cut == 0 and end == len(buf):  # a line longer than the buffer: make room
                buf = np.concatenate([buf, np.empty(len(buf), dtype=np.uint8)])
            if cut:
                yield buf[:cut]
                buf[:end - cut] = buf[cut:end].copy()
            filled = end - cut
        if filled:
            yield buf[:filled]


def scan(path: Path, max_brackets: int, max_digits: int,
         keys: tuple[str, ...] = KEYS) -> Iterator[tuple[int, bool, list[bytes]]]:
    """Per block: (its non-blank lines, whether one is refused outright, its suspect lines' bytes).
    `keys`: those whose values must be text or null."""
    words, lengths = _words(keys)
    for block in blocks(path):
        suspects = np.zeros((16, 2), dtype=np.int64)
        while True:
            rows, odd, found = _scan(block, len(block), _KIND, _SPACE, words, lengths, _HEX, max_brackets, max_digits, suspects)
            if found <= len(suspects) or odd:
                break
            suspects = np.zeros((found, 2), dtype=np.int64)  # rare: scan the block again with room
        yield rows, bool(odd), [block[s:e].tobytes() for s, e in suspects[:min(found, len(suspects))]]
        if odd:
            return


__all__ = ["BLOCK", "KEYS", "blocks", "scan"]
