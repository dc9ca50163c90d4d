"""What a *scan* hands `raw_bulk`: how DuckDB stages one file's rows for sorting in SQL (issue 18).

A scan is an object (a module, or an instance for a layout read several ways) with three names:
- `applies(path)`: the file is one the scan may read (its type, its compression);
- `staging(path, header, opts)`: a `Staging` for the file whose columns Python read as
  `header`, read with the load's `Options`, or None when the scan cannot prove its reading of
  this file's layout is Python's;
- `row_count(path, header)`: an independent count of the rows DuckDB must read, or None when
  DuckDB cannot be trusted with the file.

Every staging SELECT gives the same columns, by name: `plain` (the row is one the scan proves
it reads as Python does), `source_id`, `model_1`, `model_2`, `rater`, `winner` (a key of
`base.WINNERS`, lower case, or empty), `prob_1` (the judge's probability, or NULL), `n_users`,
`query`, `response_1`, `response_2`, `empty`, then one text column per attribute, named as the
attribute is stored (NULL: not stored). A `keyed` staging also gives `tk`, each row's
`text_key` (raw_bulk computes it for the others); a `judged` one gives `judge` (raw_bulk adds
it, NULL, for the others: the name is taken by COLUMNS), the judge a row
names (AlpacaEval's `annotator`; NULL or empty: the load's judge), as `formats.judge_name` reads
it before it normalises it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import WINNERS

# The columns every staging SELECT gives; an attribute may not take one of these names.
COLUMNS = ("plain", "source_id", "model_1", "model_2", "rater", "winner", "prob_1", "n_users", "query",
           "response_1", "response_2", "empty", "judge")


@dataclass(frozen=True)
class Staging:
    query: str                     # the staging SELECT; one parameter: the file's path
    attributes: tuple[str, ...]    # its attribute columns, stored in pair_attributes under these names
    keyed: bool = False            # the SELECT gives `tk` too (a scan that hashed the texts already)
    judged: bool = False           # it gives `judge` too: each row's judge as written (NULL: the load's)


def text_key(query: str, response_1: str, response_2: str) -> str:
    """SQL: a pair's text key (`writing.pair_key`: SHA-1 of the three texts, each followed by
    chr(31)), from three text expressions."""
    return f"sha1({query} || chr(31) || {response_1} || chr(31) || {response_2} || chr(31))"


def hashed_order(rows: str) -> str:
    """SQL: `rows` (with `query`, `chosen_reply`, `rejected_reply`) with `swapped` (`base.hashed_swap`:
    response 1 is the rejected reply) and `tk`, the pair's text key in that order. hashed_swap's
    SHA-1 is the text key of the pair unswapped, so only a swapped pair is hashed again."""
    unswapped = text_key("query", "chosen_reply", "rejected_reply")
    swapped = text_key("query", "rejected_reply", "chosen_reply")
    return (f"SELECT * EXCLUDE (unswapped_key), CASE WHEN swapped THEN {swapped} ELSE unswapped_key END AS tk "
            f"FROM (SELECT *, coalesce(list_contains({_ODD_HEX}, substr(unswapped_key, 2, 1)), FALSE) AS swapped "
            f"FROM (SELECT *, {unswapped} AS unswapped_key FROM ({rows})))")


# `hashed_order`'s rows as a pair's two responses: the rejected reply first when swapped
ORDERED_REPLIES = ("CASE WHEN swapped THEN rejected_reply ELSE chosen_reply END AS response_1, "
                   "CASE WHEN swapped THEN chosen_reply ELSE rejected_reply END AS response_2")


def known_winner(text: str) -> str:
    """SQL: the text is a winner word `base.WINNERS` knows (or empty), in any case, spelled in
    printable ASCII: DuckDB lowers 'TİE' to 'tie', Python to 'ti̇e', a word it does not know."""
    return f"(regexp_full_match({text}, '[ -~]*') AND list_contains({_WINNER_WORDS}, lower({text})))"


def attribute_names_ok(names: list[str], also_taken: tuple[str, ...] = ()) -> bool:
    """No blank name, and no two alike once lowered, among the attributes, the staged columns,
    raw_bulk's text key and the scan's own columns: DuckDB's names ignore case, and Python's
    reader keeps the last of a name and drops a blank one."""
    return distinct([*names, *COLUMNS, "tk", *also_taken]) and all(n.strip() for n in names)


def distinct(names: list[str]) -> bool:
    """No two names alike once lowered: DuckDB's column and field names ignore case."""
    return len({n.lower() for n in names}) == len(names)


def identifier(name: str) -> str:
    """A column name as a quoted SQL identifier (an attribute may be named 'math_v0.1.math')."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A text as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


_WINNER_WORDS = "[" + ", ".join(literal(k) for k in [*WINNERS, ""]) + "]"
_ODD_HEX = "['1', '3', '5', '7', '9', 'b', 'd', 'f']"  # a SHA-1 whose first byte is odd: its second hex digit


__all__ = ["COLUMNS", "ORDERED_REPLIES", "Staging", "attribute_names_ok", "distinct", "hashed_order", "identifier", "known_winner", "literal",
           "text_key"]
