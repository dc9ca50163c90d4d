"""Dissection: probability of preferred per property, for chosen judges in one group, or for
one judge across all groups."""

import math

import streamlit as st

from pipeline import explore
from ui import charts, data, layout, state
from ui.text import md_escape

status = layout.page(
    "Dissection", ":material/bar_chart:",
    "Probability of preferred: how likely a judge is to prefer response 1 when it is better than response 2 "
    "on this one property and equal on all others (100 · sigmoid(weight)). 50% means the judge does not care.")
if not layout.what_next(status, "fits"):
    st.stop()

groups = data.get("fitted_groups")
all_judges = data.get("fitted_judges")

view = state.select("View", ["compare", "across"], key="dis.view", widget="segmented",
                    format_func={"compare": "Compare judges in a group",
                                 "across": "One judge across all groups"}.get)


def group_label(g: str) -> str:
    return f"{g}  ({explore.group_kind(g)})"


if view == "compare":
    c1, c2, c3 = st.columns([2, 4, 2])
    with c1:
        default_group = "Advice" if "Advice" in groups else groups[0]
        group = state.select("Group", groups, key="dis.group", default=default_group, format_func=group_label,
                             help="Scenario groups split pairs by the kind of query; query-specific groups "
                                  "hold the pairs whose query meets a prerequisite (a pair can be in several).")
    judges_here = data.get("fitted_judges", group)
    with c2:
        chosen = state.multiselect("Judges", judges_here, key="dis.judges",
                                   default=data.get("default_judges", judges_here),
                                   help="Default: the human and the strongest LLM judge present.")
    with c3:
        sort = state.select("Sort properties", ["effect", "spread", "paper"], key="dis.sort",
                            format_func={"effect": "by effect", "spread": "by disagreement",
                                         "paper": "paper order"}.get,
                            help="By effect: mean probability over the judges shown, most preferred on top. "
                                 "By disagreement: largest spread between the judges first.")
    if not chosen:
        st.info("Pick at least one judge.")
        st.stop()
    df = data.get("preference_probability", group, tuple(chosen))
    if df.empty:
        st.info("None of the chosen judges has a fit in this group (too few labels there?). "
                "See the fit runs below.")
    else:
        order = explore.sort_properties(df, sort)
        chart = charts.dissection_dots(df, order, chosen, title=f"Probability of preferred · {group}",
                                       generated=status.generated)
        st.altair_chart(chart, width="stretch")
        runs = df.groupby("judge", sort=False)[["n_pairs", "accuracy", "source"]].first().reset_index()
        runs = runs[[c for c in runs.columns if c in ("judge", "source") or runs[c].notna().any()]]
        if "accuracy" in runs.columns:
            st.caption("Pairs fitted and held-out accuracy (how much of the judge's choices the 29 properties "
                       "explain):")
        else:
            st.caption("Imported weights: no pair counts, held-out accuracy or credible intervals come with them.")
        st.dataframe(runs, hide_index=True, column_config={
            "n_pairs": "pairs fitted", "accuracy": st.column_config.NumberColumn("held-out accuracy", format="%.3f"),
            "source": "weights from"})
        wide = df.pivot_table(index="property", columns="judge", values="probability", aggfunc="first")
        wide = wide.reindex(index=order, columns=[j for j in chosen if j in wide.columns]).round(1)
        with st.expander("Table", expanded=False):
            st.dataframe(wide, column_config={"_index": st.column_config.TextColumn("property")})
        table = df[["judge", "group_name", "property", "probability", "prob_low", "prob_high", "weight", "sd",
                    "source"]]
        st.download_button("Download CSV", explore.csv_bytes(table), layout.download_name(
            f"dissection_{group}", status), mime="text/csv", key="dis.dl")
        missing = [j for j in chosen if j not in set(df["judge"])]
        if missing:
            st.caption("No fit in this group for: " + ", ".join(md_escape(j) for j in missing))
else:
    judge = state.select("Judge", all_judges, key="dis.judge",
                         default=(data.get("default_judges", all_judges) or all_judges)[-1])
    df = data.get("judge_across_groups", judge)
    if df.empty:
        st.info("This judge has no fits.")
        st.stop()
    gorder = explore.sort_groups(df["group_name"].unique())
    porder = [p for p in explore.PROPERTY_NAMES if p in set(df["property"])]
    # Colours spread symmetrically around 50 over the deviations present (probabilities of
    # preferred mostly lie within 40-85: a fixed 0-100 scale would leave every cell pale).
    reach = float((df["probability"] - 50).abs().max()) if len(df) else 50.0
    reach = min(50.0, max(10.0, 5 * math.ceil(reach / 5)))
    chart = charts.heatmap(
        df.assign(probability=df["probability"].round(1)), x="group_name", y="property", value="probability",
        x_order=gorder, y_order=porder, domain=[50 - reach, 50 + reach], mid=50, scheme="redblue", fmt=".0f",
        title=f"{judge} across groups",
        subtitle=f"probability of preferred (%), 50 = indifferent; colours from {50 - reach:g} to {50 + reach:g}",
        value_title="probability %", generated=status.generated, cell=46,
        tooltip_extra=[charts.alt.Tooltip("n_pairs:Q", title="pairs fitted")])
    st.altair_chart(chart, width="content")
    wide = df.pivot_table(index="property", columns="group_name", values="probability", aggfunc="first")
    wide = wide.reindex(index=porder, columns=gorder).round(1)
    with st.expander("Table", expanded=False):
        st.dataframe(wide)
    st.download_button("Download CSV", explore.csv_bytes(df.drop(columns=["description"])),
                       layout.download_name(f"dissection_{judge}_all_groups", status), mime="text/csv",
                       key="dis.dl2")
    runs = data.get("fit_runs", judge)
    if not runs.empty:
        with st.expander("Fit runs of this judge"):
            st.dataframe(runs, hide_index=True)

with st.expander("How to read this"):
    st.markdown(
        "- Each weight comes from a Bayesian logistic regression of the judge's choices on the differences "
        "between the two responses in 29 properties (Laplace(0, 0.1) priors, posterior mean).\n"
        "- **Probability of preferred** = 100 · sigmoid(weight). Above 50: the judge prefers the response "
        "that has more of the property; below 50: it prefers the one with less.\n"
        "- Error bars are the 95% credible interval mapped the same way (none for imported weights).\n"
        "- Property descriptions are in the tooltips.")
