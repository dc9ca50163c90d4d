"""Names people type and read: judges, sources, groups, prefixes, custom properties.

Two names that look the same must be the same name, and a name must show what it is.
So a name is normalised (Unicode NFKC, outer whitespace trimmed, inner runs of spaces
made one space) and refused when it still holds a character nobody can see or that
reorders text: format characters (category Cf: zero-width spaces and joiners, the
bidirectional controls U+202A-U+202E and U+2066-U+2069, the BOM), control characters
(Cc: tabs, newlines, escapes), line and paragraph separators, surrogates, private-use
and unassigned code points, and the default-ignorable fillers and variation selectors. Empty and over-long names are refused too. `human\\u200b`
is therefore refused, never taken for the judge `human`.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 100

_REFUSED_CATEGORIES = {
    "Cf": "an invisible formatting or text-direction character",
    "Cc": "a control character",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}

# Default-ignorable code points outside Cf (fillers, variation selectors): they show as nothing.
_INVISIBLE = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x2800, 0x3164, 0xFFA0,
              *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)}


def _refused(ch: str) -> str | None:
    """Why `ch` may not be in a name, or None."""
    if ord(ch) in _INVISIBLE:
        return "an invisible character"
    return _REFUSED_CATEGORIES.get(unicodedata.category(ch))


class NameRefused(ValueError):
    """The name cannot be used; the message (one line) says which character and where."""


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X}" + (f" {unicodedata.name(ch)}" if unicodedata.name(ch, "") else "")


def check_name(text, what: str = "name", *, max_chars: int = MAX_NAME_CHARS) -> str:
    """The normalised name, or NameRefused with one clear line."""
    if not isinstance(text, str):
        raise NameRefused(f"the {what} must be text")
    for i, ch in enumerate(text):   # before NFKC, which would hide some (a lone surrogate fails it)
        if (why := _refused(ch)) is not None:
            raise NameRefused(f"the {what} {ascii(text)} is refused: it contains {_describe(ch)}, "
                              f"{why}, at position {i + 1}; names may not contain "
                              "invisible, text-direction or control characters")
    name = re.sub(r" {2,}", " ", unicodedata.normalize("NFKC", text).strip())
    if not name:
        raise NameRefused(f"the {what} is empty" + (" (only spaces)" if text else ""))
    for i, ch in enumerate(name):   # NFKC can, rarely, produce what it did not get
        if _refused(ch) is not None:
            raise NameRefused(f"the {what} {ascii(text)} is refused: after normalising it contains "
                              f"{_describe(ch)} at position {i + 1}")
    if len(name) > max_chars:
        raise NameRefused(f"the {what} is {len(name)} characters long; the limit is {max_chars}")
    return name


def is_valid_name(text, what: str = "name") -> bool:
    try:
        check_name(text, what)
    except NameRefused:
        return False
    return True


def shown_path(path) -> str:
    """A file path as text that UTF-8 stores and terminals take: bytes of the file name that
    were not UTF-8 (Python holds them as lone surrogates) are shown as \\xff escapes."""
    text = str(path)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an undecodable byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
