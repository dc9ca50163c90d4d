"""Comments out of SQL text, read the way DuckDB's parser reads them.

DuckDB's tokenizer (1.5) skips comments without naming them, so a comment would ride along
inside the text of the token before it. This scanner finds them itself: `-- to the end of the
line` and `/* ... */` (nested, as the parser allows), but not inside 'strings' (with ''
escapes, and backslash escapes in E'...'), "quoted names" or $tag$ dollar-quoted $tag$ text.
"""

from __future__ import annotations

import re

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def _quoted_end(text: str, i: int, quote: str, backslash: bool) -> int:
    """The index just past the closing quote of the literal opened at text[i] (len(text) if none)."""
    j = i + 1
    while j < len(text):
        ch = text[j]
        if backslash and ch == "\\":
            j += 2
            continue
        if ch == quote:
            if j + 1 < len(text) and text[j + 1] == quote:  # a doubled quote stands for itself
                j += 2
                continue
            return j + 1
        j += 1
    return len(text)


def _block_end(text: str, i: int) -> int | None:
    """The index just past the */ closing the /* at text[i], nested ones counted; None if never closed."""
    depth, j = 0, i
    while j < len(text) - 1:
        pair = text[j:j + 2]
        if pair == "/*":
            depth, j = depth + 1, j + 2
        elif pair == "*/":
            depth, j = depth - 1, j + 2
            if depth == 0:
                return j
        else:
            j += 1
    return None


def blank_comments(text: str) -> tuple[str, bool]:
    """(the text with each comment replaced by one space, whether a /* comment is never closed)."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch, pair = text[i], text[i:i + 2]
        if pair == "--":
            end = text.find("\n", i)
            out.append(" ")
            i = n if end < 0 else end
        elif pair == "/*":
            end = _block_end(text, i)
            out.append(" ")
            if end is None:
                return "".join(out), True
            i = end
        elif ch in "'\"":
            escaped = ch == "'" and i > 0 and text[i - 1] in "eE" and (i < 2 or not (text[i - 2].isalnum()
                                                                                  or text[i - 2] == "_"))
            end = _quoted_end(text, i, ch, escaped)
            out.append(text[i:end])
            i = end
        elif ch == "$" and (m := _DOLLAR.match(text, i)) and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
            close = text.find(m.group(0), m.end())
            end = n if close < 0 else close + len(m.group(0))
            out.append(text[i:end])
            i = end
        else:
            out.append(ch)
            i += 1
    return "".join(out), False
