"""Add judge: upload a judge's labels, see them validated, add and fit the judge, compare it with
the others, and download its weights in the original fitted_paras format.

The work is pipeline.judges (parse_labels_file, add_judge, remove_judge) and
pipeline.model.fitted_paras.export_fits; this page only drives them.
"""

from pathlib import Path

import pandas as pd
import streamlit as st

from pipeline import jobs, judges
from pipeline.store.errors import DatabaseError
from pipeline.queries import catalog, similarity, statistics
from pipeline.queries.ordering import HUMAN
from pipeline.answers.readouts import OVERALL
from ui import charts, data, layout
from ui.text import md_escape

status = layout.page(
    __file__, intro=
    "Bring in a judge of your own (your annotators, a reward model, an LLM): upload its choices on the loaded "
    "pairs, and it is fitted for every group and shown next to the other judges on every page.")
if not layout.what_next(status, "pairs"):
    st.stop()

with st.expander("Accepted files", expanded=False):
    st.markdown(
        "- **The original's upload format**: a JSON list of `\"A\"`/`\"B\"` in dataset order "
        "(A = response 1), one per pair of the first loaded source.\n"
        "- A JSON object `{pair_id: choice}`, a JSON list or JSONL of `{\"pair_id\": …, \"preferred\": …}`, "
        "or a CSV with the columns `pair_id,preferred`.\n"
        "- A choice is A/B, 1/2, response_1/response_2, or the probability (0.0–1.0) that response 1 is "
        "better (kept, and thresholded at 0.5 for fitting; exactly 0.5 is a tie and left out).\n"
        "- A bad entry stops the whole file with a message per entry; nothing is written.")
    st.code("python -m pipeline add-judge NAME labels.json --kind llm --size 70", language="bash")

upload = st.file_uploader("Labels file", type=["json", "jsonl", "csv", "txt"], key="add.file")
if upload is not None and st.session_state.get("add._named_from") != upload.file_id:
    st.session_state["add._named_from"] = upload.file_id  # suggest the file's name, once per file
    if not st.session_state.get("add.name"):
        st.session_state["add.name"] = Path(upload.name).stem[:judges.MAX_NAME]
c1, c2, c3 = st.columns([3, 2, 2])
with c1:
    name = st.text_input("Judge name", key="add.name", max_chars=judges.MAX_NAME,
                         help="Shown in every chart; must be new unless you tick Replace.")
with c2:
    kind = st.selectbox("Kind", judges.KINDS, index=1, key="add.kind")
with c3:
    size = st.number_input("Size (billions of parameters)", min_value=0.0, value=None, step=1.0, key="add.size",
                           help="Optional; orders the similarity matrix.")
note = st.text_input("Note (optional)", key="add.note", max_chars=500)
replace = st.checkbox("Replace a judge of that name (its labels and fits)", key="add.replace")

parsed = None
if upload is not None:
    token = (upload.file_id, data.db_path(), status.n_pairs)
    if st.session_state.get("add._parsed_for") != token:
        try:
            st.session_state["add._parsed"] = judges.parse_labels_file(upload.getvalue(), upload.name,
                                                                        db=data.db_path())
        except judges.JudgeError as exc:
            st.session_state["add._parsed"] = exc
        st.session_state["add._parsed_for"] = token
    parsed = st.session_state["add._parsed"]
    if isinstance(parsed, Exception):
        st.warning(f"The file cannot be read: {md_escape(parsed)}", icon=":material/block:")
        parsed = None
    elif not parsed.ok:
        st.warning(f"**The file is refused; nothing will be written.** {len(parsed.errors)} problem(s):",
                   icon=":material/block:")
        st.dataframe(pd.DataFrame({"problem": [str(e) for e in parsed.errors[:200]]}), hide_index=True)
        parsed = None
    else:
        m = st.columns(4)
        m[0].metric("Labels", f"{len(parsed.labels):,}")
        m[1].metric("With a probability", f"{parsed.n_prob:,}")
        m[2].metric("Ties left out", f"{parsed.ties:,}")
        m[3].metric("Unlabelled", f"{parsed.missing:,}")
        st.caption(f"Valid: {md_escape(parsed.summary())}")

exists = name.strip() in set(data.judges()["judge"]) if name.strip() else False
if exists and not replace:
    st.caption(f"A judge named {md_escape(name.strip())} exists: tick Replace to overwrite it.")
go = st.button("Add and fit", type="primary", key="add.go",
               disabled=parsed is None or not name.strip() or (exists and not replace))

