"""Annotate: upload raw pairs, see the estimated cost, start the annotation job, watch it,
see failures and retry them.

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
from pipeline.annotation import InputError, job_status, plan_job
from pipeline.llm.config import DEFAULT_MODEL
from ui import data, layout
from ui.text import md_escape, show_text

status = layout.page(
    __file__, intro=
    "New pairs (a query and two responses) get the 29 properties from an LLM through any OpenAI-compatible "
    "server, following the paper's protocol, and are then loaded like the release.")
if not status.exists:
    layout.what_next(status, "pairs")
    st.caption("Or annotate into a new database from a terminal: `python -m pipeline annotate pairs.jsonl`.")
    st.stop()

db_path = Path(data.db_path())


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
    st.caption(f"Input: {md_escape(info.get('input', '?'))} · model {md_escape(info.get('model', '?'))} · "
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
    if not js.running and (js.calls.get("failed") or failed_pairs) and info.get("input"):
        if Path(info["input"]).exists():
            st.button("Retry the failed calls", key="ann.retry", on_click=_start,
                      args=(jobs.AnnotateJob(info["input"], str(db_path), info.get("model") or DEFAULT_MODEL,
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
with st.expander("Accepted files", expanded=False):
    st.markdown(
        "JSONL, JSON or CSV with a query and two responses: `prompt` or `query`, `response_a`/`response_b` "
        "(or `response_1`/`response_2`), optional `model_a`/`model_b` and `winner` (Chatbot Arena style; it "
        "becomes the human label, ties are left out). Chatbot Arena conversations (`conversation_a`/`_b`, "
        "single turn) work too. The server and key come from `OPENAI_BASE_URL` and `OPENAI_API_KEY` in the "
        "app's environment (or `.env`).")
upload = st.file_uploader("Raw pairs", type=["jsonl", "json", "csv"], key="ann.file")
c = st.columns(4)
with c[0]:
    model = st.text_input("Annotating model", value=DEFAULT_MODEL, key="ann.model")
with c[1]:
    max_pairs = st.number_input("At most N pairs", min_value=1, value=None, step=1, key="ann.max",
                                help="Empty: all pairs of the file.")
with c[2]:
    concurrency = st.number_input("Requests at once", min_value=1, max_value=64, value=8, key="ann.conc")
with c[3]:
    batch = st.toggle("Batch API (half price, up to 24 h)", key="ann.batch")

if upload is not None:
    saved = jobs.save_upload(upload.getvalue(), upload.name, jobs.uploads_folder(db_path))
    try:
        plan = plan_job(saved, db=db_path, model=model.strip() or None, max_pairs=max_pairs,
                        concurrency=int(concurrency), batch=batch)
    except InputError as exc:
        st.warning(f"The file cannot be used: {md_escape(exc)}", icon=":material/block:")
        st.stop()
    m = st.columns(5)
    m[0].metric("Pairs to annotate", f"{len(plan.tasks):,}")
    m[1].metric("Already loaded", f"{len(plan.present):,}", help="Only their human labels are added.")
    m[2].metric("Rows left out", f"{len(plan.skipped):,}")
    m[3].metric("Calls to make", f"{plan.calls_to_make:,}")
    m[4].metric("Estimated cost", "n/a" if plan.est_cost_usd is None else f"${plan.est_cost_usd:,.2f}")
    with st.expander("Plan details"):
        show_text("\n".join(plan.lines()))
    for problem in plan.problems:
        st.warning(f"Cannot start: {md_escape(problem)}", icon=":material/key:")
    running = job_status(db_path).running
    nothing = not plan.tasks and not plan.present
    if nothing:
        st.info("Nothing to annotate in this file.")
    st.button("Start annotating", type="primary", key="ann.start", on_click=_start,
              args=(jobs.AnnotateJob(str(saved), str(db_path), model.strip() or DEFAULT_MODEL, max_pairs,
                                     int(concurrency), batch),),
              disabled=bool(plan.problems) or running or nothing,
              help="Runs `python -m pipeline annotate` in the background; you can keep using the app.")
    if running:
        st.caption("A job is running on this database; wait for it to finish before starting another.")
else:
    st.caption("Upload a file to see how many calls it needs and what it would cost.")
