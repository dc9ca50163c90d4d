"""A .json file read as a stream: one JSON list element by element, or JSON lines named .json
line by line (`json_shape` says which), so a file of a million records never sits in memory.

json.loads of a whole file holds its text and every record at once (a million battles: several
GB). Here the list's elements are parsed one at a time by Python's own decoder, so they are the
values, and the errors the messages (line and column in the whole file), that json.loads gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import compressed
from .compressed import ArchiveBroken
from .decoding import (
    MAX_DEPTH,
    SourceError,
    broken,
    check_strings,
    encoding_of,
    not_text,
)

TEXT_CHUNK = 1 << 20      # characters decoded at a time
_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"       # what JSON allows between values
_NEAR_END = 32            # a decoding error this near the text read so far may only mean "read on"
FIRST_LINE_LIMIT = 64 << 20  # characters: a first value longer than this is no JSON line (an object holding the rows)


def json_shape(path: Path) -> str | None:
    """How a UTF-8 .json file (BOM or not; an archive decompressed as it is read) is streamed:
    'list' when its value is one JSON list (read element by element), 'lines' when it holds JSON
    lines (as many datasets' .json files do: a first object, then a newline and another); None
    for anything else (an object holding a list, UTF-16, a binary file), which `read_text` reads
    and judges whole."""
    start = _utf8_start(Path(path))
    if start is None:
        return None
    skip, first = start
    if first == b"[":
        return "list"
    if first == b"{" and _JsonText(Path(path), skip).lines_follow():
        return "lines"
    return None


def json_list(path: Path) -> Iterator[Any] | None:
    """The elements of a file whose JSON value is one list (`json_shape`), streamed; else None."""
    start = _utf8_start(Path(path))
    if start is None or start[1] != b"[":
        return None
    return _JsonText(Path(path), start[0]).elements()


def object_rows(path: Path, keys: tuple[str, ...], *, in_file_order: bool = False) -> tuple[dict, Iterator[Any]] | None:
    """For a file whose value is one object holding its rows in a list (Feedback Forensics'
    `comparisons`): (the object, each list in it left empty; the elements of the first of `keys`
    holding a list, streamed), as json.loads would give them, the last of a repeated key winning.
    `in_file_order`: the first such key in the object's order (a dict's: where the key first
    stands) rather than in the order of `keys`.
    None when the file is not such an object or is not valid JSON: the caller reads it whole,
    and names the error as json.loads does.

    Two passes, each a stream: the first reads the whole object (every list's elements parsed
    and dropped) to know its other members and which list holds the rows, wherever they stand;
    the second gives that list's elements."""
    start = _utf8_start(Path(path))
    if start is None or start[1] != b"{":
        return None
    context: dict = {}
    lists: dict[str, int] = {}  # key -> the member holding a list under it (the last one)
    try:
        for n, key, value in _JsonText(Path(path), start[0]).members():
            if isinstance(value, _Elements):
                for _ in value:
                    pass
                context[key], lists[key] = [], n
            else:
                context[key] = value
                lists.pop(key, None)
    except (SourceError, _TooLong):
        return None
    order = [k for k in context if k in keys] if in_file_order else keys  # a dict keeps a key's first place
    chosen = next((lists[k] for k in order if k in lists), None)
    if chosen is None:
        return None
    return context, _member_elements(Path(path), start[0], chosen)


def _member_elements(path: Path, skip: int, member: int) -> Iterator[Any]:
    for n, _, value in _JsonText(path, skip).members():
        if n == member:
            yield from value


def _utf8_start(path: Path) -> tuple[int, bytes] | None:
    """(bytes to skip: a BOM, the first byte after JSON's spaces) of a file plain UTF-8 at its
    start; None for UTF-16 or -32, a NUL, a broken archive, or spaces past its first 4 KB."""
    try:
        with compressed.open_bytes(path) as f:
            head = f.read(4096)
    except ArchiveBroken:
        return None  # read whole, that error named as before
    enc = encoding_of(head[:4])
    skip = 3 if enc == "utf-8-sig" else 0
    rest = head[skip:].lstrip(b" \t\n\r")
    if enc not in ("utf-8", "utf-8-sig") or b"\x00" in head or not rest:
        return None
    return skip, rest[:1]


