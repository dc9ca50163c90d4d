"""Annotate: upload raw pairs, or pick stored pairs that lack the paper's annotations (a SQL
condition, a maximum, a random sample), see the estimated cost, start the annotation job,
watch it, see failures and retry them.

The job runs as its own process (`python -m pipeline annotate FILE --yes`), so the app
stays usable while it runs: the job writes the database in short transactions and the
app's reads wait for them. Progress comes from the job's call journal
(pipeline.annotation.job_status), which any session can read at any time.
"""

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from pipeline import jobs
from pipeline.annotation import InputError, job_status, plan_job, plan_stored
from pipeline.annotation.plan import PREVIEW_PAIRS
from pipeline.store.errors import DatabaseError
from pipeline.llm.config import DEFAULT_MODEL
from ui import data, layout
from ui.text import md_escape, show_text

status = layout.page(
    __file__, intro=
    "Pairs (a query and two responses) get the paper's property annotations from an LLM through any "
    "OpenAI-compatible server, following the paper's protocol: new pairs from a file are then loaded like "
    "the release; stored raw pairs are filled in place.")
if not status.exists:
    layout.what_next(status, "pairs")
    st.caption("Or annotate into a new database from a terminal: `python -m pipeline annotate pairs.jsonl`.")
    st.stop()

db_path = data.db_path()  # a file's path or ducklake:... (side files: dbmod.resolve_db_path)


def _start(job: jobs.AnnotateJob) -> None:
    jobs.start_annotate(job)
    st.session_state["ann._started_at"] = time.time()


# ------------------------------------------------------------------ the job (watched)
st.subheader("Job")


_running = job_status(db_path).running
_just_started = time.time() - st.session_state.get("ann._started_at", 0) < 30


@st.fragment(run_every=2.0 if _running or _just_started else None)
def watch() -> None:
    """Refreshes itself every 2 s while a job runs (or was just started); the rest of the page stays."""
    js = job_status(db_path)
    if js.running:
        st.session_state["ann._seen_running"] = True
    elif st.session_state.pop("ann._seen_running", False) or _running:
        st.session_state["ann._started_at"] = 0
        st.rerun()  # the job ended: refresh the whole app once (new pairs, new plan, stop polling)
    run = js.run
    if not js.exists or run is None:
        st.caption("No annotation job has run on this database yet.")
        return
    info = run.get("info") or {}
    state = "running" if js.running else run.get("state", "?")
    settled = sum(n for s, n in js.calls.items() if s != "pending")
    total = int(info.get("calls") or 0)
    c = st.columns(5)
    c[0].metric("State", state)
    c[1].metric("Calls answered", f"{js.calls.get('ok', 0):,}")
    c[2].metric("Calls failed", f"{js.calls.get('failed', 0):,}")
    c[3].metric("Spent", f"${js.cost_usd:,.2f}")
    c[4].metric("Estimated", f"${float(info.get('estimated_cost_usd') or 0):,.2f}")
    if total:
        st.progress(min(1.0, settled / total), text=f"{settled:,} of {total:,} calls settled")
    source = info.get("input") or ("stored pairs" + (f" where {info['where']}" if info.get("where") else ""))
    st.caption(f"Input: {md_escape(source)} · model {md_escape(info.get('model', '?'))} · "
               f"started {md_escape(run.get('started_at'))}"
               + (f" · last answer {md_escape(js.last_call_at)}" if js.last_call_at else "")
               + (f" · {js.open_batches} batch(es) open" if js.open_batches else ""))
    if js.by_step:
        steps = pd.DataFrame(js.by_step).T.fillna(0).astype(int)
        steps.index.name = "step"
        with st.expander("Calls by step"):
            st.dataframe(steps)
    summary = run.get("summary") or {}
    failed_pairs = summary.get("pairs_failed") or []
    if failed_pairs:
        st.caption(f"{len(failed_pairs)} pair(s) failed:")
        st.dataframe(pd.DataFrame(failed_pairs, columns=["row", "reason"]), hide_index=True)
    if summary.get("aborted"):
        st.warning(f"The job stopped: {md_escape(summary['aborted'])}", icon=":material/warning:")
    if not js.running and (js.calls.get("failed") or failed_pairs) and not info.get("input"):
        st.caption("To ask the failed calls of stored pairs again, start the same selection again below: "
                   "answers already received are not asked again.")
    if not js.running and (js.calls.get("failed") or failed_pairs) and info.get("input"):
        if Path(info["input"]).exists():
            st.button("Retry the failed calls", key="ann.retry", on_click=_start,
                      args=(jobs.AnnotateJob(info["input"], db_path, info.get("model") or DEFAULT_MODEL,
                                             batch=bool(info.get("batch")), retry_failed=True),))
    tail = jobs.log_tail(db_path)
    if tail is not None:
        with st.expander("Job output", expanded=js.running):
            show_text(tail, height=300)
    if state == "interrupted":
        st.caption("The last job stopped before finishing; starting it again resumes it "
                   "(answers already received are not asked again).")


watch()

# ------------------------------------------------------------------ a new job
st.subheader("New job")
n_stored = data.unannotated_count()
FROM_FILE, STORED = "A file of new pairs", "Stored pairs without annotations"
source = st.radio("Pairs to annotate", [STORED, FROM_FILE] if n_stored else [FROM_FILE, STORED],
                  key="ann.source", horizontal=True,
                  format_func=lambda s: f"{s} ({n_stored:,})" if s == STORED else s)
c = st.columns(4)
with c[0]:
    model = st.text_input("Annotating model", value=DEFAULT_MODEL, key="ann.model")
