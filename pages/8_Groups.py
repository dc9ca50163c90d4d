"""Groups: every group of pairs, and your own slices (a SQL condition over the pairs and their
attributes), added, previewed, fitted and removed here.

The work is pipeline.groups (the same checks as `python -m pipeline group add`: one expression
that only reads, bound on a read-only connection with external access off) and
pipeline.model.fitting; this page only drives them. It changes the database only when a button
says so. Names, conditions and notes are shown in tables or escaped, never as markdown.
"""

import shlex

import pandas as pd
import streamlit as st

from pipeline import groups
from pipeline.store.errors import DatabaseError
from pipeline.properties.sets import PROPERTY_SETS
from ui import data, layout
from ui.text import md_escape

status = layout.page(
    __file__,
    intro="Slice the pairs your own way, for example by language or by topic, and the slice is fitted like the "
          "paper's groups and shown on every page. A slice is a SQL condition on the pairs and their attributes; "
          "it is evaluated again after every load.")
if not layout.what_next(status, "pairs"):
    st.stop()
db = data.db_path()


FLASH = "groups._flash"   # what the last action did, shown after the rerun that shows its result


def _fail(exc: Exception) -> None:
    st.error(md_escape(exc), icon=":material/block:")


def _done(*lines: str) -> None:
    st.session_state[FLASH] = [md_escape(line) for line in lines]
    st.rerun()


def _fit(name: str, property_set: str, *before: str) -> None:
    from pipeline.model.fitting import FitError, fit_database

    try:
        with st.spinner("Fitting every judge on the group…"):
            report = fit_database(db, groups=[name], property_set=property_set)
    except (FitError, DatabaseError) as exc:
        st.session_state[FLASH] = [md_escape(line) for line in before]
        _fail(exc)
        return
    _done(*before, report.summary())


for line in st.session_state.pop(FLASH, None) or []:
    st.success(line, icon=":material/check:")


try:
    listed = groups.list_groups(db)
    columns = groups.attribute_columns(db)
except DatabaseError as exc:
    data.stop_on_database_error(exc)

table = pd.DataFrame([{"group": g.name, "kind": g.kind, "pairs": g.n_pairs, "judges fitted": g.judges_fitted,
                       "condition": g.condition or "", "note": g.note or ""} for g in listed])
st.subheader("All groups")
if table.empty:
    st.caption("No groups yet: every load puts each pair in the group All.")
else:
    st.dataframe(table, hide_index=True, width="stretch")
custom = [g.name for g in listed if g.kind == groups.KIND]

st.subheader("Add a group")
names = [n for n, _ in columns]
attrs = names[names.index("attributes") + 1:] if "attributes" in names else []
with st.expander("Columns a condition can use", expanded=False):
    st.caption("The pairs' columns, then the pair attributes (language, is_code, category tags, ...) as columns of "
               "their own. Every attribute is also in the map column attributes, e.g. attributes['my key'].")
    st.dataframe(pd.DataFrame(columns, columns=["column", "type"]), hide_index=True, width="stretch")
example = f"{attrs[0]} IS NOT NULL" if attrs else "scenario_group = 'Code' AND num_words_1 > 200"

with st.form("groups.add", border=True):
    c1, c2 = st.columns([1, 2])
    with c1:
        name = st.text_input("Name", key="groups.name", max_chars=groups.MAX_NAME,
                             help="Shown on every page; not the name of a built-in group.")
    with c2:
        note = st.text_input("Note (optional)", key="groups.note", max_chars=500)
    condition = st.text_area("Condition (SQL)", key="groups.condition", height=90, placeholder=example,
                             help="One SQL expression that is true for the pairs in the group, e.g. "
                                  "language = 'de', or is_code AND num_words_1 > 100.")
    c3, c4, c5 = st.columns([1, 1, 2])
    with c3:
        preview = st.form_submit_button("Preview")
    with c4:
        add = st.form_submit_button("Add group", type="primary")
    with c5:
        fit_now = st.checkbox("Fit it after adding", key="groups.fit_now")

if preview or add:
    try:
        n = groups.count_matching(db, condition)
    except groups.GroupError as exc:
        _fail(exc)
    except DatabaseError as exc:
        data.stop_on_database_error(exc)
    else:
        st.info(f"{n:,} of {status.n_pairs:,} pairs match this condition.", icon=":material/filter_alt:")
        if add:
            try:
                stored = groups.add_group(name, condition, db=db, note=note or None)
            except (groups.GroupError, DatabaseError) as exc:
                _fail(exc)
            else:
                added = f"Added the group {name.strip()} with {stored:,} pairs."
                if fit_now:
                    _fit(name.strip(), layout.property_set(), added)
                else:
                    _done(added, "Fit it below, or from a shell: python -m pipeline fit --group "
                                 + shlex.quote(name.strip()))

st.subheader("Fit or remove a custom group")
if not custom:
    st.caption("No custom groups yet.")
else:
    c1, c2 = st.columns([2, 1])
    with c1:
        chosen = st.selectbox("Custom group", custom, key="groups.chosen")
    with c2:
        pset = st.selectbox("Property set", PROPERTY_SETS, key="groups.set",
                            help="What the fit explains the judges' choices with.")
    c3, c4, c5 = st.columns([1, 1, 2])
    with c3:
        fit = st.button("Fit", key="groups.fit", type="primary")
    with c5:
        sure = st.checkbox("Yes, remove it with its fits", key="groups.sure")
    with c4:
        remove = st.button("Remove", key="groups.remove", disabled=not sure)
    if fit:
        _fit(chosen, pset)
    if remove and sure:
        try:
            removed = groups.remove_group(chosen, db=db)
        except (groups.GroupError, DatabaseError) as exc:
            _fail(exc)
        else:
            st.session_state.pop("groups.sure", None)
            _done(f"Removed the group {chosen} ({removed.get('pair_groups', 0):,} members, "
                  f"{removed.get('fit_runs', 0):,} fit runs).")
