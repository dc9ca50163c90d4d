"""Inputs as published: `.gz`, `.bz2`, `.xz` and `.zst` files, read as a stream.

`open_bytes(path)` gives a binary stream of a file's content, decompressed where the file is
compressed: by its suffix, or by its first bytes for gzip, xz and zstd (whose magic numbers are
not text). The stream is decompressed as it is read, so memory stays bounded whatever the
archive's size. Concatenated archives (several gzip members, bzip2 streams, xz streams or zstd
frames) are read whole, as their command-line tools read them.

A truncated or corrupt archive raises `ArchiveBroken` while it is read; the readers in
sources.py turn it into one line saying how far the file was read.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from pathlib import Path
from typing import BinaryIO

CODECS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}
# Magic numbers that no UTF-8, UTF-16 or UTF-32 text starts with; bzip2's "BZh" could be text.
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))
_ALL_MAGIC = (*_MAGIC, (b"BZh", "bzip2"))
_CHUNK = 1 << 16


class ArchiveBroken(Exception):
    """The archive cannot be read further: `codec` ('gzip'...), `problem` ('ends early'...)."""

    def __init__(self, codec: str, problem: str, truncated: bool):
        super().__init__(f"the {codec} stream {problem}")
        self.codec, self.problem, self.truncated = codec, problem, truncated


def codec_of_name(name: str) -> str | None:
    """'gzip', 'bzip2', 'xz' or 'zstd' from a file name's last suffix; None when it has none."""
    return CODECS.get(Path(name).suffix.lower())


def data_suffix(name: str | Path) -> str:
    """The suffix that says what the content is: '.jsonl' for both hh.jsonl and hh.jsonl.gz."""
    path = Path(name)
    if path.suffix.lower() in CODECS:
        path = path.with_suffix("")
    return path.suffix.lower()


def sniff(head: bytes) -> str | None:
    """The codec whose magic number `head` starts with (gzip, xz, zstd), else None."""
    return next((codec for magic, codec in _MAGIC if head.startswith(magic)), None)


def _zstd_module():
    try:
        import zstandard
    except ImportError:  # pragma: no cover - a dependency
        raise ArchiveBroken("zstd", "cannot be read: the zstandard package is not installed", False) from None
    return zstandard


class _Zstd:
    """zstd frames one after another. zstandard's stream_reader ends a cut-off frame in silence,
    so frames are decoded here, and a frame still open at the end of the file is reported."""

    def __init__(self, raw: BinaryIO):
        self._zstd = _zstd_module()
        self._raw, self._obj, self._out, self._at, self._open = raw, None, b"", 0, False

    def read(self, n: int) -> bytes:
        while self._at >= len(self._out):
            # At most 128 KiB comes out of 4 bytes (an RLE block): small input chunks bound the output
            chunk = self._raw.read(256)
            if not chunk:
                if self._open:
                    raise EOFError("zstd frame not finished")
                return b""
            self._out, self._at = b"", 0
            self._feed(chunk)
        out = self._out[self._at:self._at + n]   # an offset, not a slice of the rest: no copying
        self._at += len(out)
        return out

    def _feed(self, chunk: bytes) -> None:
        while chunk:
            if self._obj is None:
                self._obj = self._zstd.ZstdDecompressor().decompressobj()
            self._open = True
            self._out += self._obj.decompress(chunk)
            if not self._obj.eof:
                return
            chunk, self._obj, self._open = self._obj.unused_data, None, False

    def close(self) -> None:
        self._raw.close()


def _opened(codec: str, raw: BinaryIO):
    if codec == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if codec == "bzip2":
        return bz2.BZ2File(raw, mode="rb")
    if codec == "xz":
        return lzma.LZMAFile(raw, mode="rb")
    return _Zstd(raw)


class _Decompressing(io.RawIOBase):
    """A decompressor as a raw stream whose every failure is an ArchiveBroken."""

    def __init__(self, codec: str, raw: BinaryIO):
        self.codec, self._raw, self._inner = codec, raw, _opened(codec, raw)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._inner.read(len(buffer))
        except EOFError:
            raise ArchiveBroken(self.codec, "ends early", True) from None
        except Exception as exc:  # zlib.error, OSError, lzma.LZMAError, ZstdError: corrupt data
            if isinstance(exc, ArchiveBroken):
                raise
            detail = " ".join(str(exc).split())[:120]
            raise ArchiveBroken(self.codec, f"is corrupt ({detail})" if detail else "is corrupt", False) from None
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                self._raw.close()
        super().close()


