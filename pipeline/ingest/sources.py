"""Where released-format records come from: local .json / .jsonl / .parquet files, or the hub.

Each reader yields plain dicts one at a time, so a large file never sits in memory twice.
Whatever a file holds, reading it ends in a record or one `SourceError` line naming the
file, the line and (where it applies) the byte offset or field: bad encodings, binary
files, invalid JSON, numbers too long for Python, nesting past MAX_DEPTH, lone surrogates.
Files are decoded, and JSON parsed, by `decoding`; a .json list is streamed by `json_stream`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from . import compressed
from .decoding import (  # noqa: F401 - the readers' names, read as sources.X across the package
    MAX_DEPTH,
    SourceError,
    content_of,
    decode_bytes,
    encodes,
    json_lines,
    loads,
    read_text,
    text_lines,
)
from .json_stream import json_list, json_shape, object_rows

HF_PREFIX = "hf:"
SUFFIXES = (".jsonl", ".json", ".parquet")
RECORD_KEYS = ("data", "records", "rows", "train")  # an object holding released records in a list under one


def fingerprint(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def iter_jsonl(path: Path) -> Iterator[dict]:
    for _, value in json_lines(path):
        yield value


def iter_json(path: Path) -> Iterator[dict]:
    held = object_rows(path, RECORD_KEYS, in_file_order=True)  # {"data": [...]}, streamed
    if held is not None:
        yield from held[1]
        return
    shape = json_shape(path)
    if shape == "list":  # streamed
        yield from json_list(path)
        return
    if shape == "lines":
        yield from iter_jsonl(path)
        return
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
        lists = [v for k, v in data.items() if k in RECORD_KEYS and isinstance(v, list)]
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
