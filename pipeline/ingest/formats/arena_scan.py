"""A fast read of Arena JSON lines (`arena.py`'s layout): DuckDB parses the file and builds each
row's query and responses in SQL, instead of json.loads and Python checks per row (issue 18).

It yields exactly the items `arena.read` would. It takes only rows it can prove plain: ids, models
and voters as text or whole numbers, a winner spelled as `WINNERS` knows it, conversations of
{role, content} messages with known roles and text content, attributes as text, whole numbers or
booleans. At the first row that is not plain, or when DuckDB refuses the file (invalid JSON or
UTF-8, a duplicate key, a lone surrogate), the rows from there on go to `arena.read`, which keeps
every message and check of the Python path. A pass over the raw lines first counts the rows and
hands the few lines Python might refuse for nesting or a huge number to `sources.loads`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from .. import compressed, sources
from . import line_scan
from .base import (
    EMPTY,
    MULTI_TURN,
    NO_VOTE,
    WINNERS,
    Item,
    Label,
    Options,
    RawPair,
    Skip,
    not_a_label,
)
from .conversation import ASSISTANT_ROLES, USER_ROLES
from .staging import Staging, known_winner

BATCH = 20_000               # rows per Arrow batch: bounds memory
MEMORY_LIMIT = "512MB"       # the reading connection's buffers (the rows stream through it)
MAX_DIGITS = 4300           # a longer run of digits is past Python's int limit: sources.loads refuses it
# DuckDB reads a message's content as VARCHAR (a JSON leaf would cost a second parse of every text),
# which would take a number or an object as text: a content key (the only place `"content"` can be
# followed by ':') must hold a string or null, and no key may be spelled with escapes of ASCII
# (`line_scan` looks for both).
# what Python's str.strip() strips: every character str.isspace() calls space (none past U+3000),
# as a text and as a regular expression's class
SPACE_CHARS = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
SPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in SPACE_CHARS) + "]"
_SPACE = SPACE_CLASS + "*"  # for `not text.strip()`
# a JSON whole number as Python's str(int) writes it back, and short enough for `base.optional_str`
# (under 2**199: at most 59 digits; a longer name is refused by Python, so not plain)
WHOLE = "0|-?[1-9][0-9]{0,58}"
WHOLE_TEXT = "0|-?[1-9][0-9]{0,299}"  # the same for `base.text`, which writes back one under 2**999


class NotPlain(Exception):
    """The fast read stops here; the Python reader takes the rows from `rows` on."""

    def __init__(self, rows: int, replay: bool = False):
        super().__init__(rows)
        self.rows, self.replay = rows, replay  # replay: the rows given so far are in doubt


def applies(path: Path) -> bool:
    """A UTF-8 .jsonl file without a byte-order mark, uncompressed, gzip or zstd (`compressed.duckdb_reads`)."""
    return compressed.duckdb_reads(path, ".jsonl")


def line_check(path: Path, keys: tuple[str, ...] = line_scan.KEYS) -> int | None:
    """The number of non-blank lines, or None when the value of one of `keys` (a message's
    content, by default) is not text or null, a key may be spelled with escapes, or a line may be
    one Python refuses (nested past sources.MAX_DEPTH, or an integer too long) and sources.loads
    does refuse it. One compiled pass over the bytes (`line_scan`)."""
    rows = 0
    try:
        for block_rows, odd, suspects in line_scan.scan(path, sources.MAX_DEPTH, MAX_DIGITS, keys):
            if odd:
                return None
            for line in suspects:
                try:
                    sources.loads(line.decode("utf-8"), path)
                except (sources.SourceError, UnicodeDecodeError):
                    return None
            rows += block_rows
    except compressed.ArchiveBroken:  # Python's reader says how far it got
        return None
    return rows


def json_text(col: str) -> str:
    """A JSON leaf as text: a string unescaped, a whole number or boolean as written."""
    return f"CASE WHEN left({col}, 1) = '\"' THEN {col}->>'$' ELSE {col}::VARCHAR END"


def json_name_ok(col: str, whole: str = WHOLE) -> str:
    """SQL: a JSON leaf `base.optional_str` takes: null, a string or a whole number it writes back
    (`whole`: WHOLE_TEXT for `base.text`)."""
    return f"({col} IS NULL OR left({col}, 1) = '\"' OR regexp_full_match({col}::VARCHAR, '{whole}'))"


def json_value_ok(col: str) -> str:
    """SQL: a JSON leaf `base.flatten` stores as `json_text` gives it: a name, or a boolean."""
    return f"({json_name_ok(col)} OR {col}::VARCHAR IN ('true', 'false'))"


def role_list(roles) -> str:
    return "[" + ", ".join(f"'{r}'" for r in sorted(roles)) + "]"


# A role is read as text (DuckDB writes a number, a boolean or an object as its JSON): only a JSON
# string can be a run of letters that is a known role, so no JSON parse of every role is needed.
_MESSAGE_OK = (f"m IS NOT NULL AND regexp_full_match(m.role, '[A-Za-z]+') "
               f"AND list_contains({role_list(USER_ROLES | ASSISTANT_ROLES | {'system'})}, lower(m.role)) "
               )  # content is text or null: `line_check` saw to it


def conversation_ok(col: str) -> str:
    """SQL: a list of {role, ...} messages whose every role Python knows (content is not looked at)."""
    # a NULL test (a missing role) is a message not proved plain; only an empty list is vacuously plain
    return (f"({col} IS NOT NULL AND coalesce(list_bool_and(list_transform({col}, "
            f"m -> coalesce({_MESSAGE_OK}, FALSE))), TRUE))")


def _contents(col: str, roles) -> str:
    return (f"list_transform(list_filter({col}, m -> list_contains({role_list(roles)}, lower(m.role))), "
            "m -> coalesce(m.content, ''))")


TURN_JOIN = "chr(10) || chr(10)"  # conversation.TURN_SEPARATOR in SQL
_COLUMNS = {"question_id": "JSON", "id": "JSON", "model_a": "JSON", "model_b": "JSON", "winner": "JSON",
            "judge": "JSON", "conversation_a": "STRUCT(role VARCHAR, content VARCHAR)[]",
            "conversation_b": "STRUCT(role VARCHAR, content VARCHAR)[]", "language": "JSON", "turn": "JSON", "anony": "JSON"}
QUERY = f"""
SELECT
  ({json_name_ok('question_id')} AND (question_id IS NOT NULL OR id IS NULL) AND {json_name_ok('model_a')}
   AND {json_name_ok('model_b')} AND {json_name_ok('judge')} AND {conversation_ok('conversation_a')} AND {conversation_ok('conversation_b')}
   AND (winner IS NULL OR (left(winner, 1) = '"' OR regexp_full_match(winner::VARCHAR, '{WHOLE}'))
        AND {known_winner(json_text('winner'))})
   AND {json_value_ok('language')} AND {json_value_ok('turn')} AND {json_value_ok('anony')}) AS plain,
  {json_text('question_id')} AS source_id, {json_text('model_a')} AS model_1, {json_text('model_b')} AS model_2,
  {json_text('judge')} AS rater, lower({json_text('winner')}) AS winner, NULL::DOUBLE AS prob_1,
  len(list_filter(conversation_a, m -> list_contains({role_list(USER_ROLES)}, lower(m.role)))) AS n_users,
  array_to_string({_contents('conversation_a', USER_ROLES)}, {TURN_JOIN}) AS query,
  array_to_string(list_filter({_contents('conversation_a', ASSISTANT_ROLES)}, t -> t <> ''), {TURN_JOIN}) AS response_1,
  array_to_string(list_filter({_contents('conversation_b', ASSISTANT_ROLES)}, t -> t <> ''), {TURN_JOIN}) AS response_2,
  {json_text('language')} AS language, {json_text('turn')} AS turn, {json_text('anony')} AS anony