class _TooLong(Exception):
    """A value longer than the reader's limit."""


class _JsonText:
    """A JSON file's text, decoded a chunk at a time, and a cursor over it."""

    def __init__(self, path: Path, skip: int):
        self.path = path
        self.chunks = _text_chunks(path, skip)
        self.buf, self.pos, self.eof = "", 0, False
        self.lines_before, self.column_before = 0, 0  # newlines, and characters since the last, in text dropped
        self.limit = float("inf")  # characters one value may hold

    def lines_follow(self) -> bool:
        """The text starts with a JSON value, then spaces with a newline, then `{`: JSON lines
        (json.loads of the whole text would fail, and `read_text`'s reader would read it as such).
        A first value past FIRST_LINE_LIMIT is not parsed twice: the file is read whole."""
        self._skip_space()
        self.limit = FIRST_LINE_LIMIT
        try:
            self._element("[0]", 1)
        except (SourceError, _TooLong):
            return False
        newline = self._skip_space()
        return newline and not self._at_end() and self.buf[self.pos] == "{"

    def elements(self) -> Iterator[Any]:
        """The elements of the file's one list, then nothing but spaces."""
        self._skip_space()
        yield from _Elements(self, "", 1)
        self._skip_space()
        if not self._at_end():
            self._fail("Extra data", self.pos)

    def members(self) -> Iterator[tuple[int, str, Any]]:
        """(place, key, value) of each member of the file's one object, then nothing but spaces. A
        list value is given as its `_Elements`, read as the caller reads them (the rest is read
        before the next member)."""
        self._skip_space()
        if self._opened("}"):  # the '{' object_rows saw
            n = 0
            while True:
                self._skip_space()
                if self._at_end() or self.buf[self.pos] != '"':
                    self._fail("Expecting property name enclosed in double quotes", self.pos)
                key = self._element("", 1)
                self._skip_space()
                if self._at_end() or self.buf[self.pos] != ":":
                    self._fail("Expecting ':' delimiter", self.pos)
                self.pos += 1
                self._value_next()
                if self.buf[self.pos] == "[":
                    items = _Elements(self, key, 2)
                    yield n, key, items
                    for _ in items:  # what the caller left
                        pass
                else:
                    yield n, key, self._element(key, 1)
                n += 1
                if self._closed("}"):
                    break
        self._skip_space()
        if not self._at_end():
            self._fail("Extra data", self.pos)

    def _element(self, field: str, depth: int) -> Any:
        """The value at the cursor, its strings checked as `field` (nested `depth` deep)."""
        start = self.pos
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, start)
                if self.eof or len(self.buf) - end > _NEAR_END:  # a number cut at '10.' may go on
                    break
            except json.JSONDecodeError as exc:
                if self.eof or (exc.pos < len(self.buf) - _NEAR_END and not exc.msg.startswith("Unterminated")):
                    self._fail(exc.msg, exc.pos)
            except RecursionError:
                raise SourceError(f"{self.path}: JSON nested too deeply to read (more than {MAX_DEPTH} levels "
                                  "is refused)") from None
            except ValueError as exc:  # an integer past Python's 4,300-digit conversion limit
                why = str(exc).split(";")[0]
                raise SourceError(f"{self.path}: a number in it is too long to read ({why})") from None
            start = self._read_more(start)
        check_strings(value, self.buf[start:end], str(self.path), field, depth)
        self.pos = end
        return value

    def _opened(self, close: str) -> bool:
        """Past the '[' or '{' at the cursor and the spaces after it: False, and past `close` too,
        when the list or object is empty."""
        self.pos += 1
        self._skip_space()
        if not self._at_end() and self.buf[self.pos] == close:
            self.pos += 1
            return False
        return True

    def _value_next(self) -> None:
        """Past spaces to a value, or the error json.loads gives where one is missing."""
        self._skip_space()
        if self._at_end():
            self._fail("Expecting value", self.pos)

    def _closed(self, close: str) -> bool:
        """Past the spaces and the ',' or `close` after an element or member: whether it was `close`."""
        self._skip_space()
        if self._at_end() or self.buf[self.pos] not in "," + close:
            self._fail("Expecting ',' delimiter", self.pos)
        self.pos += 1
        return self.buf[self.pos - 1] == close

    def _skip_space(self) -> bool:
        """Past JSON's spaces; whether a newline was among them."""
        newline = False
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _SPACE:
                newline = newline or self.buf[self.pos] == "\n"
                self.pos += 1
            if self.pos < len(self.buf) or self.eof:
                return newline
            self._read_more(self.pos)

    def _at_end(self) -> bool:
        return self.pos >= len(self.buf) and self.eof

    def _read_more(self, keep: int) -> int:
        """Drop the text before `keep`, read at least as much again as is kept (a long element is
        parsed a bounded number of times); `keep`'s new place."""
        dropped = self.buf[:keep]
        newline = dropped.rfind("\n")
        if newline < 0:
            self.column_before += len(dropped)
        else:
            self.lines_before += dropped.count("\n")
            self.column_before = len(dropped) - newline - 1
        if len(self.buf) - keep > self.limit:
            raise _TooLong
        parts, wanted = [self.buf[keep:]], max(TEXT_CHUNK, len(self.buf) - keep)
        self.pos -= keep
        got = 0
        while got < wanted:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.eof = True
                break
            parts.append(chunk)
            got += len(chunk)
        self.buf = "".join(parts)
        return 0

    def _fail(self, message: str, at: int) -> None:
        """SourceError as json.loads's error at `at` would name it, in the whole file's lines."""
        newline = self.buf.rfind("\n", 0, at)
        line = self.lines_before + self.buf.count("\n", 0, at) + 1
        column = at - newline if newline >= 0 else self.column_before + at + 1
        raise SourceError(f"{self.path}: not valid JSON at line {line}, column {column} ({message})")


