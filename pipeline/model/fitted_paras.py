"""The original project's `fitted_paras` files: import them as judges, export ours the same way.

Format (SPEC section 8): `model_<group key>_fitted_paras.jsonl`, one line per judge,
`{"model_name": ..., "parameters": [29 numbers]}` in the paper's property order. The
group key is a scenario name or one of intent_unclear, express_feeling, w_constraints,
w_stances, w_mistakes (`properties.group_from_file_key`).

Imported judges live beside fitted ones, under the same judge names table, with a source
of their own (`judges.source`, `fits.source` = the import's source name, `fit_runs.status`
= 'imported'; they have weights but no labels, sd or interval). A judge name is one
judge: importing a name the database already has (labelled, fitted or imported) is
refused, naming the clashes, unless `prefix` makes the names distinct or `replace` says
that the imported weights replace that judge's fits. A file that breaks the format stops
the import with the file and line named, and nothing is written.

The files hold the paper's 29 properties, so imports are `property_set = 'paper'` and
export writes only 'paper' fits (other sets have other columns); the group 'All' is the
file key 'all' (`model_all_fitted_paras.jsonl`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ..names import NameRefused, check_name, shown_path
from ..store import db as dbmod
from ..store import upsert
from ..properties.paper import N_PROPERTIES, PROPERTY_NAMES, QUERY_GROUP_BY_NAME, group_file_key, group_from_file_key
from ..properties.sets import PAPER_SET

FIT_SOURCE = "fit"  # fits.source of our own fits (as in fitting)
FILE_RE = re.compile(r"^model_(.+)_fitted_paras\.jsonl$", re.DOTALL)  # a newline in a key: refused by name
SOURCE_KIND = "fitted_paras"
IMPORT_METHOD = "imported"
OVERALL = "Overall"  # judge_similarity's row averaged over the scenario groups (answers.readouts.OVERALL)


class FittedParasError(ValueError):
    """A file that isn't the format, or an import that would clash; says where and why."""


@dataclass
class FittedJudge:
    name: str
    parameters: list[float]
    line: int


@dataclass
class FittedFile:
    path: Path
    group_name: str
    group_kind: str
    judges: list[FittedJudge]


@dataclass
class ImportReport:
    source: str
    files: int = 0
    judges: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    already_imported: bool = False

    def summary(self) -> str:
        if self.already_imported:
            return f"{self.source}: already imported, nothing changed"
        extra = f", replacing {len(self.replaced)} existing" if self.replaced else ""
        return (f"{self.source}: {len(self.judges)} judges x {len(self.groups)} groups from "
                f"{self.files} files{extra}")


# ------------------------------------------------------------------------- reading


def resolve_group(text: str, where: str = "the group") -> tuple[str, str]:
    """(group_name, group_kind) from a file key ('w_stances') or a group name, normalised as
    pipeline.names normalises every name; 'Overall' is the similarity's own row, not a group."""
    try:
        text = check_name(text, "group")
    except NameRefused as exc:
        raise FittedParasError(f"{where}: {exc}") from None
    if text.casefold() == OVERALL.casefold():
        raise FittedParasError(f"{where}: the group {OVERALL!r} is reserved (the similarity's average over "
                               "the scenario groups); name the group otherwise")
    if text in QUERY_GROUP_BY_NAME:
        return text, "query-specific"
    return group_from_file_key(text)


def _short(v) -> str:
    return repr(v)[:40] if isinstance(v, (int, float, str)) and not (isinstance(v, int) and v.bit_length() > 128) \
        else type(v).__name__


def _finite(v: int | float) -> bool:
    """A finite float, or an int a float can hold (a 400-digit int would overflow float())."""
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _parse_line(path: Path, lineno: int, line: str) -> FittedJudge:
    where = f"{path} line {lineno}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise FittedParasError(f"{where}: not JSON ({exc.msg})") from None
    except RecursionError:  # json recurses once per level of [[[...]]]
        raise FittedParasError(f"{where}: not usable: arrays or objects nested too deeply") from None
    except ValueError:  # an integer of more than 4,300 digits (Python's conversion limit)
        raise FittedParasError(f"{where}: not usable: a number of more than 4,300 digits") from None
    if not isinstance(obj, dict):
        raise FittedParasError(f"{where}: expected an object with model_name and parameters")
    name, params = obj.get("model_name"), obj.get("parameters")
    if not isinstance(name, str) or not name.strip():
        got = repr(name) if isinstance(name, str) else type(name).__name__  # never repr a deep structure
        raise FittedParasError(f"{where}: model_name must be a non-empty string, got {got}")
    try:
        name.encode("utf-8")  # "\ud800" escaped in JSON decodes to a lone surrogate
    except UnicodeEncodeError:
        raise FittedParasError(f"{where}: model_name holds a lone surrogate (an escape like \\ud800), "
                               "which is not valid Unicode") from None
    try:  # the judge is stored under its normalised name, so `fit --judge` and the pages find it
        name = check_name(name, "model_name")
    except NameRefused as exc:
        raise FittedParasError(f"{where}: {exc}") from None
    if not isinstance(params, list) or len(params) != N_PROPERTIES:
        got = f"{len(params)} values" if isinstance(params, list) else type(params).__name__
        raise FittedParasError(f"{where}: parameters must be a list of {N_PROPERTIES} numbers, got {got}")
    for i, v in enumerate(params):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not _finite(v):
            raise FittedParasError(f"{where}: parameter {i} ({PROPERTY_NAMES[i]}) is not a finite number: {_short(v)}")
    return FittedJudge(name, [float(v) for v in params], lineno)