FROM read_json(?, format = 'newline_delimited', columns = {_COLUMNS})
"""
def blank(text: str) -> str:
    """SQL: a text Python calls empty (`not text.strip()`)."""
    return f"regexp_full_match({text}, '{_SPACE}')"


# `_SPACE` in a JSON string as DuckDB writes a leaf back: each space as itself, as a short escape
# (JSON's for tab, newline, form feed and carriage return) or as `\uXXXX`
_JSON_SPACE = ('"(?:' + SPACE_CLASS + r"|\\[tnfr]|\\u(?i:" + "|".join(f"{ord(c):04x}" for c in SPACE_CHARS)
               + '))*"')


def json_blank(leaf: str) -> str:
    """SQL: a JSON leaf that is null or a string Python calls empty, found without unescaping it
    (a leaf of another kind is not blank)."""
    return f"({leaf} IS NULL OR regexp_full_match({leaf}, '{_JSON_SPACE}'))"


def blank_response(response_1: str, response_2: str) -> str:
    """SQL: either response is one Python calls empty (`not text.strip()`)."""
    return f"{blank(response_1)} OR {blank(response_2)}"


BLANK_RESPONSE = blank_response("response_1", "response_2")
QUERY = f"SELECT *, {BLANK_RESPONSE} AS empty FROM ({QUERY})"
ATTRIBUTES = ("language", "turn", "anony")


# The scan `raw_bulk` stages a file with (`formats/staging.py`)
def staging(path: Path, header: list[str], opts: Options) -> Staging:
    """The staging SELECT; a JSON-lines file's columns are found by name."""
    return Staging(QUERY, ATTRIBUTES)


