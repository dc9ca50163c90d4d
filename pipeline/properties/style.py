"""The `style` property set: properties counted from the two response texts alone.

No LLM, no network, no randomness: every property counts something in a response's text
with one regular expression (polars string expressions, vectorised over all pairs at
once, so 100,000 pairs take seconds). The four of LMArena's style control come first
(length in tokens, markdown headers, list items, bold spans), then six that users of a
dissection ask about (code blocks, links, emoji, questions back to the user, refusals and
apologies, "as an AI" self-reference).

The rule that turns two counts into a feature (-1 / 0 / +1, "+1: response 1 has more"):

- `length (tokens)` uses the paper's length rule (SPEC 4d, `features.clearly_different_length`)
  on token counts instead of word counts;
- every other property is the sign of c1 - c2 when the counts differ clearly: by at least
  the property's `min_diff` AND the smaller count is at most `RATIO` (80%) of the larger.
  So 0 vs 1 header counts, 1 vs 2 list items counts, 10 vs 11 list items does not: a
  difference that a reader would not notice is 0, as the paper's length rule does for words.

Tokens: a deterministic offline tokenisation (tiktoken needs files we can't download here):
a token is a run of word characters (`\\w+`, Unicode) or one other non-space character.

Each count is also a measure of the response, stored in `response_measures` under the count
function's name (`pipeline.properties.measures`); the features are computed from those measures
(`features_from_measures`), so each property has one definition.

API: `features_from_measures(wide)` (the loader calls it for every new pair), `style_features(frame)`
(from texts), `style_counts(frame)` (the raw counts, for tests and the README), and
`pipeline.ingest.style_backfill` for pairs stored without style rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars is imported when a frame is computed, so the registry stays cheap to import
    import polars as pl

RATIO = 0.8             # counts differ clearly only if the smaller is at most 80% of the larger
LENGTH_RULE = "SPEC 4d on token counts"
_APOS = "['\u2019]"     # ASCII and typographic apostrophes


@dataclass(frozen=True)
class StyleProperty:
    name: str                                  # short name, unique across property sets
    description: str                           # one line for tooltips and the README
    count: Callable[["pl.Expr"], "pl.Expr"]    # text expression -> count expression (UInt32)
    min_diff: int | None                       # None: the paper's length rule instead
    # Gates (speed only; a test proves the counts the same): every match contains one of `needs`
    # (literal text), so a text with none of them counts 0 without its regular expression being
    # run; `ascii_zero`: a text of ASCII characters counts 0.
    needs: tuple[str, ...] = ()
    ascii_zero: bool = False

    @property
    def rule(self) -> str:
        if self.min_diff is None:
            return f"sign of the token-count difference when clearly different ({LENGTH_RULE})"
        return (f"sign(c1 - c2) when |c1 - c2| >= {self.min_diff} and min <= {RATIO:g} x max, else 0")

    @property
    def source_key(self) -> str:
        return f"style.{self.count.__name__}"

    @property
    def measure(self) -> str:
        """The name of its count in `response_measures` (the count function's name: 'list_items')."""
        return self.count.__name__


STYLE_PROPERTIES: list[StyleProperty] = []


def _style(name: str, description: str, min_diff: int | None = 1, needs: tuple[str, ...] = (),
           ascii_zero: bool = False):
    def register(fn):
        STYLE_PROPERTIES.append(StyleProperty(name, description, fn, min_diff, needs, ascii_zero))
        return fn
    return register


def gated_count(p: StyleProperty, text: "pl.Expr", is_ascii: "pl.Expr | None" = None) -> "pl.Expr":
    """p's count of `text`, its regular expression run only on the texts its gates let through
    (`is_ascii`, where known, says which texts are ASCII). A literal search costs ~0.1 ns a byte,
    a regular expression's count up to ~40 ns a match."""
    import polars as pl

    gate = pl.any_horizontal([text.str.contains(s, literal=True) for s in p.needs]) if p.needs else None
    if p.ascii_zero and is_ascii is not None:
        gate = ~is_ascii if gate is None else gate & ~is_ascii
    if gate is None:
        return p.count(text)
    return p.count(pl.when(gate).then(text)).fill_null(0)


# Regular expressions (Rust regex syntax, as polars runs them). (?m): ^ and $ at every line.
TOKEN_RE = r"\w+|[^\w\s]"
HEADER_RE = r"(?m)^[ \t]{0,3}#{1,6}[ \t]+\S"
LIST_ITEM_RE = r"(?m)^[ \t]*(?:[-*+\u2022]|\d{1,3}[.)])[ \t]+\S"
BOLD_RE = r"\*\*[^*\s](?:[^*\n]*[^*\s])?\*\*|__[^_\s](?:[^_\n]*[^_\s])?__"
FENCE_RE = r"(?m)^[ \t]*(?:```|~~~)"
LINK_RE = r"\[[^\]\n]+\]\([^)\s]+\)|https?://[^\s)>\]]+|\bwww\.[^\s)>\]]+"
EMOJI_RE = r"\p{Emoji_Presentation}|\p{Extended_Pictographic}\x{FE0F}"
QUESTION_RE = r"(?i)\b(?:you|your|yours|yourself)\b[^.!?\n]*\?"
REFUSAL_RE = (r"(?i)\b(?:I" + _APOS + r"m sorry|I am sorry|sorry,? but|I apologi[sz]e|my apologies|"
              r"I (?:can(?:not|" + _APOS + r"t)|won" + _APOS + r"t|will not|am unable to|" + _APOS +
              r"?m unable to|am not able to)\s+(?:help|assist|provide|do|comply|fulfil+|create|write|share|"
              r"generate|answer|support|give|engage))")
AS_AN_AI_RE = (r"(?i)\bas an? (?:AI|artificial intelligence|(?:large )?language model|LLM|chatbot|"
               r"virtual assistant)\b|\bI(?:" + _APOS + r"m| am) (?:just |only )?an? (?:AI|artificial intelligence|"
               r"(?:large )?language model|LLM|chatbot)\b")


@_style("length (tokens)", "Clearly longer in tokens (words and punctuation marks).", min_diff=None)
def tokens(text: "pl.Expr") -> "pl.Expr":
    """Tokens: runs of word characters, and each other non-space character on its own.

    'Hello, world!' is 4 tokens (Hello , world !). Compared by the paper's length rule.
    """
    return text.str.count_matches(TOKEN_RE)


@_style("markdown headers", "More markdown headers (# to ###### at a line's start).", needs=("#",))
def headers(text: "pl.Expr") -> "pl.Expr":
    """Lines that start (after at most 3 spaces) with 1-6 '#' and a space, then text: ATX headers."""
    return text.str.count_matches(HEADER_RE)


@_style("list items", "More list items (bulleted or numbered lines).")
def list_items(text: "pl.Expr") -> "pl.Expr":
    """Lines that start with '-', '*', '+' or a bullet, or a number with '.' or ')', then a space and text."""
    return text.str.count_matches(LIST_ITEM_RE)


@_style("bold spans", "More bold spans (**text** or __text__).", needs=("**", "__"))
def bold(text: "pl.Expr") -> "pl.Expr":
    """Markdown bold: **...** or __...__ on one line, no space just inside the markers (as CommonMark)."""
    return text.str.count_matches(BOLD_RE)


@_style("code blocks", "More fenced code blocks (``` or ~~~).", needs=("```", "~~~"))
def code_blocks(text: "pl.Expr") -> "pl.Expr":
    """Fenced code blocks: fence lines (``` or ~~~) in pairs; an unclosed last fence still opens a block."""
    fences = text.str.count_matches(FENCE_RE)
    return (fences + 1) // 2


@_style("links", "More links (markdown links, http(s):// or www. addresses).", needs=("](", "http", "www."))
def links(text: "pl.Expr") -> "pl.Expr":
    """A markdown link [text](target) counts once; otherwise each http(s):// or www. address."""
    return text.str.count_matches(LINK_RE)


@_style("emoji", "More emoji.", ascii_zero=True)  # no emoji, pictograph or U+FE0F is ASCII
def emoji(text: "pl.Expr") -> "pl.Expr":
    """Characters shown as emoji: Unicode Emoji_Presentation, or a pictograph followed by U+FE0F.

    Digits, '#' and symbols like (c) are not emoji here, although Unicode calls them Emoji.
    """
    return text.str.count_matches(EMOJI_RE)


@_style("questions to the user", "More questions addressed to the user (\"Would you like ...?\").", needs=("?",))
def questions(text: "pl.Expr") -> "pl.Expr":
    """Sentences that mention 'you'/'your' and end with '?': questions back to the user."""
    return text.str.count_matches(QUESTION_RE)


@_style("refusals & apologies", "More refusals or apologies (\"I'm sorry\", \"I can't help with\").")
def refusals(text: "pl.Expr") -> "pl.Expr":
    """Apologies (I'm sorry, I apologise, my apologies) and refusals (I can't / won't / am unable to help...)."""
    return text.str.count_matches(REFUSAL_RE)


@_style("as-an-AI", "More self-reference as an AI (\"As an AI language model\").")
def as_an_ai(text: "pl.Expr") -> "pl.Expr":
    """'As an AI / a language model / an LLM ...' and 'I am (just) an AI / a language model ...'."""
    return text.str.count_matches(AS_AN_AI_RE)


STYLE_NAMES: list[str] = [p.name for p in STYLE_PROPERTIES]
STYLE_BY_NAME: dict[str, StyleProperty] = {p.name: p for p in STYLE_PROPERTIES}
assert len(STYLE_NAMES) == len(set(STYLE_NAMES)) >= 10


# ----------------------------------------------------------------------------- rules


def compare_counts(c1: int, c2: int, min_diff: int) -> int:
    """The count rule on two numbers (the scalar twin of `_count_rule`, for tests and docs)."""
    small, large = min(c1, c2), max(c1, c2)
    if large - small < min_diff or small > RATIO * large:
        return 0
    return 1 if c1 > c2 else -1


def _sign(d: "pl.Expr") -> "pl.Expr":
    import polars as pl

    return pl.when(d > 0).then(1).when(d < 0).then(-1).otherwise(0)


def _count_rule(c1: "pl.Expr", c2: "pl.Expr", min_diff: int) -> "pl.Expr":
    import polars as pl

    a, b = c1.cast(pl.Int64), c2.cast(pl.Int64)
    small, large = pl.min_horizontal(a, b), pl.max_horizontal(a, b)
    clear = ((large - small) >= min_diff) & (small <= RATIO * large)
    return pl.when(clear).then(_sign(a - b)).otherwise(0)


def _length_rule(c1: "pl.Expr", c2: "pl.Expr") -> "pl.Expr":
    """SPEC 4d, vectorised; the same thresholds as features.clearly_different_length."""
    import polars as pl

    from .paper import SHORT_LENGTH_THRESHOLD

    a, b = c1.cast(pl.Int64), c2.cast(pl.Int64)
    s, l = pl.min_horizontal(a, b), pl.max_horizontal(a, b)
    d = l - s
    need = s.replace_strict(SHORT_LENGTH_THRESHOLD, default=None, return_dtype=pl.Int64)
    short = (s <= 11) & (l >= need)
    long_ = (s > 11) & (((s <= 0.7 * l) & (d >= 10)) | ((s <= 0.8 * l) & (d >= 20)) | ((s <= 0.9 * l) & (d >= 40)))
    return pl.when(short | long_).then(_sign(a - b)).otherwise(0)


def compare(prop: StyleProperty, c1: "pl.Expr", c2: "pl.Expr") -> "pl.Expr":
    """The feature of one style property from the two counts (see the module docstring)."""
    return _length_rule(c1, c2) if prop.min_diff is None else _count_rule(c1, c2, prop.min_diff)


# ------------------------------------------------------------------------------ frames


def _texts(frame: "pl.DataFrame") -> "pl.DataFrame":
    import polars as pl

    missing = [c for c in ("pair_id", "response_1", "response_2") if c not in frame.columns]
    if missing:
        raise ValueError(f"style_features needs the columns pair_id, response_1, response_2; missing {missing}")
    return frame.select("pair_id", pl.col("response_1").cast(pl.String).fill_null(""),
                        pl.col("response_2").cast(pl.String).fill_null(""))


def count_exprs(is_ascii: dict[int, "pl.Expr"] | None = None) -> list["pl.Expr"]:
    """Each property's count of each response, as `<measure>_1` / `_2` (e.g. list_items_1);
    `is_ascii`: side -> which of its texts are ASCII, where the caller knows."""
    import polars as pl

    return [gated_count(p, pl.col(f"response_{k}"), (is_ascii or {}).get(k)).cast(pl.Int64).alias(f"{p.measure}_{k}")
            for p in STYLE_PROPERTIES for k in (1, 2)]


def style_counts(frame: "pl.DataFrame") -> "pl.DataFrame":
    """Wide counts: pair_id and, per property, `<source_key>_1` / `_2` (e.g. style.list_items_1)."""
    counts = _texts(frame).select("pair_id", *count_exprs())
    return counts.rename({f"{p.measure}_{k}": f"{p.source_key}_{k}" for p in STYLE_PROPERTIES for k in (1, 2)})


def style_features(frame: "pl.DataFrame") -> "pl.DataFrame":
    """All style features of every pair from the texts (counted here, then `features_from_measures`)."""
    return features_from_measures(_texts(frame).select("pair_id", *count_exprs()))


def features_from_measures(measures: "pl.DataFrame") -> "pl.DataFrame":
    """All style features of every pair from its measures (a wide frame with pair_id and, per
    property, `<measure>_1` / `_2`, as `pipeline.properties.measures.measure_frame` makes):
    long frame (pair_id, property, value in -1/0/1, Int8), pairs in the frame's order,
    properties in the registry's order. One rule per property: `compare` on its two counts."""
    import numpy as np
    import polars as pl

    wide = measures.select("pair_id", *(
        compare(p, pl.col(f"{p.measure}_1"), pl.col(f"{p.measure}_2")).cast(pl.Int8).alias(p.name)
        for p in STYLE_PROPERTIES))
    k, n = len(STYLE_NAMES), wide.height
    # row-major: a pair's features side by side, in registry order (a reshape, not a sort)
    values = wide.select(STYLE_NAMES).to_numpy().reshape(n * k)
    names = pl.Series("property", STYLE_NAMES, dtype=pl.String).gather(np.tile(np.arange(k, dtype=np.uint32), n))
    return pl.DataFrame({"pair_id": np.repeat(wide["pair_id"].to_numpy(), k), "property": names,
                         "value": pl.Series(values, dtype=pl.Int8)})


__all__ = ["RATIO", "STYLE_BY_NAME", "STYLE_NAMES", "STYLE_PROPERTIES", "StyleProperty", "compare",
           "compare_counts", "count_exprs", "features_from_measures", "style_counts", "style_features"]
