"""SQL: ad-hoc read-only SQL over the database, with the schema beside it.

Queries run through pipeline.sqlguard: one read-only statement, the file attached
READ_ONLY, DuckDB's external access off (no files, no network), limits on rows, result
bytes, memory, temp disk and time. A query that arrives in the link (?sql=...) is shown
but waits for a click on Run: a shared link cannot make the server do work by itself.
"""

import streamlit as st

from pipeline import sqlguard
from pipeline.store.db import DatabaseMissing
from pipeline.store.errors import DatabaseError
from ui import data, layout, state
from ui.text import md_escape

MAX_ROWS = sqlguard.DEFAULT_MAX_ROWS
TIMEOUT_S = sqlguard.DEFAULT_TIMEOUT_S

status = layout.page(
    "SQL", ":material/terminal:",
    f"Read-only SQL (DuckDB dialect) over the database: one SELECT / WITH / DESCRIBE / SHOW / SUMMARIZE / "
    f"EXPLAIN at a time, at most {MAX_ROWS:,} rows, {sqlguard.DEFAULT_MAX_BYTES // 2**20} MB of result, "
    f"{sqlguard.MEMORY_LIMIT} of memory and {TIMEOUT_S:g} s. Files on the server cannot be read "
    "or written from here.")
DEFAULT_SQL = "SELECT scenario_group, count(*) AS pairs\nFROM pairs\nGROUP BY ALL\nORDER BY pairs DESC"
# Our own statements run as soon as they are shown; anything else (a link's ?sql=) waits for Run.
TRUSTED = {DEFAULT_SQL.strip(), *(text.strip() for text in sqlguard.EXAMPLES.values())}
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
        schema = _schema(data.db_path(), data.last_change())
    except DatabaseError:
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
        sql = state.text("SQL", key="sql.sql", area=True, max_chars=sqlguard.MAX_SQL_CHARS, height=180,
                         default=DEFAULT_SQL)
        run = st.form_submit_button("Run", type="primary")

    stale = st.session_state.get("sql.ran") != sql
    if run or (stale and sql.strip() in TRUSTED):
        try:
            result = sqlguard.run_query(data.db_path(), sql, max_rows=MAX_ROWS, timeout_s=TIMEOUT_S)
            st.session_state["sql.result"] = (result, None)
        except (sqlguard.QueryRefused, sqlguard.QueryTimeout, sqlguard.QueryFailed, DatabaseError) as exc:
            st.session_state["sql.result"] = (None, exc)
        st.session_state["sql.ran"] = sql
    elif stale:
        st.info("This query has not run yet (it came with the link, or was edited): read it, then press Run.",
                icon=":material/play_arrow:")

    result, problem = st.session_state.get("sql.result", (None, None))
    if problem is not None:
        kind = type(problem).__name__
        if isinstance(problem, sqlguard.QueryRefused):
            st.warning(md_escape(problem), icon=":material/block:")
        elif isinstance(problem, (sqlguard.QueryTimeout, sqlguard.QueryTooBig)):
            st.warning(md_escape(problem), icon=":material/timer:")
        elif isinstance(problem, (DatabaseMissing, DatabaseError)):
            st.warning(md_escape(problem), icon=":material/warning:")
        else:
            st.warning(f"The query failed ({kind}). DuckDB said:", icon=":material/warning:")
            st.code(str(problem), language=None)
    elif result is not None:
        st.caption(f"{result.n_rows:,} row{'s' if result.n_rows != 1 else ''} in {result.seconds:.2f} s"
                   + (" · truncated" if result.truncated else ""))
        for note in result.notes:
            st.info(note)
        st.dataframe(result.frame, hide_index=True, width="stretch")
        st.download_button("Download CSV", layout.csv_bytes(result.frame),
                           layout.download_name("query_result", status), mime="text/csv", key="sql.dl")
