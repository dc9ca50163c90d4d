"""A fast read of conversation parquet files for `raw_bulk` (issue 18): Chatbot Arena's
(`arena.py`) and LMArena's 100k / 140k releases (`lmarena.py`), as the hub publishes them.

Parquet has types, so the staging SELECT is written from the file's schema: each column the
Python reader uses must have a type the scan knows how to read as Python does, else the scan
declines the file (`staging` returns None) and `raw_load` reads it row by row:
- ids, models and the voter as text or whole numbers; the winner as text;
- conversations as lists of {role, content} structs, content as text or as a list of
  {type, text} parts (the text parts kept, joined by a blank line: `base.text`);
- attributes as text, whole numbers or booleans; LMArena's `category_tag` and `dedup_tag`
  structs flattened to 'math_v0.1.math' and the like (`base.flatten`), their leaves of the same
  types. A float, a list, a date or binary data, two attributes of one name, or a blank name,
  declines the file.
Row by row, `plain` then holds what types cannot: no missing message or role, every role one
Python knows, every winner a word `base.WINNERS` knows, spelled in ASCII.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.parquet as pq

from .. import compressed
from .arena_scan import (
    BLANK_RESPONSE,
    TURN_JOIN,
    conversation_ok,
    role_list,
)
from .base import Options
from .conversation import ASSISTANT_ROLES, USER_ROLES
from .staging import (
    Staging,
    attribute_names_ok,
    distinct,
    identifier,
    known_winner,
    literal,
)

PART_JOIN = "chr(10) || chr(10)"   # base.text joins a message's text parts by a blank line


class Declined(Exception):
    """The file has a column the scan cannot read as Python does."""


@dataclass(frozen=True)
class ConversationParquet:
    """The scan of one conversation layout: its reader module's attribute columns, the column
    naming the voter, and the tag columns flattened into attributes as (column, prefix when it
    holds a struct, prefix otherwise)."""

    attributes: tuple[str, ...]
    rater: str
    tags: tuple[tuple[str, str, str], ...] = ()

    def applies(self, path: Path) -> bool:
        return path.name.lower().endswith(".parquet") and compressed.duckdb_names(path)

    def row_count(self, path: Path, header: list[str]) -> int | None:
        return row_count(path)

    def staging(self, path: Path, header: list[str], opts: Options) -> Staging | None:
        types = read_types(path)
        if types is None:
            return None
        try:
            return self._staging(types)
        except Declined:
            return None

    def _staging(self, types: dict[str, pa.DataType]) -> Staging:
        plain = [conversation_ok(identifier(c)) for c in ("conversation_a", "conversation_b")]
        id_col = "question_id" if "question_id" in types else "id"  # conversation_pair's row.get order
        columns = {"source_id": name_text(id_col, types), "model_1": name_text("model_a", types),
                   "model_2": name_text("model_b", types), "rater": name_text(self.rater, types)}
        winner = _column("winner", types)
        if winner is not None:
            if not is_text(types["winner"]):
                raise Declined("winner")
            plain.append(f"({winner} IS NULL OR {known_winner(winner)})")
        columns["winner"] = f"lower({winner})" if winner else "NULL::VARCHAR"
        columns["prob_1"] = "NULL::DOUBLE"
        columns["side_a"], columns["side_b"] = (messages(c, types) for c in ("conversation_a", "conversation_b"))
        attributes = self._attributes(types)
        select = ",\n  ".join([f"({' AND '.join(plain)}) AS plain", *(f"{v} AS {k}" for k, v in columns.items()),
                               *(f"{expr} AS {identifier(name)}" for name, expr in attributes.items())])
        # the sides' texts are read once, then joined into the query and the two responses
        responses = ", ".join(f"array_to_string(list_filter({_texts(side, ASSISTANT_ROLES)}, t -> t <> ''), "
                              f"{TURN_JOIN}) AS {name}" for name, side in (("response_1", "side_a"),
                                                                          ("response_2", "side_b")))
        query = f"""
