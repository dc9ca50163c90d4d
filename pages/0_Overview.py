"""Home: what is loaded, how to load the real release, and a guide to the pages."""

import pandas as pd
import streamlit as st

from ui import data, layout, navigation
from ui.text import md_escape

status = layout.page(__file__)
property_set = layout.property_set()
# What the choices are explained with, counted in this database (the paper's 29 only where pairs
# carry its annotations).
explained = (f"differences in {layout.properties_phrase(status)} of the two responses (Li et al., 2024, "
             "“Dissecting Human and LLM Preferences”)" if status.working_set == "paper" else
             f"differences in {layout.properties_phrase(status)} of the two responses, counted from their "
             "texts (the paper's annotated properties come with `python -m pipeline annotate`)")
st.caption(f"Why does a judge prefer one response over another? Each judge's choices are explained by {explained}.")

if status.has_fits and not status.has_pairs:
    st.success(f"**Published weights loaded:** {status.n_fitted_judges} judges × {status.n_groups} groups, "
               "without pairs. **Dissection** and **Similarity** show them now; Samples & SHAP and Statistics "
               "need the pairs themselves (load the release to browse them).", icon=":material/check_circle:")
elif not layout.what_next(status, "pairs"):
    st.stop()

# ---------------------------------------------------------------- what is loaded
st.subheader("What is loaded")
c = st.columns(5)
c[0].metric("Pairs", f"{status.n_pairs:,}", help="Pairs of responses to one query.")
c[1].metric("Judges", status.n_judges, help="Humans and LLMs (or reward models) whose choices are dissected.")
c[2].metric("Groups", status.n_groups, help="All pairs, scenario, query-specific and your own groups; fits are "
                                            "per group.")
c[3].metric("Labels", f"{status.n_labels:,}", help="One judge's choice on one pair.")
c[4].metric("Fits", f"{status.n_fit_rows}", help="Judge × group combinations with fitted weights.")

if status.has_fits:
    when = status.last_fit.strftime("%Y-%m-%d %H:%M") if status.last_fit is not None else "unknown time"
    methods = md_escape(", ".join(status.fit_methods) or "n/a")
    skipped = f"; {status.n_skipped} judge × group skipped (too few labels)" if status.n_skipped else ""
    if status.fit_methods == ["imported"]:
        st.caption(f"Weights imported {when} (not fitted here: no credible intervals or held-out accuracy)"
                   f"{skipped}. Data kind: {status.data_label}.")
    else:
        st.caption(f"Last fit: {when} · method: {methods}{skipped}. Data kind: {status.data_label}.")
else:
    st.caption(f"Data kind: {status.data_label}. Not fitted yet.")
    layout.what_next(status, "fits")

if status.sources:
    src = pd.DataFrame(status.sources)
    src["generated"] = src["generated"].map(lambda g: "yes: generated demo data" if g else "no: real data")
    st.dataframe(src.rename(columns={"n_pairs": "pairs", "loaded_at": "loaded at"}), hide_index=True,
                 column_config={"location": st.column_config.TextColumn("location", width="medium")})

tab_judges, tab_groups = st.tabs(["Judges", "Groups"])
with tab_judges:
    judges = data.judges(property_set)
    if judges.empty:
        st.caption("No judges yet.")
    else:
        # Columns no judge has a value in (size, note, consistency of crowd data) only pushed the
        # rest out of sight; long sources and notes get a width and show whole on hover.
        judges = judges.loc[:, [c for c in judges.columns if c == "judge" or judges[c].notna().any()]]
        st.dataframe(
            judges, hide_index=True, width="stretch",
            column_config={
                "size_b": st.column_config.NumberColumn("size (B params)", format="%.0f"),
                "n_labels": st.column_config.NumberColumn("labels"),
                "n_groups_fitted": st.column_config.NumberColumn("groups fitted"),
                "mean_accuracy": st.column_config.NumberColumn(
                    "held-out accuracy", format="%.3f",
                    help="Mean over groups of the k-fold held-out accuracy of the fitted model: how much of "
                         "the judge's choices the properties of the chosen set explain."),
                "mean_baseline_accuracy": st.column_config.NumberColumn(
                    "baseline accuracy", format="%.3f",
                    help="The same folds' baseline: always the judge's more frequent choice in the training folds."),
                "position_consistency": st.column_config.NumberColumn("position consistency", format="%.2f"),
                "added_at": st.column_config.DatetimeColumn("added", format="YYYY-MM-DD"),
            })
with tab_groups:
    groups = data.groups(property_set)
    if groups.empty:
        st.caption("No groups yet.")
    else:
        paper = status.working_set == "paper"  # raw pairs are fitted on style: every pair is usable there
        st.dataframe(groups, hide_index=True, column_config={
            "n_pairs": "pairs", "n_usable": st.column_config.NumberColumn(
                "usable for fitting" if paper else "with the paper's features",
                help="Both error checks applicable: the pair has the paper's features." if paper else
                     "Annotated pairs whose error checks apply; the style set uses every pair."),
            "n_fitted_judges": "judges fitted"})

# ---------------------------------------------------------------- load data
st.subheader("Load data")
st.markdown(
    "The real release (5,240 Chatbot Arena pairs, human labels and 32 LLM judges, annotated by "
    "GPT-4-Turbo) comes from the Hugging Face hub; a local file in the released format works the same, "
    "and so do raw labelled pairs (Arena, HH-RLHF, AlpacaEval, CSV: see the README). "
    "Then fit every judge × group (raw pairs: on the style properties, which need no annotation):")
flag = layout.db_flag(status)
st.code(f"{layout.LOAD_RELEASE}{flag}\npython -m pipeline load my_records.jsonl{flag}   # .json / .jsonl / "
        f".parquet / .csv\n{layout.fit_command(status)}{flag}", language="bash")
st.caption("The app reads the database read-only and picks up changes on the next interaction. "
           "New raw pairs can be annotated on the Annotate page; new judges come in on the Add judge page.")

# ---------------------------------------------------------------- guide
st.subheader("Guide")
guide = [p for p in navigation.available() if not p.default]
cols = st.columns(2)
for i, spec in enumerate(guide):
    with cols[i % 2]:
        st.page_link(spec.path, label=spec.title, icon=spec.icon)
        st.caption(spec.summary)
