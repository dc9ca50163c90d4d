"""Feedback Forensics' AnnotatedPairs JSON (rdnfn/feedback-forensics).

One JSON object: `metadata` (with `default_annotator`), `annotators` (id -> {name,
description, type}) and `comparisons`, each with `id`, `prompt` (may be null), `response_a` /
`response_b` ({text, model, ...}; format 1.0 has `text_a` / `text_b` instead), `annotations`
(annotator id -> {pref: "a" / "b" / null, no_pref_reason}) and `metadata` (kept as attributes).
Every annotator becomes a judge, named by its `name`, else its `description`, else its id;
type 'human' makes a human judge, any other an LLM judge, and the description is its note.
A null preference is counted as "no vote (reason)" and left out.
"""

from __future__ import annotations

from typing import Iterator

from .base import NO_VOTE, Item, Label, Options, RawPair, RowError, Skip, EMPTY, flatten, not_a_label, optional_str, text, winner

NAME = "forensics"
TITLE = "Feedback Forensics AnnotatedPairs JSON"


def check(sample: dict, context: dict | None) -> str | None:
    if context is None or "comparisons" not in context:
        return "not a JSON object with 'comparisons'"
    if not isinstance(context.get("annotators"), dict):
        return "missing object 'annotators'"
    if "annotations" not in sample:
        return "a comparison without 'annotations'"
    return None


def judges(context: dict | None, opts: Options) -> dict[str, tuple[str, str | None]]:
    """Annotator id -> (judge name, kind); the note is kept apart in `notes`."""
    out: dict[str, tuple[str, str | None]] = {}
    taken: set[str] = set()
    for aid, info in ((context or {}).get("annotators") or {}).items():
        info = info if isinstance(info, dict) else {}
        name = optional_str(info.get("name")) or optional_str(info.get("description")) or str(aid)
        if name in taken:
            name = f"{name} ({aid})"
        taken.add(name)
        kind = "human" if str(info.get("type", "")).lower() == "human" else "llm"
        out[str(aid)] = (name, kind)
    return out


def notes(context: dict | None) -> dict[str, str]:
    names = judges(context, Options())
    return {names[str(aid)][0]: str(info["description"])
            for aid, info in ((context or {}).get("annotators") or {}).items()
            if isinstance(info, dict) and info.get("description")}


def _side(row: dict, side: str, loc: str) -> tuple[str, str | None]:
    value = row.get(f"response_{side}")
    if isinstance(value, dict):
        if "text" not in value:  # not an empty response: a response of another shape
            raise RowError(loc, f"response_{side}", "expected an object with 'text'")
        return (text(value.get("text"), loc, f"response_{side}.text"),
                optional_str(value.get("model"), loc, f"response_{side}.model"))
    if value is None and f"text_{side}" in row:
        return text(row[f"text_{side}"], loc, f"text_{side}"), optional_str(row.get(f"model_{side}"), loc, f"model_{side}")
    if isinstance(value, str):
        return text(value), optional_str(row.get(f"model_{side}"), loc, f"model_{side}")
    raise RowError(loc, f"response_{side}", "expected an object with 'text'")


def read(rows: Iterator[tuple[int, dict]], opts: Options, context: dict | None, where) -> Iterator[Item]:
    names = judges(context, opts)
    for position, row in rows:
        loc = where(position)
        if not isinstance(row, dict):
            raise RowError(loc, "comparisons", "expected an object")
        (r1, m1), (r2, m2) = _side(row, "a", loc), _side(row, "b", loc)
        if not r1.strip() or not r2.strip():
            yield Skip(position, EMPTY)
            continue
        pair = RawPair(position, text(row.get("prompt"), loc, "prompt"), r1, r2, m1, m2,
                       source_id=optional_str(row.get("id"), loc, "id"))
        annotations = row.get("annotations")
        if not isinstance(annotations, dict):
            raise RowError(loc, "annotations", "expected an object of annotator id -> {pref}")
        for aid, ann in annotations.items():
            if str(aid) not in names:
                raise RowError(loc, f"annotations.{aid}", "an annotator that is not in 'annotators'")
            pref = ann.get("pref") if isinstance(ann, dict) else ann
            vote = winner(pref, loc, f"annotations.{aid}.pref")
            if isinstance(vote, int):
                pair.labels.append(Label(names[str(aid)][0], vote))
            elif vote == NO_VOTE and isinstance(ann, dict) and ann.get("no_pref_reason"):
                pair.left_out.append(f"no vote ({ann['no_pref_reason']})")
            else:
                not_a_label(pair, vote, names[str(aid)][0])
        metadata = row.get("metadata")
        # a bare note ("metadata": "some note") is kept under its own name, not an empty key
        flatten("" if isinstance(metadata, dict) else "metadata", metadata, pair.attributes, loc)
        yield pair