SELECT *, {BLANK_RESPONSE} AS empty FROM (
SELECT * EXCLUDE (side_a, side_b), len(list_filter(side_a, m -> {_has_role(USER_ROLES)})) AS n_users,
  array_to_string({_texts('side_a', USER_ROLES)}, {TURN_JOIN}) AS query, {responses}
FROM (
SELECT
  {select}
FROM read_parquet(?)))"""
        return Staging(query, tuple(attributes))

    def _attributes(self, types: dict[str, pa.DataType]) -> dict[str, str]:
        """attribute name -> its text in SQL, in the order the Python reader sets them."""
        out: list[tuple[str, str]] = []
        for name in self.attributes:
            if name in types:
                flatten(name, identifier(name), types[name], out)
        for column, struct_prefix, other_prefix in self.tags:
            if column in types:
                kind = plain_type(types[column])
                if is_text(kind) and not pa.types.is_null(kind):
                    raise Declined(column)  # `base.maybe_json` reads JSON text in a tag column
                flatten(struct_prefix if pa.types.is_struct(kind) else other_prefix, identifier(column), kind, out)
        names = [name for name, _ in out]
        if not attribute_names_ok(names, also_taken=("side_a", "side_b")):
            raise Declined("attribute names")
        return dict(out)


def row_count(path: Path) -> int | None:
    """The rows of a parquet file by its footer."""
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception:  # pyarrow raises several kinds for a bad file; Python's reader says which
        return None


def read_types(path: Path) -> dict[str, pa.DataType] | None:
    """The file's columns and their types, or None when its footer cannot be read or two columns
    share a name (a dict per row keeps one of them; DuckDB's names ignore case)."""
    try:
        schema = pq.read_schema(path)
    except Exception:  # pyarrow raises several kinds for a bad file; Python's reader says which
        return None
    return {f.name: plain_type(f.type) for f in schema} if distinct(schema.names) else None


def _fields(struct: pa.DataType) -> dict[str, pa.DataType]:
    """A struct's fields, or Declined when two share a name (Python's dict keeps one of them)."""
    names = [struct.field(i).name for i in range(struct.num_fields)]
    if not distinct(names):
        raise Declined("struct fields")
    return {struct.field(i).name: plain_type(struct.field(i).type) for i in range(struct.num_fields)}


def plain_type(kind: pa.DataType) -> pa.DataType:
    """A dictionary-encoded column (pandas' categories) reads as its values."""
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def is_text(kind: pa.DataType) -> bool:
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
            or pa.types.is_null(kind))


def _column(name: str, types: dict[str, pa.DataType]) -> str | None:
    return identifier(name) if name in types else None


def name_text(name: str, types: dict[str, pa.DataType]) -> str:
    """An id, a model or a voter as text: `base.optional_str` of a string or a whole number."""
    if name not in types:
        return "NULL::VARCHAR"
    kind = plain_type(types[name])
    if is_text(kind) or pa.types.is_integer(kind):
        return f"{identifier(name)}::VARCHAR"
    raise Declined(name)


def flatten(prefix: str, expr: str, kind: pa.DataType, out: list[tuple[str, str]]) -> None:
    """`base.flatten` of a column or struct field, at the schema's level: one (name, SQL text)
    per leaf; a NULL leaf is NULL, and so not stored, as Python skips a None."""
    kind = plain_type(kind)
    if pa.types.is_null(kind):
        return
    if pa.types.is_struct(kind):
        for field, field_type in _fields(kind).items():
            name = f"{prefix}.{field}" if prefix else field
            flatten(name, f"struct_extract({expr}, {literal(field)})", field_type, out)
    elif pa.types.is_boolean(kind):
        out.append((prefix, f"CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' END"))
    elif pa.types.is_integer(kind) or is_text(kind):
        out.append((prefix, f"{expr}::VARCHAR"))
    else:  # a float, a list, a date, binary data: Python writes them in ways SQL does not
        raise Declined(prefix)


def messages(column: str, types: dict[str, pa.DataType]) -> str:
    """SQL: the conversation as a list of {role, content} with content as one text (or NULL)."""
    if column not in types:
        raise Declined(column)
    kind = plain_type(types[column])
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not pa.types.is_struct(kind.value_type):
        raise Declined(column)  # JSON text, or not a list of messages
    fields = _fields(kind.value_type)
    if "role" not in fields or not is_text(fields["role"]) or "content" not in fields:
        raise Declined(column)
    return f"list_transform({identifier(column)}, m -> {{'role': m.role, 'content': {_content('m.content', fields['content'])}}})"


def _content(expr: str, kind: pa.DataType) -> str:
    """SQL: a message's content as `base.text` reads it ('' for none)."""
    if is_text(kind):
        return f"coalesce({expr}::VARCHAR, '')"
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not pa.types.is_struct(kind.value_type):
        raise Declined("content")
    fields = _fields(kind.value_type)
    if "text" not in fields or not is_text(fields["text"]) or ("type" in fields and not is_text(fields["type"])):
        raise Declined("content parts")
    # a part is text when its type says so (a part without a type field is text); a NULL part is ''
    text_part = "p.type = 'text'" if "type" in fields else "p IS NOT NULL"
    texts = f"list_transform(list_filter({expr}, p -> {text_part}), p -> coalesce(p.text::VARCHAR, ''))"
    return f"coalesce(array_to_string(list_filter({texts}, t -> t <> ''), {PART_JOIN}), '')"


def _has_role(roles) -> str:
    return f"list_contains({role_list(roles)}, lower(m.role))"


def _texts(side: str, roles) -> str:
    return f"list_transform(list_filter({side}, m -> {_has_role(roles)}), m -> m.content)"


def for_layout(module: ModuleType, rater: str, tags: tuple[tuple[str, str, str], ...] = ()) -> ConversationParquet:
    return ConversationParquet(tuple(module.ATTRIBUTES), rater, tags)


__all__ = ["ConversationParquet", "Declined", "flatten", "for_layout", "is_text", "messages", "name_text", "plain_type",
           "read_types", "row_count"]
