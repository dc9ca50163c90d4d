"""The three costliest measures, `tokens`, `words` and `list_items`, counted by compiled loops
over the bytes of ASCII texts (issue 18: at a million battles the regular expressions took two
thirds of the measuring time, ~40 ns a match; list items, the costliest regular expression
without a literal to gate it, was a fifth of the rest). Two passes a text: the tokens (a loop
the compiler vectorises), then the words, with each line's list-item test where that pass
meets its newline (a third pass over the lines cost 8% of the counting).

It is an accelerator, not a second definition: on a text of ASCII characters it gives exactly
what the regular expressions give (style.TOKEN_RE, measures.WORD_RE and style.LIST_ITEM_RE, as
polars runs them; tests/properties/test_ascii_counts.py compares them on generated texts), and
for a text with any other character it answers -1, so the caller counts that text with the
regular expression. On ASCII, Rust's Unicode classes reduce to: `\\w` = [0-9A-Za-z_], `\\s` =
[\\t\\n\\v\\f\\r ], `\\d` = [0-9].

numba compiles the loop on first use (about a second, then from its cache on disk); importing
this module imports numba (~0.5 s), so `measures` imports it when it first measures.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
from numba import njit

_jit = njit(cache=True, nogil=True)  # compiled at first call, then loaded from numba's disk cache

# Byte classes of ASCII (index: the byte); a text with a byte >= 128 is not counted here, so those
# entries are never read (they are OTHER, to keep every index in range).
SPACE, WORD, SPLIT, COLON_COMMA, DOT, APOSTROPHE, OTHER = range(7)
_CLASS = np.full(256, OTHER, dtype=np.uint8)
_CLASS[[ord(c) for c in "\t\n\x0b\x0c\r "]] = SPACE
_CLASS[[ord(c) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"]] = WORD
_CLASS[[ord(c) for c in ";@#$%&?!*[](){}<>\"`"]] = SPLIT  # measures._SPLIT's ASCII characters
_CLASS[[ord(":"), ord(",")]] = COLON_COMMA
_CLASS[ord(".")] = DOT
_CLASS[ord("'")] = APOSTROPHE
# One 0/1 table per question the loops ask of every byte: a table lookup, no branch
_IS_WORD = (_CLASS == WORD).astype(np.uint8)
_NOT_SPACE = (_CLASS != SPACE).astype(np.uint8)
_IS_CHUNK = ((_CLASS == WORD) | (_CLASS == OTHER)).astype(np.uint8)  # WORD_RE's _CHUNK


@_jit
def _tokens(data, start, end, is_word, not_space):
    """TOKEN_RE's matches: a run of word characters (counted at its first), or one other
    non-space character; -1 when a byte is not ASCII (the same pass finds out)."""
    count = 0
    prev = 0
    seen = 0
    for j in range(start, end):  # no early exit: the loop is vectorised
        b = data[j]
        seen |= b
        w = is_word[b]
        count += (w > prev) + (not_space[b] > w)
        prev = w
    return count if seen < 128 else -1


@_jit
def _lower(b):
    return b | 32 if 65 <= b <= 90 else b


@_jit
def _clitic(data, j, end, is_word):
    """The length of `'(?i:[smdt]|ll|re|ve)\\b` at j (an apostrophe), or 0."""
    if j + 1 < end:
        a = _lower(data[j + 1])
        if a == 115 or a == 109 or a == 100 or a == 116:  # s m d t
            if j + 2 >= end or not is_word[data[j + 2]]:
                return 2
        if j + 2 < end:
            b = _lower(data[j + 2])
            if (a == 108 and b == 108) or (a == 114 and b == 101) or (a == 118 and b == 101):  # ll re ve
                if j + 3 >= end or not is_word[data[j + 3]]:
                    return 3
    return 0


@_jit
def _words_and_items(data, start, end, cls, is_word, is_chunk, not_space):
    """(WORD_RE's matches, taking its alternatives in order at each position (leftmost first);
    LIST_ITEM_RE's matches, tested at the text's start and after each newline this pass meets:
    a newline is a space, so no match of WORD_RE passes over one)."""
    count = 0
    items = _list_item_at(data, start, end, not_space)
    j = start
    while j < end:
        b = data[j]
        c = cls[b]
        if c == SPACE:
            j += 1
            if b == 10:
                items += _list_item_at(data, j, end, not_space)
            continue
        count += 1
        if is_chunk[b] and not (b == 45 and j + 1 < end and data[j + 1] == 45):
            # CHUNK+ ([:,]\d CHUNK* | \. CHUNK+)*  (most matches: tested first, as no earlier
            # alternative but `--` starts with a chunk character)
            j += 1
            while j < end and is_chunk[data[j]]:
                j += 1
            while j + 1 < end:
                d, nxt = cls[data[j]], data[j + 1]
                if d == COLON_COMMA and 48 <= nxt <= 57:
                    j += 2
                elif d == DOT and is_chunk[nxt]:
                    j += 1
                else:
                    break
                while j < end and is_chunk[data[j]]:
                    j += 1
        elif c == DOT:                                 # \.{2,} or \.
            j += 1
            while j < end and data[j] == 46:
                j += 1
        elif b == 45:                                  # --
            j += 2
        elif b == 96:                                  # `+
            while j < end and data[j] == 96:
                j += 1
        elif c == APOSTROPHE:                          # a clitic, or ' alone
            n = _clitic(data, j, end, is_word)
            j += n if n else 1
        else:                                          # [SPLIT] | [:,]
            j += 1
    return count, items


@_jit
def _blank(b):
    return b == 32 or b == 9  # `[ \t]`


@_jit
def _list_item_at(data, j, end, not_space):
    """Whether the line starting at j matches LIST_ITEM_RE (`^` there): blanks, then '-', '*',
    '+', or one to three digits and '.' or ')', then at least one blank, then a character that
    is not white space. No alternative can start on a blank, so the greedy reading is the only
    one: one test per line."""
    k = j
    while k < end and _blank(data[k]):
        k += 1
    after = 0  # where the marker ends, 0: no marker
    if k < end:
        b = data[k]
        if b == 45 or b == 42 or b == 43:  # - * +
            after = k + 1
        else:
            d = k
            while d < end and d - k < 3 and 48 <= data[d] <= 57:
                d += 1
            if d > k and d < end and (data[d] == 46 or data[d] == 41):  # . )
                after = d + 1
    if not after:
        return 0
    m = after
    while m < end and _blank(data[m]):
        m += 1
    return 1 if m > after and m < end and not_space[data[m]] else 0


@_jit
def _count_all(data, offsets, cls, is_word, not_space, is_chunk, tokens, words, list_items):
    """Per text i (bytes offsets[i] to offsets[i+1]): its counts, or -1 when not ASCII."""
    for i in range(len(offsets) - 1):
        start, end = offsets[i], offsets[i + 1]
        tokens[i] = _tokens(data, start, end, is_word, not_space)
        if tokens[i] >= 0:
            words[i], list_items[i] = _words_and_items(data, start, end, cls, is_word, is_chunk, not_space)
        else:
            words[i] = -1
            list_items[i] = -1


MEASURES = ("tokens", "words", "list_items")  # what `counts` gives, in this order


def counts(texts: pl.Series | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tokens, words, list_items) of each text as Int64 arrays (MEASURES); -1 for a text with a
    non-ASCII character (and for a null). The GIL is released while counting. Arrow strings
    (a loader's batch) are read in place: a polars Series is copied into Arrow first."""
    arr = _arrow_strings(texts)
    n = len(arr)
    tokens, words, list_items = (np.full(n, -1, dtype=np.int64) for _ in MEASURES)
    if n == 0:
        return tokens, words, list_items
    _, offsets_buf, data_buf = arr.buffers()
    wide = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=wide)[arr.offset: arr.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    _count_all(data, offsets, _CLASS, _IS_WORD, _NOT_SPACE, _IS_CHUNK, tokens, words, list_items)
    if arr.null_count:
        nulls = np.asarray(arr.is_null())
        for counted in (tokens, words, list_items):
            counted[nulls] = -1
    return tokens, words, list_items


def _arrow_strings(texts: pl.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """The texts as one Arrow string or large-string array (offsets and bytes, as the loop reads them)."""
    arr = texts.cast(pl.String).to_arrow() if isinstance(texts, pl.Series) else texts
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.large_string())
    return arr


__all__ = ["MEASURES", "counts"]