def read_file(path: str | os.PathLike, group: str | None = None) -> FittedFile:
    """One checked file. The group comes from the file name unless `group` is given."""
    path = Path(path)
    match = FILE_RE.match(path.name)
    if group is None and not match:
        raise FittedParasError(f"{shown_path(path)}: can't tell the group from the file name; name it "
                               "model_<group>_fitted_paras.jsonl or give the group")
    if group is not None:
        name, kind = resolve_group(group, f"{path}: --group")
    else:  # a non-UTF-8 file name arrives with lone surrogates: refused, and shown escaped
        name, kind = resolve_group(match.group(1), f"{shown_path(path)}: the group key in the file name")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FittedParasError(f"{path}: not UTF-8 text ({exc.reason})") from None
    judges: list[FittedJudge] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        judge = _parse_line(path, lineno, line)
        if judge.name in seen:
            raise FittedParasError(f"{path} line {lineno}: judge {judge.name!r} again (first on line {seen[judge.name]})")
        seen[judge.name] = lineno
        judges.append(judge)
    if not judges:
        raise FittedParasError(f"{path}: no judges in the file")
    return FittedFile(path, name, kind, judges)


def read_path(path: str | os.PathLike, group: str | None = None) -> list[FittedFile]:
    """A file, or every model_*_fitted_paras.jsonl file of a folder, all checked."""
    path = Path(path)
    if not path.exists():
        raise FittedParasError(f"{path}: no such file or folder")
    if path.is_file():
        return [read_file(path, group)]
    if group is not None:
        raise FittedParasError(f"{path}: a group can only be given for a single file")
    files = sorted(p for p in path.iterdir() if p.is_file() and FILE_RE.match(p.name))
    if not files:
        raise FittedParasError(f"{path}: no model_<group>_fitted_paras.jsonl files in this folder")
    out = [read_file(p) for p in files]
    groups: dict[str, Path] = {}
    for f in out:
        if f.group_name in groups:
            raise FittedParasError(f"{f.path}: group {f.group_name!r} again (also in {groups[f.group_name]})")
        groups[f.group_name] = f.path
    return out


# ------------------------------------------------------------------------- import


def _fingerprint(files: list[FittedFile], prefix: str, group: str | None) -> str:
    h = hashlib.sha256(f"{prefix}\x1f{group or ''}\x1f".encode())
    for f in sorted(files, key=lambda f: f.group_name):
        h.update(f.group_name.encode() + b"\x1f" + f.path.read_bytes())
    return h.hexdigest()


def guess_size_b(name: str) -> float | None:
    """Billions of parameters from a name like 'llama-2-70b-chat' or 'mistral-8x7b'."""
    m = re.search(r"(?<![a-z0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)b(?![a-z])", name.lower())
    if not m:
        return None
    return float(m.group(2)) * (int(m.group(1)) if m.group(1) else 1)


def _clashes(con, names: list[str]) -> list[str]:
    rows = con.execute("""
        SELECT judge FROM judges WHERE list_contains($1, judge)
        UNION SELECT DISTINCT judge FROM fits WHERE list_contains($1, judge)
        UNION SELECT DISTINCT judge FROM labels WHERE list_contains($1, judge)
    """, [names]).fetchall()
    return sorted(r[0] for r in rows)


def _tables(files: list[FittedFile], prefix: str, source: str) -> tuple[pa.Table, pa.Table]:
    fits = {k: [] for k in ("judge", "group_name", "property", "weight")}
    runs = {k: [] for k in ("judge", "group_name", "group_kind", "note", "position")}
    for f in files:
        for j in f.judges:
            name = prefix + j.name
            fits["judge"] += [name] * N_PROPERTIES
            fits["group_name"] += [f.group_name] * N_PROPERTIES
            fits["property"] += PROPERTY_NAMES
            fits["weight"] += j.parameters
            for k, v in (("judge", name), ("group_name", f.group_name), ("group_kind", f.group_kind),
                         ("note", f"imported from {shown_path(f.path.name)} line {j.line} ({source})"), ("position", j.line)):
                runs[k].append(v)
    return pa.table(fits), pa.table(runs)


