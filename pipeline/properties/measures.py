"""Measurements of every response, kept in `response_counts` (pair_id, side, a column per measure)
and read through the view `response_measures` (pair_id, side, measure, value).

What an analyst asks first when a style bias is suspected ("how long are each model's
answers?", "which models use lists?") is answered from these, and the style features are
computed from them (`style.features_from_measures`), so each property has one definition.

The measures, fixed names (other code and the README rely on them):
- `tokens`: style.py's token count (runs of word characters, or one other non-space character);
- `words`: the release's `num_words` definition, NLTK's `word_tokenize` token count
  (pipeline/annotation/words.py). NLTK takes about 4 ms a response (a 100,000-pair load would
  spend 15 minutes on it), so it is approximated by one regular expression that follows the
  Treebank tokenizer's splits (WORD_RE); where a released record gives `num_words`, that
  value is the measure. On 900 real responses (AlpacaEval and HH-RLHF) the approximation
  equals NLTK's count on 93% and is off by 0.13% on average (tests/properties/test_measures.py);
- `characters`: Unicode characters;
- one per style property count, named as its count function: headers, list_items, bold,
  code_blocks, links, emoji, questions, refusals, as_an_ai.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from . import style
from .style import STYLE_PROPERTIES, count_exprs

# NLTK word_tokenize's splits, in Rust regex syntax (polars): `S` are characters that are always
# tokens of their own; a chunk of other non-space characters is one token, and keeps inner
# '.', and ',' or ':' before a digit (3.88, 3,36, www.x.com); a final period, an ellipsis, '--',
# backtick runs and a clitic ('s 'm 'd 't 'll 're 've) are tokens.
_SPLIT = r";@#$%&?!*\[\](){}<>\"«“‘„»”’\x{2012}-\x{2015}`"
_CHUNK = rf"[^\s{_SPLIT}:,.']"
WORD_RE = (rf"\.{{2,}}|--|`+|[{_SPLIT}]|[:,]|'(?i:[smdt]|ll|re|ve)\b|'"
           rf"|{_CHUNK}+(?:[:,]\d{_CHUNK}*|\.{_CHUNK}+)*|\.")


def words(text: pl.Expr) -> pl.Expr:
    """Words as NLTK's word_tokenize counts them, approximated by WORD_RE (see the module docstring)."""
    return text.str.count_matches(WORD_RE)


def characters(text: pl.Expr) -> pl.Expr:
    return text.str.len_chars()


_STYLE_MEASURES = [p.measure for p in STYLE_PROPERTIES]
MEASURES: list[str] = ["tokens", "words", "characters"] + [m for m in _STYLE_MEASURES if m != "tokens"]
assert len(set(MEASURES)) == len(MEASURES) and set(_STYLE_MEASURES) <= set(MEASURES)

_WIDE = [f"{m}_{k}" for m in MEASURES for k in (1, 2)]
# The measures `ascii_counts` counts on ASCII texts (its MEASURES; named here so that measuring
# nothing does not import numba)
COMPILED = ("tokens", "words", "list_items")
_COLUMNS = ", ".join(MEASURES)  # response_counts' measure columns


def measure_frame(frame: pl.DataFrame | pa.Table | pa.RecordBatch) -> pl.DataFrame:
    """Every measure of both responses: pair_id and `<measure>_1` / `<measure>_2` (Int64).

    `frame` has pair_id, response_1, response_2; optional num_words_1 / num_words_2 (a released
    record's word counts) are the `words` measure where they are not null. An Arrow table or batch
    (a loader's chunk) is measured as it is, its texts read in place by the compiled count."""
    names = frame.schema.names if isinstance(frame, (pa.Table, pa.RecordBatch)) else frame.columns
    missing = [c for c in ("pair_id", "response_1", "response_2") if c not in names]
    if missing:
        raise ValueError(f"measures need the columns pair_id, response_1, response_2; missing {missing}")
    compiled = _ascii_counts({k: frame[f"response_{k}"] for k in (1, 2)})
    if not isinstance(frame, pl.DataFrame):
        frame = pl.from_arrow(frame.select([c for c in names if c in _READ]))
    frame = frame.with_columns(pl.col(f"response_{k}").cast(pl.String).fill_null("") for k in (1, 2))
    frame = frame.with_columns(compiled)
    extra = []
    for k in (1, 2):
        text = pl.col(f"response_{k}")
        rest = pl.when(pl.col(f"_tokens_{k}").is_null()).then(text)  # the texts the compiled loop left
        extra += [pl.coalesce(f"_tokens_{k}", style.tokens(rest)).alias(f"tokens_{k}"),
                  _words(frame, k, pl.coalesce(f"_words_{k}", words(rest))).alias(f"words_{k}"),
                  pl.coalesce(f"_list_items_{k}", style.list_items(rest)).alias(f"list_items_{k}"),
                  characters(text).cast(pl.Int64).alias(f"characters_{k}")]
    is_ascii = {k: pl.col(f"_tokens_{k}").is_not_null() for k in (1, 2)}  # the loop counted those
    others = [e for e in count_exprs(is_ascii) if e.meta.output_name().rsplit("_", 1)[0] not in COMPILED]
    wide = frame.select(pl.col("pair_id").cast(pl.Int64), *others, *extra)
    return wide.select("pair_id", *_WIDE)


