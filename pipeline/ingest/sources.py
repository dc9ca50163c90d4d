"""Where released-format records come from: local .json / .jsonl / .parquet files, or the hub.

Each reader yields plain dicts one at a time, so a large file never sits in memory twice.
Whatever a file holds, reading it ends in a record or one `SourceError` line naming the
file, the line and (where it applies) the byte offset or field: bad encodings, binary
files, invalid JSON, numbers too long for Python, nesting past MAX_DEPTH, lone surrogates.
Other readers (pipeline/ingest/formats, annotation inputs) use `read_text`, `text_lines`, `loads`.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import compressed
from .compressed import ArchiveBroken

HF_PREFIX = "hf:"
SUFFIXES = (".jsonl", ".json", ".parquet")


class SourceError(ValueError):
    """A source that cannot be read: says which file and where."""


def fingerprint(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


# --- text, whatever the file's encoding ------------------------------------------------------
# UTF-8 (with or without a BOM) is read as is; UTF-16 and UTF-32 with a BOM are decoded;
# anything else that is not UTF-8 (latin-1, binary) is refused naming the byte and offset.

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
MAX_DEPTH = 64            # nesting levels a record may have (ours have 4)


def _encoding(head: bytes) -> str:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return "utf-8"


def _not_text(path: Path, raw: bytes, start: int, offset: int, lineno: int | None) -> SourceError:
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
    enc = _encoding(raw[:4])
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError as exc:
        if enc != "utf-8" and enc != "utf-8-sig":
            raise SourceError(f"{path}: byte offset {exc.start}: not valid {enc.upper()} text "
                              "despite its byte-order mark") from None
        if b"\x00" in raw[:4096]:
            at = raw.index(b"\x00")
            raise _not_text(path, raw, at, at, raw.count(b"\n", 0, at) + 1) from None
        lineno = raw.count(b"\n", 0, exc.start) + 1
        raise _not_text(path, raw, exc.start, exc.start, lineno) from None
    if "\x00" in text:
        at = text.index("\x00")
        raise SourceError(f"{path}: not text: a NUL character at character {at}; this looks like a binary file")
    return text.removeprefix("\ufeff")


def text_lines(path: Path, keepends: bool = False) -> Iterator[tuple[int, str]]:
    """(line number, line) streamed, decoded as read_text does; one-line errors name line and offset.
    Archives (.gz, .bz2, .xz, .zst) are decompressed as they are read."""
    path = Path(path)
    lineno = 0
    try:
        with compressed.open_bytes(path) as f:   # a first look, then the stream again from its start
            start = f.read(4096)
        enc = _encoding(start[:4])
        if enc in ("utf-16", "utf-32"):  # rare; decoded whole
            for lineno, line in enumerate(read_text(path).split("\n"), 1):
                yield lineno, (line + "\n" if keepends else line.rstrip("\r"))
            return
        if b"\x00" in start:  # a binary file: say so, not "byte 0x89 is not UTF-8"
            at = start.index(b"\x00")
            raise _not_text(path, start, at, at, start.count(b"\n", 0, at) + 1)
        with compressed.open_bytes(path) as f:
            offset = 3 if enc == "utf-8-sig" else 0
            f.read(offset)
            for lineno, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _not_text(path, raw, exc.start, offset + exc.start, lineno) from None
                if "\x00" in line:
                    raise _not_text(path, raw, raw.index(b"\x00"), offset + raw.index(b"\x00"), lineno)
                offset += len(raw)
                yield lineno, (line if keepends else line.rstrip("\r\n"))
    except ArchiveBroken as exc:
        raise broken(path, exc, lines=lineno) from None


def _bad_string(obj: Any) -> tuple[str, str] | None:
    """(field path, problem) of the first string that is not valid Unicode or the first level
    nested past MAX_DEPTH; None when the value is clean. Iterative: any depth is safe."""
    stack: list[tuple[Any, str, int]] = [(obj, "", 0)]
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
    # Only a \\u escape can make a lone surrogate, and only many brackets deep nesting: check then.
    if "\\u" in text or text.count("[") + text.count("{") > MAX_DEPTH:
        bad = _bad_string(value)
        if bad is not None:
            field = bad[0] if len(bad[0]) <= 80 else bad[0][:38] + "..." + bad[0][-38:]
            raise SourceError(f"{where}, field '{field}': {bad[1]}")
    return value


def iter_jsonl(path: Path) -> Iterator[dict]:
    for lineno, line in text_lines(path):
        if not line.strip():
            continue
        yield loads(line, path, lineno)


def iter_json(path: Path) -> Iterator[dict]:
    text = read_text(path)
    try:
        data = loads(text, path)
    except SourceError:
        # Many '.json' files are really JSON lines.
        if text.lstrip().startswith("{") and "\n" in text.strip():
            yield from iter_jsonl(path)
            return
        raise
    if isinstance(data, dict):
        lists = [v for k, v in data.items() if k in ("data", "records", "rows", "train") and isinstance(v, list)]
        if not lists:
            raise SourceError(f"{path}: expected a JSON list of records (or an object with a 'data' list)")
        data = lists[0]
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    yield from data


def iter_parquet(path: Path) -> Iterator[dict]:
    import pyarrow.parquet as pq

    with open(path, "rb") as handle:  # Python opens any name; pyarrow takes a path as UTF-8 only
        try:
            pf = pq.ParquetFile(handle)
        except Exception as exc:  # pyarrow raises several kinds for a bad file
            raise SourceError(f"{path}: not a readable parquet file ({exc})") from None
        for batch in pf.iter_batches(batch_size=2048):
            yield from batch.to_pylist()


def data_suffix(path: Path, allowed: tuple[str, ...] = SUFFIXES) -> str:
    """What the file holds, from its name ('.jsonl' for hh.jsonl and hh.jsonl.zst), or SourceError.
    Parquet compresses itself: a compressed parquet file is refused."""
    suffix = compressed.data_suffix(path)
    codec = compressed.codec_of_name(Path(path).name)
    if suffix not in allowed or (codec and suffix == ".parquet"):
        shown = suffix + Path(path).suffix.lower() if codec else suffix
        texts = [s for s in allowed if s != ".parquet"]
        raise SourceError(f"{path}: unsupported file type '{shown}' (use {', '.join(allowed)}; "
                          f"{', '.join(texts)} may be compressed as {', '.join(compressed.CODECS)})")
    return suffix


def is_data_file(path: Path, allowed: tuple[str, ...] = SUFFIXES) -> bool:
    try:
        data_suffix(path, allowed)
    except SourceError:
        return False
    return True


def iter_file(path: Path) -> Iterator[dict]:
    suffix = data_suffix(path)
    if suffix == ".jsonl":
        return iter_jsonl(path)
    if suffix == ".json":
        return iter_json(path)
    return iter_parquet(path)


def data_files(folder: Path) -> list[Path]:
    """The data files of a downloaded dataset folder, in a stable order."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_data_file(p)
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise SourceError(f"{folder}: no .json, .jsonl or .parquet files (compressed or not)")
    return files