def import_fits(path: str | os.PathLike, db=None, *, prefix: str = "", replace: bool = False,
                name: str | None = None, group: str | None = None) -> ImportReport:
    """Import fitted_paras files as judges (all or nothing). See the module docstring."""
    files = read_path(path, group)
    path = Path(path)
    source = name or f"{SOURCE_KIND}:{shown_path(path.name)}" + (f" as {prefix}*" if prefix else "")
    if source == FIT_SOURCE:
        raise FittedParasError(f"the source name {FIT_SOURCE!r} is reserved for our own fits")
    judges = sorted({prefix + j.name for f in files for j in f.judges})
    report = ImportReport(source, len(files), judges, sorted({f.group_name for f in files}))
    fingerprint = _fingerprint(files, prefix, group)
    fits_t, runs_t = _tables(files, prefix, source)  # noqa: F841 - read by DuckDB below
    with dbmod.writing(db) as con:
        own: set[str] = set()  # judges still there from these very files: not a clash
        if con.execute("SELECT 1 FROM sources WHERE fingerprint = ? AND kind = ?",
                       [fingerprint, SOURCE_KIND]).fetchone() and not replace:
            own = {r[0] for r in con.execute("SELECT DISTINCT judge FROM fits WHERE source = ? AND "
                                             "list_contains(?, judge)", [source, judges]).fetchall()}
            if own == set(judges):
                report.already_imported = True
                return report
            # some were removed since (remove-judge): importing the same files again brings them back
        clashes = [j for j in _clashes(con, judges) if j not in own]
        if clashes and not replace:
            raise FittedParasError(
                f"{len(clashes)} judge name(s) already in the database: {', '.join(clashes[:8])}"
                f"{' ...' if len(clashes) > 8 else ''}; use --prefix to import them under other names, "
                "or --replace to replace their fits with the imported ones")
        report.replaced = clashes
        # only the paper set is replaced: a labelled judge's style fits stay valid
        con.execute("DELETE FROM fits WHERE list_contains(?, judge) AND property_set = ?", [judges, PAPER_SET])
        con.execute("DELETE FROM fit_runs WHERE list_contains(?, judge) AND property_set = ?", [judges, PAPER_SET])
        con.execute("INSERT INTO fits (judge, group_name, property_set, property, weight, source) "
                    "SELECT judge, group_name, ?, property, weight, ? FROM fits_t", [PAPER_SET, source])
        con.execute("INSERT INTO fit_runs (judge, group_name, property_set, group_kind, status, method, note, "
                    "position) SELECT judge, group_name, ?, group_kind, 'imported', ?, note, position FROM runs_t",
                    [PAPER_SET, IMPORT_METHOD])
        _upsert_judges(con, judges, prefix, source)
        con.execute(_SOURCE_ROW, [source, SOURCE_KIND, shown_path(path), fingerprint])
    return report


# upserts kept by the statements, not by ON CONFLICT: a DuckLake table has no keys
_SOURCE_ROW = upsert.merge(
    "sources", "(SELECT ? AS source, ? AS kind, ? AS location, ? AS fingerprint, FALSE AS generated)",
    ("source", "kind", "location", "fingerprint", "generated"), ("source",),
    {"location": "s.location", "fingerprint": "s.fingerprint", "loaded_at": "now()"})
_JUDGE_ROW = upsert.merge(
    "judges", "(SELECT ? AS judge, ? AS kind, ? AS size_b, ? AS source, ? AS note)",
    ("judge", "kind", "size_b", "source", "note"), ("judge",), {"source": "s.source", "note": "s.note"})


def _upsert_judges(con, judges: list[str], prefix: str, source: str) -> None:
    """A judges row per imported judge; an existing (replaced) one keeps its kind and size."""
    for judge in judges:
        bare = judge[len(prefix):]
        con.execute(_JUDGE_ROW, [judge, "human" if bare.startswith("human") else "llm", guess_size_b(bare), source,
                                 f"weights imported from {source}: no labels, no intervals"])


# ------------------------------------------------------------------------- export