_READ = ("pair_id", "response_1", "response_2", "num_words_1", "num_words_2")  # the columns measured


def _ascii_counts(texts: dict) -> list[pl.Series]:
    """`_<measure>_k` for each compiled measure: the compiled count of side k's ASCII texts
    (`texts[k]`, a polars Series or Arrow strings; pipeline.properties.ascii_counts, the regular
    expressions' result about 3.5 times sooner), null for the other texts."""
    from . import ascii_counts  # imports numba (~0.5 s): only once something is measured

    columns = []
    for k in (1, 2):
        for name, values in zip(ascii_counts.MEASURES, ascii_counts.counts(texts[k])):
            columns.append(pl.Series(f"_{name}_{k}", values).replace(-1, None))
    return columns


def _words(frame: pl.DataFrame, k: int, counted: pl.Expr) -> pl.Expr:
    """Side k's words: the frame's num_words_k where given, else `counted`."""
    column = f"num_words_{k}"
    if column not in frame.columns:
        return counted
    if frame[column].null_count() == 0:
        return pl.col(column).cast(pl.Int64)
    return pl.coalesce(pl.col(column).cast(pl.Int64), counted)


def count_rows(wide: pl.DataFrame) -> pl.DataFrame:
    """The rows of `response_counts`: (pair_id, side Int8, one Int64 column per measure), a row per
    response."""
    return pl.concat([wide.select("pair_id", side=pl.lit(k, pl.Int8), *(pl.col(f"{m}_{k}").alias(m) for m in MEASURES))
                      for k in (1, 2)])


def store(con, wide: pl.DataFrame) -> None:
    """Insert the measures of pairs that have none yet, and give pairs without word counts
    (raw pairs) theirs: pairs.num_words_1/2 from the `words` measure where NULL."""
    if wide.height == 0:
        return
    insert(con, count_rows(wide).to_arrow(), word_counts(wide))


def word_counts(wide: pl.DataFrame):
    """(pair_id, words_1, words_2) as Arrow: the counts `insert` gives pairs without theirs."""
    return wide.select("pair_id", "words_1", "words_2").to_arrow()


def insert(con, rows, counts=None) -> None:
    """Insert `count_rows` (as Arrow); with `counts` (`word_counts`), also fill pairs.num_words_1/2
    where NULL. A loader that stores the counts with its pairs passes none: the UPDATE joins the
    whole pairs table, once per chunk."""
    con.execute(f"INSERT INTO response_counts (pair_id, side, {_COLUMNS}) SELECT pair_id, side, {_COLUMNS} FROM rows")
    if counts is None:
        return
    con.execute("UPDATE pairs SET num_words_1 = coalesce(pairs.num_words_1, c.words_1), "
                "num_words_2 = coalesce(pairs.num_words_2, c.words_2) FROM counts c "
                "WHERE pairs.pair_id = c.pair_id AND (pairs.num_words_1 IS NULL OR pairs.num_words_2 IS NULL)")


def pairs_without_measures(con) -> list[int]:
    """Ids of stored pairs that lack some measure of a response."""
    complete = " AND ".join(f"{m} IS NOT NULL" for m in MEASURES)
    return [r[0] for r in con.execute(f"""
        SELECT pair_id FROM pairs
        EXCEPT
        SELECT pair_id FROM response_counts WHERE side IN (1, 2) AND {complete}
        GROUP BY pair_id HAVING count(DISTINCT side) = 2
        ORDER BY 1""").fetchall()]


def read_texts(con, pair_ids: list[int]) -> pl.DataFrame:
    """pair_id, texts and stored word counts of the given pairs, for `measure_frame`."""
    return pl.from_arrow(con.sql(
        "SELECT pair_id, response_1, response_2, num_words_1, num_words_2 FROM pairs "
        "WHERE list_contains(?, pair_id) ORDER BY pair_id", params=[pair_ids]).to_arrow_table())


def fill_missing(con, pair_ids: list[int] | None = None, *, chunk: int = 20_000) -> int:
    """Compute and store the measures of stored pairs without them (all of a pair's rows are
    replaced), `chunk` pairs at a time so memory stays bounded. Returns how many pairs."""
    todo = pairs_without_measures(con) if pair_ids is None else pair_ids
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        con.execute("DELETE FROM response_counts WHERE list_contains(?, pair_id)", [part])
        store(con, measure_frame(read_texts(con, part)))
    return len(todo)


__all__ = ["MEASURES", "WORD_RE", "characters", "fill_missing", "insert", "measure_frame", "count_rows",
           "pairs_without_measures", "read_texts", "store", "word_counts", "words"]
