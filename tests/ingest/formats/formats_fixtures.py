"""Reading the hand-written fixture files (tests/ingest/formats/fixtures/, shaped like the real releases)."""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest import formats
from pipeline.ingest.formats import Options, Reading

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def read(name: str | Path, fmt: str | None = None, **options) -> tuple[list, Reading]:
    """(pairs, reading) of a fixture file (or any path), detected unless `fmt` is given."""
    path = name if isinstance(name, Path) else FIXTURES / name
    opts = Options(**options)
    fmt = fmt or formats.detect(path, opts)
    reading = Reading(fmt, [path], opts)
    return list(reading.pairs()), reading


def labels(pair) -> list[tuple]:
    return [(lab.judge, lab.preferred, lab.prob_1, lab.rater) for lab in pair.labels]
