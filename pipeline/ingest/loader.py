"""`load`: one entry for every source. It resolves files, detects the format from the
content, and hands the records to the one writer of their kind: `release_load` for the
release's format, `raw_load` for raw labelled pairs (`formats/`).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import replace

from .. import names
from . import formats, sources
from .raw_load import load_reading
from .release_load import load_records
from .writing import LoadReport, check_names


def load_source(source: str, *, db=None, name: str | None = None, kind: str = "release",
                generated: bool = False, format: str | None = None, options=None) -> LoadReport:
    """Load a local .json/.jsonl/.parquet/.csv file or folder, or hf:OWNER/NAME: released-format
    records, or raw labelled pairs in any format of `pipeline.ingest.formats` (detected from the content
    of the first file unless `format` names one; `options` is a `formats.Options`)."""
    options = options or formats.Options()
    check_names({k: v for k, v in (("judge", options.judge), ("source", name)) if v is not None})
    if options.judge is not None:  # stored as every name is: `--judge " Ｈuman "` is the judge 'Human'
        options = replace(options, judge=names.check_name(options.judge, "judge"))
    if name is not None:
        name = names.check_name(name, "source name")
    display, files = formats.resolve(source)
    if name is None:
        name = _name_from_file(display, source)
    column_options = bool(options.columns or options.attribute_columns)
    if column_options and format is not None and format != "generic":
        raise sources.SourceError(f"--prompt-col, --winner-col, --attribute-col and the other column options are for "
                                  f"--format generic; format {format!r} knows its columns: leave them out")
    forced_generic = format is None and column_options
    table = formats.open_table(files[0])
    module = formats.detect_table(table, options, forced="generic" if forced_generic else format)
    if module.NAME == "release":
        if options != formats.Options():
            raise sources.SourceError(f"{source}: --judge, --multi-turn and column options are for raw pairs; "
                                      "released-format records name their judges")
    # The files' hash (a whole read of them: 0.6 s a GB) is taken on a thread beside the load's own
    # read; the loads ask for it before their first write.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-fingerprint") as pool:
        if module.NAME == "release":
            fp = pool.submit(sources.fingerprint, files)
            return load_records(sources.iter_records(files), source=name, kind=kind,
                                location=names.shown_path(source), fingerprint=fp.result, generated=generated, db=db)
        reading = formats.Reading(module.NAME, files, options)
        fp = pool.submit(_fingerprint, files, module.NAME, options)
        return load_reading(reading, source=name, location=names.shown_path(source), fingerprint=fp.result, db=db)


def _fingerprint(files, format_name: str, options: formats.Options) -> str:
    # A raw load waits for the hash only just before its first write (`raw_load`): until then the
    # hash yields its core to the staging, which keeps both busy, and runs on what they leave
    _lowest_priority()
    # The options change what is read, so they are part of what makes a reload a repeat.
    return hashlib.sha256(f"{sources.fingerprint(files)}|{format_name}|{options.key()}".encode()).hexdigest()


def _lowest_priority() -> None:
    """This thread runs only on a core the others leave idle. Linux gives each thread its own
    nice value; elsewhere the call would name a process, so it is not made."""
    if sys.platform.startswith("linux"):
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _name_from_file(display: str, source: str) -> str:
    """The source name a file or folder name gives, checked like a typed name; a name that fails
    (a zero-width space, a newline, bytes that are not UTF-8) is refused naming the file."""
    try:
        return names.check_name(display, "source name")
    except names.NameRefused as exc:
        raise sources.SourceError(f"{names.shown_path(source)}: the file name can't be the source name: {exc}; "
                                  "give one with --name") from None


__all__ = ["LoadReport", "load_records", "load_source"]
