"""`?at=SNAPSHOT`: every page reads a lake as it was at one snapshot, so a shared link keeps
showing what it showed. The pin lives in the URL (and in the session, so that switching
pages keeps it); the sidebar says so and offers the newest state back."""

from __future__ import annotations

import streamlit as st

from pipeline.store import db as dbmod

from . import data

PARAM = "at"
_KEY = "_ui.snapshot"


def pin_from_url() -> int | None:
    """Pin this run's reads to the URL's snapshot (or the session's); None: the newest."""
    raw = st.query_params.get(PARAM) or st.session_state.get(_KEY)
    if raw in (None, ""):
        dbmod.pin_snapshot(None)
        return None
    try:
        at = int(str(raw))
        if at < 0:
            raise ValueError
    except ValueError:
        dbmod.pin_snapshot(None)
        st.session_state.pop(_KEY, None)
        st.error(f"?{PARAM}= must be a snapshot number (`python -m pipeline history` lists them), not {str(raw)[:40]!r}")
        st.stop()
    where = dbmod.locate(data.db_path())
    if isinstance(where, dbmod.FileDb):  # said before any read: a cached one would not notice the pin
        dbmod.pin_snapshot(None)
        data.stop_on_database_error(dbmod.no_snapshots(where, f"?{PARAM}={at}"))
    st.session_state[_KEY] = str(at)
    if st.query_params.get(PARAM) != str(at):
        st.query_params[PARAM] = str(at)
    dbmod.pin_snapshot(at)
    return at


def sidebar_note(at: int | None) -> None:
    if at is None:
        return
    st.sidebar.caption(f"Pinned to snapshot {at}: what the lake held then.")
    if st.sidebar.button("Show the newest", key="_ui.snapshot.newest"):
        st.session_state.pop(_KEY, None)
        del st.query_params[PARAM]
        dbmod.pin_snapshot(None)
        st.rerun()
