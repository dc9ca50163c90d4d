"""Dissection: probability of preferred per property, for chosen judges in one group, or for
one judge across all groups."""

import math

import pandas as pd
import streamlit as st

from pipeline.queries import dissection
from pipeline.queries.ordering import sort_properties
from ui import charts, data, fit_checks, judge_difference, layout, state
from ui.text import md_escape

status = layout.page(
    __file__, intro=
    "Probability of preferred: how likely a judge is to prefer response 1 when it is better than response 2 "
    "on this one property and equal on all others (100 · sigmoid(weight)). 50% means the judge does not care.")
if not layout.what_next(status, "fits"):
    st.stop()
pset = layout.property_set()
groups = data.fitted_groups(pset)
kinds = data.group_kinds()
all_judges = data.fitted_judges(None, pset)

view = state.select("View", ["compare", "across"], key="dis.view", widget="segmented",
                    format_func={"compare": "Compare judges in a group",
                                 "across": "One judge across all groups"}.get)


def group_label(g: str) -> str:
    return f"{g}  ({kinds.get(g, 'scenario')})"


def compare_judges() -> None:
    """Chosen judges in one group: dots with intervals, fit runs, table, CSV."""
    c1, c2, c3 = st.columns([2, 4, 2])
    with c1:
        default_group = "Advice" if "Advice" in groups else groups[0]
        group = state.select("Group", groups, key="dis.group", default=default_group, format_func=group_label,
                             help="Scenario groups split pairs by the kind of query; query-specific groups "
                                  "hold the pairs whose query meets a prerequisite (a pair can be in several); "
                                  "All holds every pair.")
    judges_here = data.fitted_judges(group, pset)
    with c2:
        chosen = state.multiselect("Judges", judges_here, key="dis.judges",
                                   default=data.default_judges(judges_here, pset),
                                   help="Default: the human and the strongest LLM judge present.")
    with c3:
        sort = state.select("Sort properties", ["effect", "spread", "paper"], key="dis.sort",
                            format_func={"effect": "by effect", "spread": "by disagreement",
                                         "paper": "fixed order"}.get,
                            help="By effect: mean probability over the judges shown, most preferred on top. "
                                 "By disagreement: largest spread between the judges first.")
    if not chosen:
        st.info("Pick at least one judge.")
        return
    checks = fit_checks.checks(group, tuple(chosen), pset)
    shown = fit_checks.choose_set(checks, pset, key="dis.adjusted")  # plain, or at equal models
    df = data.preference_probability(group, tuple(chosen), shown)
    if df.empty:
        st.info("None of the chosen judges has a fit in this group (too few labels there?). "
                "See the fit runs below.")
        return
    order = sort_properties(df, sort)
    st.altair_chart(charts.dissection_dots(df, order, chosen, title=f"Probability of preferred · {group}",
                                           generated=status.generated), width="stretch")
    if not fit_checks.show_runs(checks, shown):  # runs without baselines: fitted before them, or imported
        runs = dissection.fit_summary(df)
        if "accuracy" in runs.columns:
            st.caption("Pairs fitted and held-out accuracy (how much of the judge's choices the properties explain):")
        else:
            st.caption("Imported weights: no pair counts, held-out accuracy or credible intervals come with them.")
        st.dataframe(runs, hide_index=True, column_config={
            "n_pairs": "pairs fitted", "accuracy": st.column_config.NumberColumn("held-out accuracy", format="%.3f"),
            "source": "weights from"})
    with st.expander("Table", expanded=False):
        st.dataframe(dissection.wide_table(df, columns="judge", order=order, column_order=chosen),
                     column_config={"_index": st.column_config.TextColumn("property")})
    layout.download_csv("Download CSV", df[dissection.CSV_COLUMNS], f"dissection_{group}_{shown}", status,
                        key="dis.dl")
    missing = [j for j in chosen if j not in set(df["judge"])]
    if missing:
        st.caption("No fit in this group for: " + ", ".join(md_escape(j) for j in missing))


def one_judge_across_groups() -> None:
    """One judge in every group: a heatmap, table, CSV and its fit runs."""
    judge = state.select("Judge", all_judges, key="dis.judge",
                         default=(data.default_judges(all_judges, pset) or all_judges)[-1])
    df = data.judge_across_groups(judge, pset)
    if df.empty:
        st.info("This judge has no fits.")
        return
    gorder, porder = dissection.group_order(df), dissection.property_order(df)
    # Colours spread symmetrically around 50 over the deviations present (probabilities of
    # preferred mostly lie within 40-85: a fixed 0-100 scale would leave every cell pale).
    reach = float((df["probability"] - 50).abs().max()) if len(df) else 50.0
    reach = min(50.0, max(10.0, 5 * math.ceil(reach / 5)))
    # A cell whose 95% interval spans 50 is no clear preference either way: drawn pale, and the
    # tooltip gives the interval and the pairs behind it (imported weights have no interval).
    cells = df.assign(probability=df["probability"].round(1),
                      spans_50=(df["prob_low"] <= 50) & (df["prob_high"] >= 50),
                      interval=[f"{lo:.1f} – {hi:.1f}" if pd.notna(lo) and pd.notna(hi) else "n/a"
                                for lo, hi in zip(df["prob_low"], df["prob_high"])])
    has_ci = bool(df["prob_low"].notna().any())
    chart = charts.heatmap(
        cells, x="group_name", y="property", value="probability",
        x_order=gorder, y_order=porder, domain=[50 - reach, 50 + reach], mid=50, scheme="redblue", fmt=".0f",
        title=f"{judge} across groups",
        subtitle=f"probability of preferred (%), 50 = indifferent; colours from {50 - reach:g} to {50 + reach:g}"
                 + ("; pale cells: the 95% interval includes 50" if has_ci else ""),
        value_title="probability %", generated=status.generated, cell=46, label_limit=0,
        dim="spans_50" if has_ci else None,
        tooltip_extra=[charts.alt.Tooltip("interval:N", title="95% interval %"),
                       charts.alt.Tooltip("spans_50:N", title="interval includes 50"),
                       charts.alt.Tooltip("n_pairs:Q", title="pairs fitted")])
    st.altair_chart(chart, width="content")
    with st.expander("Table", expanded=False):
        st.dataframe(dissection.wide_table(df, columns="group_name", order=porder, column_order=gorder))
    layout.download_csv("Download CSV", df.drop(columns=["description"]), f"dissection_{judge}_all_groups_{pset}",
                        status, key="dis.dl2")
    runs = data.fit_runs(judge, pset)
    if not runs.empty:
        with st.expander("Fit runs of this judge"):
            st.dataframe(runs, hide_index=True)


# The page's sections, in order; a new section is a function and one line here.
SECTIONS = {"compare": [compare_judges, lambda: judge_difference.section(status, pset, groups)],
            "across": [one_judge_across_groups]}
for section in SECTIONS[view]:
    section()

with st.expander("How to read this"):
    st.markdown(
        "- Each weight comes from a Bayesian logistic regression of the judge's choices on the differences "
        "between the two responses in the properties of the chosen set (Laplace(0, 0.1) priors, posterior "
        "mean).\n"
        "- **Probability of preferred** = 100 · sigmoid(weight). Above 50: the judge prefers the response "
        "that has more of the property; below 50: it prefers the one with less.\n"
        "- Error bars are the 95% credible interval mapped the same way (none for imported weights).\n"
        "- Property descriptions are in the tooltips.")