def row_count(path: Path, header: list[str]) -> int | None:
    """The rows DuckDB must read, or None when it cannot be trusted with the file (`line_check`)."""
    return line_check(path)


def items(path: Path, opts: Options, start: int, count: Callable[[int], None]) -> Iterator[Item]:
    """The items of the file's rows (positions from `start`; `count` is told each one read); raises
    NotPlain(k) after yielding the items of its first k rows when the rest is for the Python reader."""
    lines = line_check(path)
    if lines is None:
        raise NotPlain(0)
    done = 0
    same = {}.setdefault  # one string object per model and voter name: the loader keeps them per battle
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT})
    try:
        reader = con.execute(QUERY, [str(path)]).to_arrow_reader(BATCH)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except duckdb.Error:
                raise NotPlain(done) from None
            columns = batch.to_pydict()
            for row in zip(*columns.values()):
                if not row[0]:
                    raise NotPlain(done)
                count(start + done)
                done += 1
                yield _item(start + done - 1, dict(zip(columns, row)), opts, same)
    except duckdb.Error:
        raise NotPlain(done) from None
    finally:
        con.close()
    if done != lines:  # a line DuckDB read as two rows, or none: Python's reader has the say
        raise NotPlain(done, replay=True)


def _item(position: int, row: dict, opts: Options, same: Callable[[str, str], str]) -> Item:
    n_turns = max(row["n_users"], 1)
    if n_turns > 1 and not opts.multi_turn:
        return Skip(position, MULTI_TURN)
    if row["empty"]:
        return Skip(position, EMPTY)
    m1, m2, rater = (same(v, v) if v else None for v in (row["model_1"], row["model_2"], row["rater"]))
    pair = RawPair(position, row["query"], row["response_1"], row["response_2"], m1, m2, n_turns=n_turns,
                   source_id=row["source_id"] or None)
    vote = NO_VOTE if row["winner"] in (None, "") else WINNERS[row["winner"]]
    if isinstance(vote, int):
        pair.labels.append(Label(opts.judge, vote, None, rater))
    else:
        not_a_label(pair, vote, opts.judge, rater)
    pair.attributes = {name: row[name] for name in ATTRIBUTES if row[name] is not None}
    return pair


def read(path: Path, opts: Options, start: int, count: Callable[[int], None],
         slow: Callable[[int], Iterator[Item]]) -> Iterator[Item]:
    """`items`, handing over to `slow(k)` (the Python reader from the file's row k on) where it stops."""
    try:
        yield from items(path, opts, start, count)
    except NotPlain as stop:
        if not stop.replay:
            yield from slow(stop.rows)
            return
        for _ in slow(0):  # Python refuses such a file: its error, naming the line, ends the load
            pass
        raise sources.SourceError(f"{path}: its rows could not be told apart (one JSON object per line, "
                                  "please)") from None


__all__ = [
    "ATTRIBUTES",
    "BLANK_RESPONSE",
    "MAX_DIGITS",
    "QUERY",
    "TURN_JOIN",
    "NotPlain",
    "applies",
    "WHOLE",
    "WHOLE_TEXT",
    "blank",
    "blank_response",
    "conversation_ok",
    "items",
    "json_name_ok",
    "json_text",
    "json_value_ok",
    "line_check",
    "read",
    "role_list",
    "row_count",
    "staging",
]