def open_bytes(path: str | Path) -> BinaryIO:
    """The content of a file as a binary stream, decompressed as it is read where it is an archive.

    A file named as an archive (.gz, .bz2, .xz, .zst) must be one; a file that is not named so
    is decompressed when it starts with a gzip, xz or zstd magic number."""
    path = Path(path)
    raw = open(path, "rb", buffering=_CHUNK)  # the default 8 KiB made reading lines of records 4x slower
    head = raw.read(6)
    raw.seek(0)
    named = codec_of_name(path.name)
    if named is not None:
        magics = [m for m, c in _ALL_MAGIC if c == named]
        if head and len(head) < max(map(len, magics)) and any(m.startswith(head) for m in magics):
            raw.close()  # cut inside its magic number: an archive that ends before its first byte of data
            raise ArchiveBroken(named, "ends early", True)
        if head and not any(head.startswith(m) for m in magics):
            raw.close()
            raise ArchiveBroken(named, f"is not there: the file does not start like a {named} archive "
                                f"(its first bytes are {head[:4].hex(' ')})", False)
        codec = named
    else:
        codec = sniff(head)
        if codec is None:
            return raw
    return io.BufferedReader(_Decompressing(codec, raw), buffer_size=_CHUNK)


def is_compressed(path: str | Path) -> bool:
    """Whether `open_bytes` decompresses the file (by name, or by its first bytes)."""
    path = Path(path)
    if codec_of_name(path.name):
        return True
    with open(path, "rb") as f:
        return sniff(f.read(6)) is not None


def duckdb_names(path: str | Path) -> bool:
    """Whether DuckDB can be given the path: it takes a path as UTF-8 text, so a name with other
    bytes (a lone surrogate in Python's str) is for Python's readers alone."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def duckdb_reads(path: str | Path, suffix: str) -> bool:
    """Whether DuckDB's readers (which know a codec by the file's name) read the file's text as
    `open_bytes` and the text readers do: named `suffix` (`.jsonl`, `.csv`), uncompressed, gzip
    named `.gz` or zstd named `.zst` (DuckDB reads neither bzip2 nor xz), UTF-8 without a
    byte-order mark, with a name DuckDB can be given. The fast readers (`formats/*_scan.py`)
    take only such files; each also counts the rows through `open_bytes`, so a broken archive
    is refused as Python refuses it."""
    path = Path(path)
    named = codec_of_name(path.name)
    if not duckdb_names(path) or data_suffix(path) != suffix or named not in (None, "gzip", "zstd"):
        return False
    try:
        if named is None and is_compressed(path):
            return False  # an archive not named as one: DuckDB would read its bytes as text
        with open_bytes(path) as f:
            head = f.read(4096)
    except (ArchiveBroken, OSError):
        return False
    return not (sniff(head) or head.startswith(b"\xef\xbb\xbf") or b"\x00" in head
                or head[:2] in (b"\xff\xfe", b"\xfe\xff"))


def duckdb_unread(path: str | Path) -> bool:
    """Whether the file is an archive DuckDB cannot read as it is: bzip2 or xz (DuckDB reads
    neither), or an archive not named as one (DuckDB would read its bytes as text)."""
    named = codec_of_name(Path(path).name)
    if named is not None:
        return named in ("bzip2", "xz")
    try:
        return is_compressed(path)
    except OSError:  # unreadable: the row-by-row path says so in one line
        return False


def plain_copy(path: str | Path, target: Path) -> Path:
    """The archive's content written to `target`, for a reader that cannot decompress it; the
    copy is removed when the archive is broken (ArchiveBroken) or the disk has no room (OSError)."""
    try:
        with open_bytes(path) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def open_upload(raw: bytes, name: str) -> BinaryIO:
    """Uploaded bytes (a labels file) as `open_bytes` would open a file of that name."""
    codec = codec_of_name(name) or sniff(raw[:6])
    if codec is None:
        return io.BytesIO(raw)
    return io.BufferedReader(_Decompressing(codec, io.BytesIO(raw)), buffer_size=_CHUNK)


__all__ = ["ArchiveBroken", "CODECS", "codec_of_name", "data_suffix", "duckdb_reads", "duckdb_unread", "is_compressed",
           "open_bytes", "open_upload", "plain_copy", "sniff"]
