"""Plain-text rendering of dataset text.

Queries, responses, reference answers, model and judge names come from data files and
uploads: they are never passed to st.markdown / st.write as markdown or HTML. Long text
goes through st.code (language None: no highlighting, no markdown); short values go into
dataframes or through `md_escape` when they must sit inside our own markdown (titles).
"""

from __future__ import annotations

import re

import streamlit as st

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'])")


def md_escape(value) -> str:
    """Escape every markdown/HTML-significant character, so the value shows as typed."""
    text = "" if value is None else str(value)
    text = text.replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def show_text(text, *, height: int | None = None, empty: str = "(empty)") -> None:
    """Long untrusted text, verbatim, wrapped, in a code block (scrolls when taller than height)."""
    body = "" if text is None else str(text)
    if not body.strip():
        body = empty
    long = body.count("\n") > 12 or len(body) > 1200
    kwargs = {"height": height} if height and long else {}
    st.code(body, language=None, wrap_lines=True, **kwargs)


def label(text) -> str:
    """A value for a widget option or a dataframe cell: plain string, no newlines."""
    return "" if text is None else str(text).replace("\n", " ")