class _Elements:
    """The elements of the list at a `_JsonText`'s cursor (its '['), read one at a time; the
    cursor ends past its ']'. `field` names it in errors (`comparisons[3]`), `depth` deep."""

    def __init__(self, text: _JsonText, field: str, depth: int):
        self._items = self._read(text, field, depth)

    def __iter__(self) -> Iterator[Any]:
        return self._items

    @staticmethod
    def _read(text: _JsonText, field: str, depth: int) -> Iterator[Any]:
        if not text._opened("]"):
            return
        index = 0
        while True:
            text._value_next()
            yield text._element(f"{field}[{index}]", depth)
            index += 1
            if text._closed("]"):
                return


def _text_chunks(path: Path, skip: int) -> Iterator[str]:
    """The file's text after `skip` bytes, a chunk at a time, refused as `read_text` refuses it
    (not UTF-8, a NUL, a broken archive), naming the byte offset or character and line."""
    done, lines, chars, carry = skip, 0, 0, b""
    try:
        with compressed.open_bytes(path) as f:
            f.read(skip)
            while True:
                block = f.read(TEXT_CHUNK)
                raw = carry + block
                if not raw:
                    return
                try:
                    text, carry = raw.decode("utf-8"), b""
                except UnicodeDecodeError as exc:
                    if not (block and exc.reason == "unexpected end of data" and exc.end == len(raw)):
                        raise not_text(path, raw, exc.start, done + exc.start,
                                        lines + raw.count(b"\n", 0, exc.start) + 1) from None
                    text, carry = raw[:exc.start].decode("utf-8"), raw[exc.start:]  # a character cut in two
                if "\x00" in text:
                    raise SourceError(f"{path}: not text: a NUL character at character {chars + text.index(chr(0))}; "
                                      "this looks like a binary file")
                done += len(raw) - len(carry)
                lines += raw.count(b"\n") - carry.count(b"\n")
                chars += len(text)
                yield text
    except ArchiveBroken as exc:
        raise broken(path, exc, nbytes=done) from None
