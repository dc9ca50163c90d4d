"""`load`: one entry for every source. It resolves files, detects the format from the
content, and hands the records to the one writer of their kind: `release_load` for the
release's format, `raw_load` for raw labelled pairs (`formats/`).
"""

from __future__ import annotations

import hashlib

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
    display, files = formats.resolve(source)
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
        return load_records(sources.iter_records(files), source=name or display, kind=kind, location=source,
                            fingerprint=sources.fingerprint(files), generated=generated, db=db)
    reading = formats.Reading(module.NAME, files, options)
    # The options change what is read, so they are part of what makes a reload a repeat.
    fp = hashlib.sha256(f"{sources.fingerprint(files)}|{module.NAME}|{options.key()}".encode()).hexdigest()
    return load_reading(reading, source=name or display, location=source, fingerprint=fp, db=db)


__all__ = ["LoadReport", "load_records", "load_source"]
