"""Cached reads: every `pipeline.explore` call goes through one st.cache_data keyed on the
database path and `db.last_change` (the file's modification time), so a rerun that only
changes a widget reads nothing, and a load, fit or new judge shows up on the next rerun.
The connection itself is opened and closed inside the explore function: nothing is held
open between reruns.
"""

from __future__ import annotations

import streamlit as st

from pipeline import db as dbmod
from pipeline import explore

from .text import md_escape


def db_path() -> str:
    return str(dbmod.resolve_db_path())


@st.cache_data(show_spinner=False, max_entries=512, ttl=6 * 3600)
def _call(name: str, path: str, token: float, args: tuple, kwargs: tuple):
    return getattr(explore, name)(path, *args, **dict(kwargs))


def get(name: str, *args, **kwargs):
    """explore.<name>(db, *args, **kwargs), cached until the database file changes.

    A database that a job is writing right now (DatabaseBusy) or that vanished mid-session
    stops the page with a plain message instead of an exception.
    """
    path = db_path()
    try:
        return _call(name, path, dbmod.last_change(path), tuple(args), tuple(sorted(kwargs.items())))
    except explore.DatabaseBusy as exc:
        st.info(f"{md_escape(exc)}. This page reads it as soon as the write is done: reload in a few seconds.",
                icon=":material/hourglass_top:")
        st.stop()
    except dbmod.DatabaseMissing as exc:
        st.info(f"{md_escape(exc)}.", icon=":material/folder_open:")
        st.stop()


def status() -> explore.Status:
    return get("status")


def clear() -> None:
    _call.clear()
