"""SQL: ad-hoc read-only SQL over the database, with the schema beside it.

Queries run through pipeline.sqlguard: one read-only statement, the file attached
READ_ONLY, DuckDB's external access off (no files, no network), a row and a time limit.
"""

import streamlit as st

from pipeline import db as dbmod
from pipeline import explore, sqlguard
from pipeline.db import DatabaseMissing
from ui import data, layout, state
from ui.text import md_escape

MAX_ROWS = sqlguard.DEFAULT_MAX_ROWS
TIMEOUT_S = sqlguard.DEFAULT_TIMEOUT_S

status = layout.page(
    "SQL", ":material/terminal:",
    f"Read-only SQL (DuckDB dialect) over the database: one SELECT / WITH / DESCRIBE / SHOW / SUMMARIZE / "
    f"EXPLAIN at a time, at most {MAX_ROWS:,} rows and {TIMEOUT_S:g} s. Files on the server cannot be read "
    "or written from here.")
if not status.exists:
    layout.what_next(status, "pairs")
    st.stop()


@st.cache_data(show_spinner=False, max_entries=16)
def _schema(path: str, token: float):
    return sqlguard.describe_schema(path)


def _use_example() -> None:
    name = st.session_state.get("sql.example")
    if name in sqlguard.EXAMPLES:
        st.session_state["sql.sql"] = sqlguard.EXAMPLES[name]


main, side = st.columns([3, 1])
with side:
    st.markdown("**Tables and views**")
    try:
        schema = _schema(data.db_path(), dbmod.last_change(data.db_path()))
    except DatabaseMissing:
        schema = None
    if schema is None or schema.empty:
        st.caption("No tables yet.")
    else:
        for (name, kind), cols in schema.groupby(["name", "kind"], sort=False):
            with st.expander(f"{name}  ·  {kind}"):
                st.dataframe(cols[["column", "type"]], hide_index=True, width="stretch")
with main:
    st.selectbox("Examples", list(sqlguard.EXAMPLES), index=None, key="sql.example", on_change=_use_example,
                 placeholder="Start from an example…")
    with st.form("sql.form", border=False):
        sql = state.text("SQL", key="sql.sql", area=True, max_chars=20_000, height=180,
                         default="SELECT scenario_group, count(*) AS pairs\nFROM pairs\nGROUP BY ALL\n"
                                 "ORDER BY pairs DESC")
        run = st.form_submit_button("Run", type="primary")

    if run or "sql.result" not in st.session_state or st.session_state.get("sql.ran") != sql:
        try:
            result = sqlguard.run_query(data.db_path(), sql, max_rows=MAX_ROWS, timeout_s=TIMEOUT_S)
            st.session_state["sql.result"] = (result, None)
        except (sqlguard.QueryRefused, sqlguard.QueryTimeout, sqlguard.QueryFailed, DatabaseMissing) as exc:
            st.session_state["sql.result"] = (None, exc)
        except explore.DatabaseBusy as exc:
            st.session_state["sql.result"] = (None, exc)
        st.session_state["sql.ran"] = sql

    result, problem = st.session_state["sql.result"]
    if problem is not None:
        kind = type(problem).__name__
        if isinstance(problem, sqlguard.QueryRefused):
            st.warning(md_escape(problem), icon=":material/block:")
        elif isinstance(problem, sqlguard.QueryTimeout):
            st.warning(md_escape(problem), icon=":material/timer:")
        else:
            st.warning(f"The query failed ({kind}). DuckDB said:", icon=":material/warning:")
            st.code(str(problem), language=None)
    elif result is not None:
        st.caption(f"{result.n_rows:,} row{'s' if result.n_rows != 1 else ''} in {result.seconds:.2f} s"
                   + (" · truncated" if result.truncated else ""))
        for note in result.notes:
            st.info(note)
        st.dataframe(result.frame, hide_index=True, width="stretch")
        st.download_button("Download CSV", explore.csv_bytes(result.frame),
                           layout.download_name("query_result", status), mime="text/csv", key="sql.dl")
