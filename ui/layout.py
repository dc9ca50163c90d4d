"""What every page shares: page config, the sidebar summary and property-set choice, the
generated-data banner, plain 'what to do next' messages when the database lacks what a page
needs, and downloads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from pipeline.queries import DEFAULT_PROPERTY_SET
from pipeline.queries.status import Status

from . import data, navigation, snapshot, state
from .text import md_escape

APP_NAME = "Preference dissection"

LOAD_RELEASE = "python -m pipeline load hf:GAIR/preference-dissection"
LOAD_FILE = "python -m pipeline load path/to/records.jsonl   # .json, .jsonl, .parquet or .csv"
BUILD_DEMO = "python -m pipeline demo"
FIT = "python -m pipeline fit"


def fit_command(status: Status) -> str:
    """The fit that works on this database: plain `fit` (the paper's set) skips every group of
    raw pairs, which have only the style properties until they are annotated."""
    pset = status.working_set
    return FIT if pset == "paper" else f"{FIT} --properties {pset}"


def properties_phrase(status: Status, property_set: str | None = None) -> str:
    """'29 properties' or 'the 10 style properties': what the choices are explained with here,
    counted in the database, never the paper's 29 where no pair is annotated."""
    pset = property_set or status.working_set
    n = status.n_properties(pset)
    if pset == "paper":
        return f"{n} annotated properties" if n else "the paper's annotated properties"
    return f"the {n} {pset} properties" if n else f"the {pset} properties"


def db_flag(status: Status) -> str:
    """' --db PATH' when the app reads a non-default file and the shell may not know it."""
    import os

    from pipeline.store import db as dbmod

    if os.environ.get(dbmod.ENV_DB) or status.path != str(dbmod.DEFAULT_DB):
        return f" --db {status.path}"
    return ""


_SET_KEY = "app.properties"  # the sidebar's property-set selector; in the URL as ?properties=


def page(page_file: str, icon: str | None = None, intro: str | None = None) -> Status:
    """Set up a page and return the database status (stops the page if the file is busy).

    `page_file` is the page's `__file__`: its title and icon come from the registry
    (ui/navigation.py). A title and an icon may be given instead."""
    navigation.leave_pages_folder_mode()
    spec = navigation.spec_for(page_file) if str(page_file).endswith(".py") else None
    title = spec.title if spec else str(page_file)
    icon = spec.icon if spec else (icon or ":material/article:")
    if spec and spec.default:
        title = APP_NAME
    st.set_page_config(page_title=f"{title} · {APP_NAME}", page_icon=icon, layout="wide")
    at = snapshot.pin_from_url()  # ?at=: every read of this run sees that snapshot of a lake
    data.start_run()
    status = data.status()  # a database error stops the page with its one line (ui.data.cached)
    _sidebar(status)
    snapshot.sidebar_note(at)
    st.title(f"{icon} {title}")
    if intro:
        st.caption(intro)
    if status.generated:
        st.info("**Generated demo data.** The pairs, annotations and judges shown here were made up by "
                "`pipeline demo` to have the release's shape; they are not real human or LLM judgements. "
                f"Load the real release with `{LOAD_RELEASE}`.", icon=":material/science:")
    return status


def _sidebar(status: Status) -> None:
    sb = st.sidebar
    sb.caption("Database")
    sb.text(status.path)
    if status.state == "missing":
        sb.caption("not found")
        return
    if status.generated:
        sb.caption(":material/science: " + ("generated demo data" if not status.real else "generated + real data"))
    elif status.real:
        sb.caption("real data")
    bits = [f"{status.n_pairs:,} pairs", f"{status.n_judges} judges", f"{status.n_groups} groups"]
    sb.caption(" · ".join(bits))
    if status.has_fits:
        when = status.last_fit.strftime("%Y-%m-%d %H:%M") if status.last_fit is not None else "imported"
        what = "weights imported" if status.fit_methods == ["imported"] else "last fit"
        sb.caption(f"{status.n_fit_rows} fits (judge × group) · {what} {when}")
    else:
        sb.caption("not fitted yet")
    if status.has_fits:
        _property_set_selector()


def _property_set_selector() -> None:
    """Choose among the property sets that have fits (kept in the URL like other selections)."""
    sets = data.property_sets()
    names = list(sets["property_set"]) if not sets.empty else [DEFAULT_PROPERTY_SET]
    with st.sidebar:
        state.select("Property set", names, key=_SET_KEY,
                     default=DEFAULT_PROPERTY_SET if DEFAULT_PROPERTY_SET in names else names[0],
                     disabled=len(names) < 2,
                     help="What the fits explain the choices with: 'paper' (the 29 annotated properties), "
                          "'style' (counted from the texts), 'paper+style', or 'custom' (your own). "
                          "Every page shows the fits of this set.")


def property_set() -> str:
    """The property set the user chose in the sidebar ('paper' until there is a choice)."""
    value = st.session_state.get(_SET_KEY)
    return value if isinstance(value, str) and value else DEFAULT_PROPERTY_SET


def what_next(status: Status, need: str) -> bool:
    """True when the database has what `need` ('pairs', 'labels', 'fits') asks for; else say
    what to do (an info box with the commands) and return False."""
    flag = db_flag(status)
    if status.state == "missing":
        st.info(f"**No database yet** at {md_escape(status.path)}. Build the demo (generated data, about "
                "15 s) or load the real release, then reload this page:", icon=":material/folder_open:")
        st.code(f"{BUILD_DEMO}{flag}\n{LOAD_RELEASE}{flag}", language="bash")
        return False
    if status.state == "no-schema":
        st.info("**This file holds no preference-dissection tables.** Load data into it (this creates "
                "them), or point `PREFDISSECT_DB` at another file:", icon=":material/folder_open:")
        st.code(f"{LOAD_RELEASE}{flag}\n{BUILD_DEMO}{flag}", language="bash")
        return False
    if need in ("pairs", "labels") and not status.has_pairs:
        st.info("**No pairs loaded yet.** Load the release or your own released-format file:", icon=":material/download:")
        st.code(f"{LOAD_RELEASE}{flag}\n{LOAD_FILE.replace('   #', flag + '   #')}\n{BUILD_DEMO}{flag}"
                "   # or generated demo data", language="bash")
        return False
    if need == "labels" and not status.has_labels:
        st.info("**No judge labels yet.** Add a judge's labels on the Add judge page or with "
                "`python -m pipeline add-judge NAME FILE`.", icon=":material/label:")
        return False
    if need == "fits" and not status.has_fits:
        if status.has_labels:
            st.info("**Not fitted yet.** The dissection needs a fit of every judge × group "
                    "(a few seconds on the demo). Run, then reload:", icon=":material/calculate:")
            st.code(f"{fit_command(status)}{flag}", language="bash")
        else:
            st.info("**Nothing to show yet.** Load pairs with judge labels and fit them, or import the "
                    "paper's published weights (no fit needed):", icon=":material/calculate:")
            st.code(f"{LOAD_RELEASE}{flag}\n{FIT}{flag}\n"
                    f"# or: the paper's published weights only\n"
                    f"python -m pipeline import-fits path/to/fitted_paras{flag}", language="bash")
        return False
    return True


def download_name(stem: str, status: Status, ext: str = "csv") -> str:
    """File name of a download; generated data says so in the name."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip("_") or "data"
    return f"{'GENERATED-demo_' if status.generated else ''}{safe}.{ext}"


def csv_bytes(df: pd.DataFrame, *, index: bool = False) -> bytes:
    """A DataFrame as UTF-8 CSV (the index too for square matrices)."""
    return df.to_csv(index=index).encode("utf-8")


def download_csv(label: str, df: pd.DataFrame, stem: str, status: Status, *, key: str, index: bool = False) -> None:
    """A CSV download button; generated data says so in the file name."""
    st.download_button(label, csv_bytes(df, index=index), download_name(stem, status), mime="text/csv", key=key)


def page_path(page_file: str | Path) -> str:
    """A page's path as st.page_link wants it."""
    return str(Path(page_file).resolve().relative_to(navigation.ROOT))
