"""Raw labelled pairs from the files people already have, one module per format.

Each module is a pure reader: `check(sample, context)` says why a file is not in its format
(None when it is), `read(rows, options, context, where)` turns rows into `RawPair`s and `Skip`s.
`detect(path)` tries the formats in `FORMATS` order on the first row; `--format NAME` forces one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

from ...names import NameRefused, check_name
from ..sources import SourceError
from . import alpaca_eval, arena, arena55k, arena_scan, forensics, generic, hh_rlhf, lmarena, release, ultrafeedback
from .base import Item, NoFormat, Options, RawPair, RowError, Skips, settle
from .files import Table, open_table, resolve

# Detection order: the most specific layouts first, the generic one last.
FORMATS: dict[str, ModuleType] = {m.NAME: m for m in (
    release, forensics, lmarena, arena, arena55k, alpaca_eval, ultrafeedback, hh_rlhf, generic)}
RAW_FORMATS = tuple(name for name in FORMATS if name != "release")


def _check(module: ModuleType, table: Table, opts: Options) -> str | None:
    if table.sample is None:
        return "no rows"
    if module is generic:
        return generic.check(table.sample, table.context, opts)
    return module.check(table.sample, table.context)


def detect_table(table: Table, opts: Options | None = None, forced: str | None = None) -> ModuleType:
    """The format of an opened file: the forced one (checked), else the first that fits."""
    opts = opts or Options()
    if table.sample is None:
        raise SourceError(f"{table.path}: no records")
    if forced is not None:
        if forced not in FORMATS:
            raise SourceError(f"unknown format {forced!r} (known: {', '.join(FORMATS)})")
        reason = _check(FORMATS[forced], table, opts)
        if reason:
            raise NoFormat(f"{table.path}: not in format {forced}: {reason}")
        return FORMATS[forced]
    tried = []
    for name, module in FORMATS.items():
        reason = _check(module, table, opts)
        if reason is None:
            return module
        tried.append(f"{name} ({reason})")
    raise NoFormat(f"{table.path}: not in any known format; tried " + "; ".join(tried))


def detect(path: str | Path, opts: Options | None = None) -> str:
    """The name of the format of a file, from its content."""
    return detect_table(open_table(Path(path)), opts).NAME


@dataclass
class Reading:
    """Raw pairs of a source, read lazily; `skips` fills as they are consumed."""

    format: str
    files: list[Path]
    opts: Options
    skips: Skips = field(default_factory=Skips)
    judge_kinds: dict[str, str] = field(default_factory=dict)
    judge_notes: dict[str, str] = field(default_factory=dict)
    rows: int = 0

    def pairs(self) -> Iterator[RawPair]:
        start = 0
        for path in self.files:
            table = open_table(path)
            if table.sample is None:
                continue
            module = detect_table(table, self.opts, forced=self.format)
            opts = self.opts
            if opts.judge is None:  # the crowd's judge: the format's default name
                opts = replace(opts, judge=default_judge(module))
            self.judge_kinds.setdefault(opts.judge, judge_kind(module))
            if module is forensics:
                for aid, (name, kind) in forensics.judges(table.context, self.opts).items():
                    self.judge_kinds[judge_name(name, f"{path.name}: annotator {aid}")] = kind
                self.judge_notes.update({judge_name(name, f"{path.name}: annotator"): note
                                         for name, note in forensics.notes(table.context).items()})
            seen = [0]
            last = [start]

            def where(position: int, _name=path.name, _first=start) -> str:
                return f"{_name}: row {position - _first}"

            def count(position: int) -> None:
                seen[0] += 1
                self.rows += 1
                last[0] = position

            def counted(rows: Iterator[tuple[int, dict]]) -> Iterator[tuple[int, dict]]:
                for item in rows:
                    count(item[0])
                    yield item

            def slow(skip: int, _table=table, _opts=opts, _start=start, _where=where):
                """The Python reader, from the file's row `skip` on."""
                return module.read(counted(itertools.islice(_table.numbered(_start), skip, None)), _opts,
                                   _table.context, _where)

            if module is arena and arena_scan.applies(path):  # DuckDB reads it; Python where it must
                items = arena_scan.read(path, opts, start, count, slow)
            else:
                items = slow(0)
            try:
                yield from settle(_named(items, where), self.skips)
            except RecursionError:  # a value nested deeper than the readers walk (JSON in a string field)
                raise RowError(where(last[0]), "(row)", "a value nested too deeply to read") from None
            start += seen[0]


def default_judge(module: ModuleType) -> str:
    """The judge a format's crowd votes as, unless `--judge` names one."""
    return getattr(module, "DEFAULT_JUDGE", "human")


def judge_kind(module: ModuleType) -> str:
    """What kind of judge a format's votes are from (judges.kind)."""
    return getattr(module, "JUDGE_KIND", "human")


def judge_name(name: str, where: str) -> str:
    """A judge named in a data file, as pipeline.names normalises it; a refusal names file and record."""
    try:
        return check_name(name, "judge")
    except NameRefused as exc:
        raise SourceError(f"{where}: {exc}") from None


def _named(items: Iterator[Item], where) -> Iterator[Item]:
    """Pairs whose labels and ties carry normalised judge names (`ｈｕｍａｎ` and ' human ' are
    `human`); skipped rows as they come."""
    cache: dict[str, str] = {}

    def name(judge: str, position: int) -> str:
        if judge not in cache:
            cache[judge] = judge_name(judge, where(position))
        return cache[judge]

    for item in items:
        if isinstance(item, RawPair):
            for label in item.labels:
                label.judge = name(label.judge, item.position)
            item.ties = [(name(judge, item.position), rater) for judge, rater in item.ties]
        yield item


__all__ = ["FORMATS", "RAW_FORMATS", "Options", "RawPair", "RowError", "NoFormat", "Reading", "Skips",
           "default_judge", "detect", "detect_table", "judge_kind", "judge_name", "open_table", "resolve"]