if go and parsed is not None:
    bar = st.progress(0.0, text="Adding the labels…")

    def tick(done: int, total: int) -> None:
        bar.progress(min(1.0, done / total) if total else 0.0, text=f"Fitting: {done} of {total} groups")

    try:
        report = judges.add_judge(name.strip(), parsed, db=data.db_path(), kind=kind, size_b=size,
                                  note=note or None, replace=replace, fit=True, progress=tick)
        bar.progress(1.0, text="Done")
        st.session_state["add._added"] = name.strip()
        st.session_state["add.compare"] = name.strip()  # show the new judge in the comparison below
        st.session_state["add._report"] = report.summary() + (
            f" · {report.fit.summary()}" if report.fit is not None else "")
        data.clear()
    except (judges.JudgeError, DatabaseError) as exc:
        bar.empty()
        st.warning(f"Nothing was written: {md_escape(exc)}", icon=":material/block:")
    except Exception as exc:  # a fitting failure after the labels were written: say so plainly
        bar.empty()
        st.warning(f"The judge's labels were added, but fitting failed: {md_escape(exc)}. Fit it from a "
                   "terminal with `python -m pipeline fit --judge NAME`.", icon=":material/warning:")

# ------------------------------------------------------------------ compare and download


def compare_section() -> None:
    """The judge added last (or a chosen one) beside the others; a heading only when there is a
    judge with a fit of the sidebar's property set to show."""
    pset = layout.property_set()
    added = st.session_state.get("add._added")
    fitted = data.fitted_judges(None, pset) if status.has_fits or added else []
    if st.session_state.get("add._report"):
        st.success(md_escape(st.session_state["add._report"]), icon=":material/check_circle:")
    if not fitted:
        if status.has_fits:
            st.caption(f"No judge has a fit of the {md_escape(pset)} set yet, so there is nothing to compare: "
                       f"`{layout.fit_command(status)}` fits every judge.")
        else:
            layout.what_next(data.status(), "fits")
        return
    st.subheader("Compare a judge with the others")
    if added not in fitted:  # else the judge added last
        added = catalog.last_added(data.judges(), fitted)
    judge = st.selectbox("Judge", fitted, key="add.compare", index=fitted.index(added))
    if len(fitted) < 2:
        st.caption(f"{md_escape(judge)} is the only judge with a fit of the {md_escape(pset)} set: add a second "
                   "judge to compare them.")
    else:
        row, where = None, None
        for where in (OVERALL, "All"):  # raw pairs have no scenario groups, only All
            sim = data.similarity_matrix(where, "pearson", None, pset)
            row = similarity.similarity_to_others(sim, judge) if judge in sim.index else None
            if row is not None and not row.empty:
                break
        if row is not None and not row.empty:
            st.altair_chart(charts.bars(
                row, x="similarity", y="judge", title=f"Similarity of {judge} to the other judges ({where})",
                domain=[-1, 1], x_title="Pearson correlation of the weights" + (
                    ", mean over scenario groups" if where == OVERALL else f" in the group {where}"),
                generated=status.generated), width="stretch")
        else:
            st.caption("No similarity to show: the judges share no fitted group.")
        agree = data.agreement()
        mine = statistics.agreement_with(agree, judge) if not agree.empty else agree
        if not mine.empty:
            st.dataframe(mine, hide_index=True,
                         column_config={"agreement": st.column_config.NumberColumn(format="%.3f"),
                                        "kappa": st.column_config.NumberColumn(format="%.3f")})
    others = [HUMAN, judge] if HUMAN in fitted and judge != HUMAN else [judge]
    st.page_link("pages/1_Dissection.py", label="See its dissection", icon=":material/bar_chart:",
                 query_params={"view": "compare", "judges": others})
    if pset != "paper":  # the original's format holds the paper's 29 weights only
        st.caption(f"The fitted_paras download holds the paper set's 29 weights; the {md_escape(pset)} weights "
                   "are in the `fits` table (SQL page).")
        return
    st.download_button("Download its weights (fitted_paras format, zip)",
                       lambda: jobs.weights_zip(data.db_path(), judge),
                       layout.download_name(f"{judge}_fitted_paras", status, "zip"), mime="application/zip",
                       key="add.dl", help="model_<group>_fitted_paras.jsonl files, as the original project wrote "
                                          "them: one line {model_name, parameters: [29 weights]} per group.")


compare_section()

# ------------------------------------------------------------------ remove
with st.expander("Remove a judge"):
    everyone = list(data.judges()["judge"])
    victim = st.selectbox("Judge to remove", everyone, index=None, key="add.remove", placeholder="choose…")
    sure = st.checkbox("Yes, remove its labels, fits and fit runs", key="add.remove_sure")
    if st.button("Remove", key="add.remove_go", disabled=victim is None or not sure):
        try:
            removed = judges.remove_judge(victim, db=data.db_path())
            data.clear()
            st.success(f"Removed {md_escape(victim)}: " + ", ".join(f"{n} {t}" for t, n in removed.items()))
        except (judges.JudgeError, DatabaseError) as exc:
            st.warning(md_escape(exc))