with c[1]:
    max_pairs = st.number_input("At most N pairs", min_value=1, value=None, step=1, key="ann.max",
                                help="Empty: every pair (of the file, or of the stored selection).")
with c[2]:
    concurrency = st.number_input("Requests at once", min_value=1, max_value=64, value=8, key="ann.conc")
with c[3]:
    batch = st.toggle("Batch API (half price, up to 24 h)", key="ann.batch")
model = model.strip() or DEFAULT_MODEL
max_pairs = int(max_pairs) if max_pairs else None


@st.cache_resource(show_spinner="Counting the pairs and their cost…", max_entries=8, ttl=600)
def _stored_plan(db: str, token: float, where: str, max_pairs, sample, seed: int, model: str, concurrency: int,
                 batch: bool, preview: int):
    """A preview: of many pairs, `preview` spread over them are read and planned, the cost scaled to
    all (every pair of a million took minutes); once per selection (and database change)."""
    return plan_stored(where or None, db=db, model=model, max_pairs=max_pairs, sample=sample, seed=seed,
                       concurrency=concurrency, batch=batch, preview=preview)


def _show_plan(plan, job: jobs.AnnotateJob, nothing_text: str) -> None:
    """The cost before anything is paid for, then the button that starts the job."""
    m = st.columns(5)
    if plan.stored:
        m[0].metric("Pairs matching", f"{plan.rows:,}")
        m[1].metric("Pairs to annotate", f"{plan.n_pairs:,}")
    else:
        m[0].metric("Pairs to annotate", f"{len(plan.tasks):,}")
        m[1].metric("Already loaded", f"{len(plan.present):,}", help="Only their human labels are added.")
    m[2].metric("Rows left out", f"{len(plan.skipped):,}")
    m[3].metric("Calls to make", f"{plan.calls_to_make:,}")
    m[4].metric("Estimated cost", "n/a" if plan.est_cost_usd is None else f"${plan.est_cost_usd:,.2f}")
    if plan.preview_of is not None:
        st.caption(f"Calls and cost estimated from {len(plan.tasks):,} of the {plan.preview_of:,} pairs, spread "
                   "over them; the job plans every pair when it starts.")
    with st.expander("Plan details"):
        show_text("\n".join(plan.lines()))
    for problem in plan.problems:
        st.warning(f"Cannot start: {md_escape(problem)}", icon=":material/key:")
    running = job_status(db_path).running
    nothing = not plan.n_pairs and not plan.present
    if nothing:
        st.info(nothing_text)
    st.button("Start annotating", type="primary", key="ann.start", on_click=_start, args=(job,),
              disabled=bool(plan.problems) or running or nothing,
              help="Runs `python -m pipeline annotate` in the background; you can keep using the app.")
    if running:
        st.caption("A job is running on this database; wait for it to finish before starting another.")


if source == STORED:
    if not n_stored:
        st.info("Every stored pair already has the paper's annotations: load raw pairs "
                "(`python -m pipeline load FILE`) or annotate a file of new pairs.")
        st.stop()
    c = st.columns([3, 1, 1])
    with c[0]:
        where = st.text_input("Only pairs where (SQL condition, optional)", key="ann.where", max_chars=2000,
                              placeholder="e.g. language = 'en' AND num_words_1 < 500",
                              help="The same condition as `annotate --where` and Groups: columns of the pairs "
                                   "and their attributes; checked before it runs.").strip()
    with c[1]:
        sample = st.number_input("Random sample of N", min_value=1, value=None, step=1, key="ann.sample",
                                 help="Empty: every matching pair (up to the maximum above).")
    with c[2]:
        seed = st.number_input("Seed", min_value=0, value=0, step=1, key="ann.seed", help="Of the sample.")
    sample = int(sample) if sample else None
    try:
        plan = _stored_plan(db_path, data.last_change(), where, max_pairs, sample, int(seed), model,
                            int(concurrency), batch, PREVIEW_PAIRS)
    except InputError as exc:
        st.warning(f"The condition cannot be used: {md_escape(exc)}", icon=":material/block:")
        st.stop()
    except DatabaseError as exc:
        data.stop_on_database_error(exc)
    _show_plan(plan, jobs.AnnotateJob(None, db_path, model, max_pairs, int(concurrency), batch,
                                      where=where or None, sample=sample, seed=int(seed)),
               "No stored pair without annotations matches this condition.")
else:
    with st.expander("Accepted files", expanded=False):
        st.markdown(
            "JSONL, JSON or CSV with a query and two responses: `prompt` or `query`, `response_a`/`response_b` "
            "(or `response_1`/`response_2`), optional `model_a`/`model_b` and `winner` (Chatbot Arena style; it "
            "becomes the human label, ties are left out). Chatbot Arena conversations (`conversation_a`/`_b`, "
            "single turn) work too. The server and key come from `OPENAI_BASE_URL` and `OPENAI_API_KEY` in the "
            "app's environment (or `.env`).")
    upload = st.file_uploader("Raw pairs", type=["jsonl", "json", "csv"], key="ann.file")
    if upload is None:
        st.caption("Upload a file to see how many calls it needs and what it would cost.")
        st.stop()
    saved = jobs.save_upload(upload.getvalue(), upload.name, jobs.uploads_folder(db_path))
    try:
        plan = plan_job(saved, db=db_path, model=model, max_pairs=max_pairs, concurrency=int(concurrency),
                        batch=batch)
    except InputError as exc:
        st.warning(f"The file cannot be used: {md_escape(exc)}", icon=":material/block:")
        st.stop()
    _show_plan(plan, jobs.AnnotateJob(str(saved), db_path, model, max_pairs, int(concurrency), batch),
               "Nothing to annotate in this file.")
