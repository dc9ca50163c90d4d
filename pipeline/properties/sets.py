"""Property sets: what one fit explains a judge's choices with.

The built-in sets are the paper's 29 (`paper.py`) and the style properties counted from
the texts (`style.py`); `custom` sets are defined in the database (`custom/`).
"""

from __future__ import annotations

from .paper import PROPERTIES, PROPERTY_NAMES, paper_rule
from .style import STYLE_NAMES, STYLE_PROPERTIES

# A property set is what one fit explains the choices with. `paper`: the 29 above (pairs
# with the paper's annotations and applicable error checks); `style`: counted from the
# texts (pipeline/properties/style.py, every pair); `custom`: LLM-rated from a TOML file, defined in
# the database (`properties WHERE property_set = 'custom'`); `paper+style`: both, on the
# pairs that have both. Names are unique across sets, so `features` needs no set column.
PAPER_SET, STYLE_SET, CUSTOM_SET, UNION_SET = "paper", "style", "custom", "paper+style"
PROPERTY_SETS: tuple[str, ...] = (PAPER_SET, STYLE_SET, UNION_SET, CUSTOM_SET)
STORED_SETS: tuple[str, ...] = (PAPER_SET, STYLE_SET, CUSTOM_SET)  # sets with rows of their own in `properties`
SET_PARTS: dict[str, tuple[str, ...]] = {PAPER_SET: (PAPER_SET,), STYLE_SET: (STYLE_SET,),
                                         CUSTOM_SET: (CUSTOM_SET,), UNION_SET: (PAPER_SET, STYLE_SET)}


def set_names(property_set: str) -> list[str]:
    """The property names of a built-in set in column order (custom sets live in the database)."""
    if property_set not in PROPERTY_SETS:
        raise ValueError(f"unknown property set {property_set!r} (known: {', '.join(PROPERTY_SETS)})")
    names: list[str] = []
    for part in SET_PARTS[property_set]:
        if part == CUSTOM_SET:
            raise ValueError("the custom set is defined in the database: read properties WHERE property_set = 'custom'")
        names += PROPERTY_NAMES if part == PAPER_SET else STYLE_NAMES
    return names


def registry_rows() -> list[tuple[str, int, str, str, str, str, str]]:
    """(property_set, property_index, property, kind, source_key, description, rule) of the
    built-in sets, for the `properties` table (custom rows are written by `rate`)."""
    rows = [(PAPER_SET, p.index, p.name, p.kind, p.source_key, p.description, paper_rule(p)) for p in PROPERTIES]
    rows += [(STYLE_SET, i, p.name, "style", p.source_key, p.description, p.rule)
             for i, p in enumerate(STYLE_PROPERTIES)]
    names = [r[2] for r in rows]
    assert len(names) == len(set(names)), "property names must be unique across sets"
    return rows
