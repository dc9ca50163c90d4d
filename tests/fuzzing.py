"""Shared pieces of the property-based suites (tests/**/test_fuzz_*.py).

One settings profile keeps every suite bounded: few examples where each runs a command
against a database, more where each only parses. `HOSTILE_VALUES` are the values that
once ended in tracebacks (issue 13.4); the strategies mix them with ordinary JSON.
Every suite counts its generated cases in CASES; test_fuzz_*.py print them at the end.
"""

from __future__ import annotations

import codecs
import os
import json
import shutil
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

CASES: Counter = Counter()

settings.register_profile(
    "fuzz", deadline=None, derandomize=bool(os.environ.get("CI")), database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much])
FAST = settings(settings.get_profile("fuzz"), max_examples=120)   # pure parsing
SLOW = settings(settings.get_profile("fuzz"), max_examples=10)    # a command and a database per case

# JSON text fragments (inserted raw, so they can be what json.dumps would never write).
HOSTILE_JSON = [
    "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "12345678901234567890123", "-1",
    "9" * 4400, "2147483648", "1.5", "true", "null", '""', '"\\ud800"', '"x\\udfff"',
    "[" * 3000 + "]" * 3000, '{"a":' * 200 + "1" + "}" * 200, "[]", "{}", '"[/bold]"',
    '"' + "x" * 200_000 + '"',
]

# Whole-file encodings and damage.
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "latin-1", "binary", "truncated"]


def encode(text: str, how: str) -> bytes:
    if how == "utf-8":
        return text.encode("utf-8")
    if how == "utf-8-sig":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    if how == "utf-16":
        return text.encode("utf-16")
    if how == "latin-1":
        return (text + "caf\u00e9").encode("latin-1", "replace")
    if how == "binary":
        return b"\x00\x01\xff\xfe\x00garbage" + text.encode("utf-8")[:50]
    if how == "truncated":
        data = text.encode("utf-8")
        return data[: max(1, len(data) // 2)]
    raise ValueError(how)


def json_with_hole(obj, path: list[str], fragment: str) -> str:
    """json.dumps(obj) with the value at `path` replaced by the raw `fragment`."""
    marker = "\u0000HOLE\u0000"
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = marker
    return json.dumps(obj).replace(json.dumps(marker), fragment)


def leaf_paths(obj, prefix=()) -> list[list[str]]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append([*prefix, k])
            out.extend(leaf_paths(v, (*prefix, k)))
    return out


fragments = st.sampled_from(HOSTILE_JSON) | st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{1,5})?(e[+-]?[0-9]{1,4})?",
                                                          fullmatch=True)


def one_line_error(output: str) -> bool:
    lines = [line for line in output.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in output


def case_db(base_db, tmp_path_factory):
    """A fresh copy of a suite's base database for one generated case: (its folder, the copy, its bytes)."""
    folder = tmp_path_factory.mktemp("case")
    db = folder / "db.duckdb"
    shutil.copyfile(base_db, db)
    return folder, db, db.read_bytes()


def run_or_refuse_cleanly(args: list[str], db, before: bytes):
    """Run the CLI: it succeeds, or it ends in one error line and leaves the database byte-identical."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    result = CliRunner().invoke(app, args, env={"COLUMNS": "10000"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if result.exit_code != 0:
        assert one_line_error(result.output), result.output
        assert db.read_bytes() == before
    return result
