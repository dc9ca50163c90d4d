"""Text of any input file, decoded as every reader decodes it, and JSON parsed with the limits
every reader keeps; whatever goes wrong is one `SourceError` line naming the file, the line and
(where it applies) the byte offset or field: bad encodings, binary files, broken archives,
invalid JSON, numbers too long for Python, nesting past MAX_DEPTH, lone surrogates.

`sources` (records), `json_stream` (a .json list element by element), `formats` (raw pairs) and
the annotation inputs read files through it.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from . import compressed
from .compressed import ArchiveBroken


class SourceError(ValueError):
    """A source that cannot be read: says which file and where."""


# --- text, whatever the file's encoding ------------------------------------------------------
# UTF-8 (with or without a BOM) is read as is; UTF-16 and UTF-32 with a BOM are decoded;
# anything else that is not UTF-8 (latin-1, binary) is refused naming the byte and offset.

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
MAX_DEPTH = 64            # nesting levels a record may have (ours have 4)


def encoding_of(head: bytes) -> str:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return "utf-8"


def not_text(path: Path, raw: bytes, start: int, offset: int, lineno: int | None) -> SourceError:
    line = f", line {lineno}" if lineno else ""
    byte = raw[start] if start < len(raw) else 0
    if byte == 0 or b"\x00" in raw[:4096]:
        return SourceError(f"{path}: not text: a NUL byte at byte offset {offset}{line}; this looks like a "
                           "binary file (give a UTF-8 JSON, JSONL or CSV file)")
    return SourceError(f"{path}: not UTF-8 text (byte 0x{byte:02X} at byte offset {offset}{line}); "
                       "save the file as UTF-8 (latin-1 and other encodings are not read)")


def broken(path, exc: ArchiveBroken, lines: int | None = None, nbytes: int | None = None) -> SourceError:
    """One line for an archive that stops: the file, what broke, how far it was read."""
    if lines is not None:
        far = f"after {lines:,} line{'s' if lines != 1 else ''}"
    else:
        far = f"after {nbytes or 0:,} bytes of content"
    return SourceError(f"{path}: {exc} {far}" + (" (truncated archive?)" if exc.truncated else ""))


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed where it is an archive (.gz, .bz2, .xz, .zst)."""
    return _read_all(Path(path), lambda: compressed.open_bytes(path))


def content_of(raw: bytes, name: str) -> bytes:
    """Uploaded bytes named `name`, decompressed where they are an archive (by name or first bytes)."""
    return _read_all(name, lambda: compressed.open_upload(raw, name))


def _read_all(path, opener) -> bytes:
    parts: list[bytes] = []
    done = 0
    try:
        with opener() as f:
            while block := f.read(1 << 20):
                parts.append(block)
                done += len(block)
    except ArchiveBroken as exc:
        raise broken(path, exc, nbytes=done) from None
    return b"".join(parts)


def read_text(path: Path) -> str:
    """The whole file as text (BOM dropped), or SourceError in one line."""
    return decode_bytes(read_bytes(path), path)


def decode_bytes(raw: bytes, path) -> str:
    """Bytes of a file (or an upload named `path`) as text, decoded as read_text does."""
    enc = encoding_of(raw[:4])
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError as exc:
        if enc != "utf-8" and enc != "utf-8-sig":
            raise SourceError(f"{path}: byte offset {exc.start}: not valid {enc.upper()} text "
                              "despite its byte-order mark") from None
        if b"\x00" in raw[:4096]:
            at = raw.index(b"\x00")
            raise not_text(path, raw, at, at, raw.count(b"\n", 0, at) + 1) from None
        lineno = raw.count(b"\n", 0, exc.start) + 1
        raise not_text(path, raw, exc.start, exc.start, lineno) from None
    if "\x00" in text:
        at = text.index("\x00")
        raise SourceError(f"{path}: not text: a NUL character at character {at}; this looks like a binary file")
    return text.removeprefix("\ufeff")