HUB_TIMEOUT_S = 15.0   # per request to the hub


def _hub_with_timeouts(hub) -> None:
    """Give the hub's requests a timeout. Its API calls pass timeout=None (wait for ever), so a
    network that drops packets silently (a firewall, a dead proxy) would hang the load."""
    set_factory = getattr(hub, "set_client_factory", None)  # huggingface_hub >= 1.0 (httpx)
    if set_factory is None:
        return
    import httpx
    from huggingface_hub.utils._http import default_client_factory

    limit = httpx.Timeout(HUB_TIMEOUT_S, connect=min(HUB_TIMEOUT_S, 10.0)).as_dict()

    def bounded(request) -> None:  # a request hook runs before the transport reads the timeout
        if all(v is None for v in request.extensions.get("timeout", {}).values()):
            request.extensions["timeout"] = limit

    def factory():
        client = default_client_factory()
        hooks = client.event_hooks
        client.event_hooks = {**hooks, "request": [*hooks.get("request", []), bounded]}
        return client

    set_factory(factory)


def _one_line(exc: Exception) -> str:
    """The hub's messages span several lines; the CLI promises one."""
    text = " ".join(str(exc).split())
    return f"{exc.__class__.__name__}: {text[:300]}" + ("..." if len(text) > 300 else "")


def download_hf(repo_id: str) -> Path:
    """Download a dataset repository from the Hugging Face hub (cached) and return its folder.

    HF_HUB_OFFLINE=1 uses only the local cache (the hub client reads it)."""
    try:
        import huggingface_hub as hub
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise SourceError("loading from the hub needs the huggingface_hub package") from exc
    try:
        _hub_with_timeouts(hub)
        return Path(hub.snapshot_download(repo_id=repo_id, repo_type="dataset",
                                          allow_patterns=["*.json", "*.jsonl", "*.parquet",
                                                          *(f"*.json{c}" for c in compressed.CODECS),
                                                          *(f"*.jsonl{c}" for c in compressed.CODECS)]))
    except Exception as exc:  # network errors, unknown repository, ...
        raise SourceError(f"hf:{repo_id}: could not download from the Hugging Face hub ({_one_line(exc)})") from None


def resolve(source: str) -> tuple[str, list[Path]]:
    """(display name, files) for a path, a folder or hf:OWNER/NAME."""
    if source.startswith(HF_PREFIX):
        repo_id = source[len(HF_PREFIX):].strip("/")
        if repo_id.count("/") != 1:
            raise SourceError(f"{source}: expected hf:OWNER/NAME")
        return repo_id, data_files(download_hf(repo_id))
    path = Path(source)
    if not path.exists():
        raise SourceError(f"{source}: no such file")
    if path.is_dir():
        return path.name, data_files(path)
    iter_file(path)  # checks the suffix now, before anything is opened for writing
    return path.name, [path]


def iter_records(files: list[Path]) -> Iterator[dict]:
    for path in files:
        yield from iter_file(path)