def _export_rows(con, sources: list[str] | None, judges: list[str] | None):
    """(group_name, judge, weights in property order) of 'paper' fits, in each file's order."""
    where, params = ["f.property_set = ?"], [PAPER_SET]
    if sources is not None:
        where.append("list_contains(?, f.source)")
        params.append(sources)
    if judges:
        where.append("list_contains(?, f.judge)")
        params.append(judges)
    return con.execute(f"""
        SELECT f.group_name, f.judge, list(f.weight ORDER BY p.property_index) AS weights
        FROM fits f
        JOIN properties p USING (property)
        LEFT JOIN fit_runs r ON r.judge = f.judge AND r.group_name = f.group_name AND r.property_set = f.property_set
        LEFT JOIN judges j ON j.judge = f.judge
        WHERE {' AND '.join(where)}
        GROUP BY f.group_name, f.judge, r.position, j.kind
        HAVING count(*) = {N_PROPERTIES}
        ORDER BY f.group_name, r.position NULLS LAST, (j.kind = 'human') DESC NULLS LAST, f.judge
    """, params).fetchall()


def _file_key(group_name: str) -> str:
    """The group's key in a file name, refused unless importing the file gives the group back."""
    key = group_file_key(group_name)
    if "/" in key or "\\" in key or key in ("", ".", ".."):
        raise FittedParasError(f"group {group_name!r} can't be part of a file name")
    try:
        back = resolve_group(key)[0]
    except FittedParasError as exc:
        raise FittedParasError(f"group {group_name!r} can't be exported: {exc}") from None
    if back != group_name:  # e.g. a custom group named 'w_stances' stored before such names were refused
        raise FittedParasError(f"group {group_name!r} would be written as model_{key}_fitted_paras.jsonl, which "
                               f"is the file of the group {back!r}; rename it (group remove, then group add)")
    return key


def export_fits(path: str | os.PathLike, db=None, *, sources: list[str] | None = (FIT_SOURCE,),
                judges: list[str] | None = None, overwrite: bool = False) -> list[Path]:
    """Write one model_<group key>_fitted_paras.jsonl per group into the folder `path`.

    `sources`: which fits (default our own, 'fit'; None for every source). Imported judges
    keep the order of their original file. Existing files are refused unless `overwrite`.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise FittedParasError(f"{folder}: not a folder")
    with dbmod.reading(db) as con:
        rows = _export_rows(con, list(sources) if sources is not None else None, judges)
        others = [] if rows or sources is None else [r[0] for r in con.execute(
            "SELECT DISTINCT source FROM fits WHERE NOT list_contains(?, source) ORDER BY 1", [list(sources)]).fetchall()]
        other_sets = [] if rows else [r[0] for r in con.execute(
            "SELECT DISTINCT property_set FROM fits WHERE property_set <> ? ORDER BY 1", [PAPER_SET]).fetchall()]
    if not rows:
        # e.g. a database with imported weights only: say how to export those
        hint = f"; other fits are from {', '.join(others)}: add --all or --source to export them" if others else ""
        if other_sets and not others:  # raw pairs fitted on style properties: the format has no place for them
            hint = (f"; the format holds the paper's {N_PROPERTIES} properties, and this database's fits are of the "
                    f"property set(s) {', '.join(other_sets)}: read them from the fits table (or the SQL page)")
        raise FittedParasError("no fits to export" + (f" from source(s) {', '.join(sources)}" if sources else "") + hint)
    by_file: dict[Path, list[str]] = {}
    groups_of: dict[str, str] = {}   # file key (casefolded: some file systems ignore case) -> group
    for group_name, judge, weights in rows:
        key = _file_key(group_name)
        other = groups_of.setdefault(key.casefold(), group_name)
        if other != group_name:
            raise FittedParasError(f"groups {other!r} and {group_name!r} would both be written to "
                                   f"model_{key}_fitted_paras.jsonl; rename one (group remove, then group add) "
                                   "and fit it again")
        line = json.dumps({"model_name": judge, "parameters": [float(w) for w in weights]})
        by_file.setdefault(folder / f"model_{key}_fitted_paras.jsonl", []).append(line)
    existing = [p for p in by_file if p.exists()]
    if existing and not overwrite:
        raise FittedParasError(f"{existing[0]} exists ({len(existing)} file(s) would be overwritten); "
                               "use --overwrite or another folder")
    aside = {p: p.with_name(p.name + ".tmp") for p in by_file}
    try:  # every file written aside first: a folder that takes none of them is left as it was
        folder.mkdir(parents=True, exist_ok=True)
        for p, lines in by_file.items():
            aside[p].write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        for tmp in aside.values():
            with suppress(OSError):
                tmp.unlink(missing_ok=True)
        raise FittedParasError(f"{folder}: cannot write the fits there ({exc.strerror or exc}); nothing was written") from None
    for p, tmp in aside.items():
        os.replace(tmp, p)
    return sorted(by_file)


__all__ = ["FittedParasError", "FittedFile", "FittedJudge", "ImportReport", "export_fits", "guess_size_b",
           "import_fits", "read_file", "read_path", "resolve_group"]