def text_lines(path: Path, keepends: bool = False) -> Iterator[tuple[int, str]]:
    """(line number, line) streamed, decoded as read_text does; one-line errors name line and offset.
    Archives (.gz, .bz2, .xz, .zst) are decompressed as they are read."""
    path = Path(path)
    for lineno, raw, offset in _lines(path):
        if isinstance(raw, str):  # a UTF-16 or UTF-32 file's line
            yield lineno, (raw + "\n" if keepends else raw.rstrip("\r"))
        else:
            line = _decoded(path, raw, offset, lineno)
            yield lineno, (line if keepends else line.rstrip("\r\n"))


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of every line of a JSON-lines file that is not blank, as `text_lines`
    and `loads` give them, with their errors. A line both parsers read alike (`line_guard`) is
    parsed by orjson (records parse in about half json's time); any other goes through `loads`."""
    path = Path(path)
    for lineno, raw, offset, fast in _guarded_lines(path):
        value = _NOT_FAST
        if fast:
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:  # invalid UTF-8 or JSON, a lone surrogate, NaN: json decides
                pass
        if value is _NOT_FAST:
            line = raw.rstrip("\r") if isinstance(raw, str) else _decoded(path, bytes(raw), offset, lineno).rstrip("\r\n")
            if not line.strip():
                continue
            value = loads(line, path, lineno)
        yield lineno, value


_BLOCK = 1 << 20  # bytes read at a time by `_guarded_lines` (tests make it small)
_FIRST_BLOCK = 1 << 16  # its first read: enough for the lines that tell a file's format


def _first_look(path: Path) -> str:
    """The file's encoding from its first bytes; a binary file is refused here, by its first NUL."""
    with compressed.open_bytes(path) as f:
        start = f.read(4096)
    enc = encoding_of(start[:4])
    if enc not in ("utf-16", "utf-32") and b"\x00" in start:  # say so, not "byte 0x89 is not UTF-8"
        at = start.index(b"\x00")
        raise not_text(path, start, at, at, start.count(b"\n", 0, at) + 1)
    return enc


@contextmanager
def _utf8_bytes(path: Path) -> Iterator[tuple[BinaryIO, int] | None]:
    """The file as a byte stream past its byte-order mark, with the mark's length (the first
    line's offset); None for a UTF-16 or UTF-32 file, which the readers decode whole (rare)."""
    enc = _first_look(path)
    if enc in ("utf-16", "utf-32"):
        yield None
        return
    with compressed.open_bytes(path) as f:
        offset = 3 if enc == "utf-8-sig" else 0
        f.read(offset)
        yield f, offset


def _wide_lines(path: Path) -> Iterator[tuple[int, str]]:
    """A UTF-16 or UTF-32 file's lines, decoded whole."""
    yield from enumerate(read_text(path).split("\n"), 1)


def _lines(path: Path) -> Iterator[tuple[int, bytes | str, int]]:
    """(line number, line, byte offset of the line) streamed: a UTF-8 file's lines as bytes, not
    decoded yet (`_decoded`), a UTF-16 or UTF-32 file's as text (it is decoded whole)."""
    lineno = 0
    try:
        with _utf8_bytes(path) as opened:
            if opened is None:
                for lineno, line in _wide_lines(path):
                    yield lineno, line, 0
                return
            f, offset = opened
            for lineno, raw in enumerate(f, 1):
                yield lineno, raw, offset
                offset += len(raw)
    except ArchiveBroken as exc:
        raise broken(path, exc, lines=lineno) from None


def _guarded_lines(path: Path) -> Iterator[tuple[int, bytes | memoryview | str, int, bool]]:
    """`_lines` read a block at a time, each line with whether orjson may read it (`line_guard`,
    one compiled pass over the block instead of three bytes methods and a copy a line)."""
    from . import line_guard  # noqa: PLC0415 - imports numba: only where JSON lines are read

    lineno = 0
    try:
        with _utf8_bytes(path) as opened:
            if opened is None:
                for lineno, line in _wide_lines(path):
                    yield lineno, line, 0, False
                return
            f, offset = opened
            pending: list[bytes] = []  # the start of a line the blocks so far have not ended
            first = True  # read to tell the file's format, often alone: a short read, numpy's passes (`line_guard`)
            while True:
                block = f.read(min(_FIRST_BLOCK, _BLOCK) if first and not pending else _BLOCK)
                cut = block.rfind(b"\n") + 1
                if block and not cut:
                    pending.append(block)
                    continue
                if not block and not pending:
                    return
                body = b"".join([*pending, block[:cut]]) if block else b"".join(pending) + b"\n"
                pending = [block[cut:]] if cut < len(block) else []
                ends, fast = line_guard.scan(body, MAX_DEPTH, compiled=not first or len(body) > _BLOCK)
                first = False
                view, begin = memoryview(body), 0
                for end, ok in zip(ends.tolist(), fast.tolist()):
                    lineno += 1
                    # the last line of a file without a final newline: as it is, without the one added
                    yield lineno, view[begin:end + (1 if block else 0)], offset + begin, ok
                    begin = end + 1
                offset += len(body)
                if not block:
                    return
    except ArchiveBroken as exc:
        raise broken(path, exc, lines=lineno) from None


def _decoded(path: Path, raw: bytes, offset: int, lineno: int) -> str:
    """A line's bytes as text, or the one-line error naming the byte that is not UTF-8 or is NUL."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_text(path, raw, exc.start, offset + exc.start, lineno) from None
    if "\x00" in line:
        raise not_text(path, raw, raw.index(b"\x00"), offset + raw.index(b"\x00"), lineno)
    return line


# --- JSON: orjson where it reads a line as json does, json (and its messages) elsewhere -------

_NOT_FAST = object()


def _bad_string(obj: Any, where: str = "", depth: int = 0) -> tuple[str, str] | None:
    """(field path, problem) of the first string that is not valid Unicode or the first level
    nested past MAX_DEPTH; None when the value is clean. Iterative: any depth is safe. `where`
    and `depth`: the value's place in its document (a list's element is '[i]', one level deep)."""
    stack: list[tuple[Any, str, int]] = [(obj, where, depth)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            return where or "(record)", f"nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                return where or "(value)", (f"holds a lone surrogate \\u{ord(value[exc.start]):04x} at character "
                                            f"{exc.start}, which is not valid Unicode")
        elif isinstance(value, dict):
            for k, v in value.items():
                key = str(k)
                if not encodes(key):
                    return f"{where}.{ascii(key)}".lstrip("."), "has a key with a lone surrogate"
                stack.append((v, f"{where}.{key}".lstrip("."), depth + 1))
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
    return None


def encodes(text: str) -> bool:
    """Whether the text is valid Unicode (no lone surrogate), so UTF-8 can hold it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loads(text: str, path: Path, lineno: int | None = None) -> Any:
    """json.loads with every failure as one SourceError naming the file (and line)."""
    where = f"{path}: line {lineno}" if lineno else f"{path}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if lineno else f"line {exc.lineno}, column {exc.colno}"
        raise SourceError(f"{where}: not valid JSON at {at} ({exc.msg})") from None
    except RecursionError:
        raise SourceError(f"{where}: JSON nested too deeply to read (more than {MAX_DEPTH} levels is refused)") from None
    except ValueError as exc:  # an integer past Python's 4,300-digit conversion limit
        raise SourceError(f"{where}: a number in it is too long to read ({str(exc).split(';')[0]})") from None
    check_strings(value, text, where)
    return value


def check_strings(value: Any, text: str, where: str, field: str = "", depth: int = 0) -> None:
    """SourceError when a string of `value` (parsed from `text`) is not valid Unicode or it nests
    past MAX_DEPTH. Only a \\u escape can make a lone surrogate, and only many brackets deep
    nesting: the walk is done only then."""
    if "\\u" in text or text.count("[") + text.count("{") > MAX_DEPTH:
        bad = _bad_string(value, field, depth)
        if bad is not None:
            name = bad[0] if len(bad[0]) <= 80 else bad[0][:38] + "..." + bad[0][-38:]
            raise SourceError(f"{where}, field '{name}': {bad[1]}")
