"""A custom-property file: `[[property]]` tables in TOML, checked before any call is made.

    [[property]]
    name = "humour"
    question = "Which response uses more humour?"
    scale = "compare"          # the model answers A, B or same: the feature directly
    description = "Jokes, wordplay, a light tone."   # optional

    [[property]]
    name = "hedging"
    question = "How much does the response hedge its claims?"
    scale = "rating"           # 0..3 for each response; the feature is sign(rating 1 - rating 2)

Every problem names the file, the table (its position and name) and the key, in one line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..paper import PROPERTY_NAMES
from ..sets import PAPER_SET, STYLE_SET, set_names

SCALES = {
    "compare": "the model answers A, B or same; +1 if response 1 has more of it, -1 if response 2, 0 if the same",
    "rating": "the model rates each response 0..3; the feature is sign(rating 1 - rating 2)",
}
KEYS = ("name", "question", "scale", "description")
REQUIRED = ("name", "question", "scale")
MAX_NAME = 40
MAX_QUESTION = 500
MAX_DESCRIPTION = 1000
MAX_PROPERTIES = 50
# Letters (any script), digits, space, and a few joiners: names become JSON keys and chart labels.
_NAME = re.compile(r"^[^\W_](?:[\w &'+./-]*[^\W_])?$")


class PropertyFileError(ValueError):
    """The file cannot be used; the message names the file, table and key."""


@dataclass(frozen=True)
class CustomProperty:
    name: str
    question: str
    scale: str                       # 'compare' or 'rating'
    description: str | None = None

    @property
    def rule(self) -> str:
        return SCALES[self.scale]


@dataclass(frozen=True)
class PropertyFile:
    path: Path
    properties: tuple[CustomProperty, ...]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.properties]


def _where(path: Path, index: int, name: Any) -> str:
    label = f" ({name!r})" if isinstance(name, str) and name.strip() else ""
    return f"{path}: [[property]] #{index + 1}{label}"


def _text(value: Any, where: str, key: str, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise PropertyFileError(f"{where}, key '{key}': expected a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise PropertyFileError(f"{where}, key '{key}': is empty")
    if len(text) > limit:
        raise PropertyFileError(f"{where}, key '{key}': longer than {limit} characters ({len(text)})")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise PropertyFileError(f"{where}, key '{key}': contains control characters")
    return text


def check_name(name: str, where: str) -> str:
    """A property name: up to 40 letters, digits, spaces and - _ & ' + . /, starting and ending with a
    letter or digit."""
    from ...names import NameRefused, check_name as normalised

    try:  # NFKC, no invisible, text-direction or control characters
        name = normalised(name, "property name", max_chars=MAX_NAME)
    except NameRefused as exc:
        raise PropertyFileError(f"{where}, key 'name': {exc}") from None
    if "\n" in name or "\t" in name or not _NAME.match(name):
        raise PropertyFileError(f"{where}, key 'name': {name!r} is not a property name (letters, digits, spaces "
                                "and - _ & ' + . / only, starting and ending with a letter or digit)")
    return name


def parse_table(table: Any, index: int, path: Path) -> CustomProperty:
    if not isinstance(table, dict):
        raise PropertyFileError(f"{path}: [[property]] #{index + 1}: expected a table, got {type(table).__name__}")
    where = _where(path, index, table.get("name"))
    unknown = [k for k in table if k not in KEYS]
    if unknown:
        raise PropertyFileError(f"{where}, key '{unknown[0]}': unknown key (allowed: {', '.join(KEYS)})")
    missing = [k for k in REQUIRED if k not in table]
    if missing:
        raise PropertyFileError(f"{where}, key '{missing[0]}': missing (required: {', '.join(REQUIRED)})")
    name = check_name(_text(table["name"], where, "name", MAX_NAME * 4), where)
    question = _text(table["question"], where, "question", MAX_QUESTION)
    scale = table["scale"]
    if not isinstance(scale, str) or scale.strip().lower() not in SCALES:
        raise PropertyFileError(f"{where}, key 'scale': {scale!r} is not a scale (use 'compare' or 'rating')")
    description = _text(table.get("description"), where, "description", MAX_DESCRIPTION, required=False)
    return CustomProperty(name, question, scale.strip().lower(), description)


def parse_text(text: str, path: str | Path = "<text>", *, reserved: Iterable[str] = ()) -> PropertyFile:
    """Check a whole file's text; `reserved` are names taken by other property sets."""
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PropertyFileError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of [[[...]]] or {a = {...}}
        raise PropertyFileError(f"{path}: not valid here: arrays or tables nested too deeply") from None
    except ValueError:  # an integer of more than 4,300 digits (Python's conversion limit)
        raise PropertyFileError(f"{path}: not valid here: a number of more than 4,300 digits") from None
    unknown = [k for k in data if k != "property"]
    if unknown:
        raise PropertyFileError(f"{path}: unknown top-level key '{unknown[0]}' (the file holds [[property]] "
                                "tables only)")
    tables = data.get("property")
    if tables is None:
        raise PropertyFileError(f"{path}: no [[property]] table")
    if not isinstance(tables, list):
        raise PropertyFileError(f"{path}: 'property' must be an array of tables, written [[property]]")
    if not tables:
        raise PropertyFileError(f"{path}: no [[property]] table")
    if len(tables) > MAX_PROPERTIES:
        raise PropertyFileError(f"{path}: {len(tables)} properties; at most {MAX_PROPERTIES} per file")
    taken = {n.casefold(): n for n in reserved}
    seen: dict[str, int] = {}
    props = []
    for i, table in enumerate(tables):
        prop = parse_table(table, i, path)
        key = prop.name.casefold()
        where = _where(path, i, prop.name)
        if key in seen:
            raise PropertyFileError(f"{where}, key 'name': {prop.name!r} is defined twice "
                                    f"(also in [[property]] #{seen[key] + 1})")
        if key in taken:
            raise PropertyFileError(f"{where}, key 'name': {prop.name!r} clashes with the built-in property "
                                    f"{taken[key]!r}; choose another name")
        seen[key] = i
        props.append(prop)
    return PropertyFile(path, tuple(props))


def read_file(path: str | Path, *, reserved: Iterable[str] = ()) -> PropertyFile:
    path = Path(path)
    if not path.is_file():
        raise PropertyFileError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PropertyFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_text(text, path, reserved=reserved)


def builtin_names() -> list[str]:
    """Names of the paper's and the style set's properties: a custom property may not take them."""
    return set_names(PAPER_SET) + [n for n in set_names(STYLE_SET) if n not in PROPERTY_NAMES]
