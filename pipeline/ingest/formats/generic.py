"""Any CSV, JSONL, JSON or parquet file of pairs, with the columns named by options.

Roles and their default column names (the first present is used; `--prompt-col`,
`--response-1-col`, `--response-2-col`, `--model-1-col`, `--model-2-col`, `--winner-col`,
`--rater-col`, `--id-col` name others):
  prompt: prompt, query, question, instruction, input
  response_1 / response_2: response_1 / response_2, response_a / response_b, output_1 / output_2
  model_1 / model_2: model_1 / model_2, model_a / model_b, generator_1 / generator_2
  winner: winner, preferred, preference, label, choice
The winner may be 1 / 2, a / b, model_a / model_b, response_1 / response_2 (tie and both_bad
rows are counted and left out), or a probability that response 1 is better (from 0.0 to 1.0;
exactly 0.5 is a tie). `--attribute-col` (repeatable) keeps other columns as attributes.
"""

from __future__ import annotations

from typing import Iterator

from .base import EMPTY, TIE, Item, Label, Options, RawPair, RowError, Skip, flatten, not_a_label, optional_str, text, winner

NAME = "generic"
TITLE = "generic pairs with named columns"
DEFAULTS = {
    "prompt": ("prompt", "query", "question", "instruction", "input"),
    "response_1": ("response_1", "response_a", "output_1"),
    "response_2": ("response_2", "response_b", "output_2"),
    "model_1": ("model_1", "model_a", "generator_1"),
    "model_2": ("model_2", "model_b", "generator_2"),
    "winner": ("winner", "preferred", "preference", "label", "choice"),
    "rater": ("rater",),
    "id": ("id", "question_id", "pair_id"),
}
REQUIRED = ("prompt", "response_1", "response_2", "winner")
OPTION = {"prompt": "--prompt-col", "response_1": "--response-1-col", "response_2": "--response-2-col",
          "winner": "--winner-col"}


def columns(sample: dict, opts: Options) -> tuple[dict[str, str], str | None]:
    """Role -> column for this file, and what is missing (None when all required roles are found)."""
    found: dict[str, str] = {}
    for role, names in DEFAULTS.items():
        named = opts.column(role)
        if named is not None:
            if named not in sample:
                return found, f"missing column {named!r} (given for {role})"
            found[role] = named
            continue
        hit = next((n for n in names if n in sample), None)
        if hit is not None:
            found[role] = hit
        elif role in REQUIRED:
            return found, f"missing column {names[0]!r} (or name it with {OPTION[role]})"
    for col in opts.attribute_columns:
        if col not in sample:
            return found, f"missing column {col!r} (given with --attribute-col)"
    return found, None


def check(sample: dict, context: dict | None, opts: Options | None = None) -> str | None:
    return columns(sample, opts or Options())[1]


def _vote(value: object, loc: str, name: str) -> tuple[int | str, float | None]:
    if isinstance(value, float) and 0.0 <= value <= 1.0 and value not in (1.0,):
        return (TIE, None) if value == 0.5 else (1 if value > 0.5 else 2, value)
    if isinstance(value, str) and "." in value:
        try:
            p = float(value)
        except ValueError:
            p = None
        if p is not None and 0.0 <= p <= 1.0:
            return _vote(p, loc, name)
    return winner(value, loc, name), None


def read(rows: Iterator[tuple[int, dict]], opts: Options, context: dict | None, where) -> Iterator[Item]:
    cols: dict[str, str] | None = None
    for position, row in rows:
        loc = where(position)
        if cols is None:
            cols, missing = columns(row, opts)
            if missing:
                raise RowError(loc, "columns", missing)
        r1 = text(row.get(cols["response_1"]), loc, cols["response_1"])
        r2 = text(row.get(cols["response_2"]), loc, cols["response_2"])
        if not r1.strip() or not r2.strip():
            yield Skip(position, EMPTY)
            continue
        pair = RawPair(position, text(row.get(cols["prompt"]), loc, cols["prompt"]), r1, r2,
                       optional_str(row.get(cols["model_1"]), loc, cols["model_1"]) if "model_1" in cols else None,
                       optional_str(row.get(cols["model_2"]), loc, cols["model_2"]) if "model_2" in cols else None,
                       source_id=optional_str(row.get(cols["id"]), loc, cols["id"]) if "id" in cols else None)
        vote, prob_1 = _vote(row.get(cols["winner"]), loc, cols["winner"])
        if isinstance(vote, int):
            rater = optional_str(row.get(cols["rater"]), loc, cols["rater"]) if "rater" in cols else None
            pair.labels.append(Label(opts.judge, vote, prob_1, rater))
        else:
            not_a_label(pair, vote, opts.judge, optional_str(row.get(cols["rater"])) if "rater" in cols else None)
        for col in opts.attribute_columns:
            flatten(col, row.get(col), pair.attributes, loc)
        yield pair
