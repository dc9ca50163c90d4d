"""Statistics: the data set's properties, prerequisites, correlations, and the judges' agreement
and length effect."""

import streamlit as st

from pipeline.queries import statistics
from pipeline.answers.readouts import METHODS
from ui import charts, data, layout, state

status = layout.page(
    __file__, intro=
    "What the annotations look like, and how the judges relate to each other before any fitting.")
if not layout.what_next(status, "pairs"):
    st.stop()
pset = layout.property_set()

VIEWS = {
    "properties": "Property scores",
    "prerequisites": "Prerequisites",
    "correlation": "Property correlation",
    "agreement": "Judge agreement",
    "length": "Length effect",
}
view = state.select("View", list(VIEWS), key="stats.view", widget="segmented", format_func=VIEWS.get)

if view == "properties":
    df = data.property_stats()
    if df.empty:
        st.info("No property statistics (the view is missing).")
        st.stop()
    st.caption("Mean score of each property over all responses, as in the dataset card: basic ratings 0–3 "
               "(the raw 'repetitive' rating for non-repetitive), query-specific scores over responses whose "
               "query meets the prerequisite, mean errors per response, mean words per response.")
    rated = statistics.mean_scores(df)
    if not rated.empty:
        st.altair_chart(charts.bars(
            rated, x="mean_score", y="property", title="Mean score per property (0–3)",
            order=list(rated["property"]), color="kind", domain=[0, 3], x_title="mean score",
            generated=status.generated), width="stretch")
    st.dataframe(df, hide_index=True, column_config={
        "mean_score": st.column_config.NumberColumn("mean", format="%.3f"), "n": "responses"})
    layout.download_csv("Download CSV", df, "property_stats", status, key="stats.dl_props")

elif view == "prerequisites":
    df = data.prerequisite_counts()
    if df.empty:
        st.info("No prerequisite counts (the view is missing).")
        st.stop()
    st.caption("How many pairs meet each query-specific prerequisite (the query-specific groups).")
    st.altair_chart(charts.bars(df, x="n_pairs", y="group_name", title="Pairs per query-specific group",
                                x_title="pairs", fmt=",d", generated=status.generated), width="stretch")
    st.dataframe(df, hide_index=True)
    layout.download_csv("Download CSV", df, "prerequisite_counts", status, key="stats.dl_prereq")

elif view == "correlation":
    method = state.select("Correlation", list(METHODS), key="stats.method", widget="segmented",
                          format_func=str.capitalize)
    corr = data.property_correlation(method, pset)
    if corr.empty:
        st.info("No features yet (pairs whose error checks are applicable get features).")
        st.stop()
    order = list(corr.index)
    long = statistics.long_matrix(corr, "property_a", "property_b", "correlation")
    st.caption("Correlation of the features (+1 / 0 / -1: which response has more of the property) over "
               "the pairs usable for fitting. Strongly correlated properties share credit in the fits.")
    st.altair_chart(charts.heatmap(
        long, x="property_b", y="property_a", value="correlation", x_order=order, y_order=order,
        domain=[-1, 1], mid=0, scheme="redblue", fmt=".1f", title="Property correlation",
        value_title="correlation", generated=status.generated, cell=26), width="content")
    layout.download_csv("Download CSV (matrix)", corr.round(4), f"property_correlation_{method}_{pset}", status,
                        key="stats.dl_corr", index=True)

elif view == "agreement":
    if not layout.what_next(status, "labels"):
        st.stop()
    metric = state.select("Measure", ["agreement", "kappa"], key="stats.metric", widget="segmented",
                          format_func={"agreement": "share of same choices", "kappa": "Cohen's kappa"}.get,
                          help="Kappa corrects the share for agreement expected by chance from each "
                               "judge's own rate of picking response 1.")
    df = data.agreement()
    if df.empty:
        st.info("No two judges labelled the same pairs.")
        st.stop()
    info = data.judges(pset)
    sizes = dict(zip(info["judge"], info["size_b"])) if not info.empty else {}
    order = statistics.agreement_order(df, sizes)
    d = df.copy()
    d[metric] = d[metric].round(2)
    domain = [0, 1] if metric == "agreement" else [-1, 1]
    st.altair_chart(charts.heatmap(
        d, x="judge_b", y="judge_a", value=metric, x_order=order, y_order=order, domain=domain,
        mid=0.5 if metric == "agreement" else 0, scheme="redblue", fmt=".2f",
        title="Judge agreement" + (" (Cohen's kappa)" if metric == "kappa" else " (share of same choices)"),
        value_title=metric, generated=status.generated,
        tooltip_extra=[charts.alt.Tooltip("n:Q", title="pairs both labelled")],
        cell=max(28, min(48, 900 // max(1, len(order))))), width="content")
    layout.download_csv("Download CSV", df, "judge_agreement", status, key="stats.dl_agree")

else:
    if not layout.what_next(status, "labels"):
        st.stop()
    df = data.length_effect()
    if df.empty:
        st.info("No labelled pairs whose responses differ in length.")
        st.stop()
    st.caption("How often each judge prefers the longer response, among pairs whose word counts differ. "
               "50% means length plays no role on its own (it may still correlate with other properties).")
    st.altair_chart(charts.bars(
        df, x="longer_win_rate", y="judge", title="Win rate of the longer response", rule=0.5, domain=[0, 1],
        x_title="share of pairs where the longer response won", color="kind", generated=status.generated,
        tooltip=[charts.alt.Tooltip("judge:N"), charts.alt.Tooltip("longer_win_rate:Q", format=".3f"),
                 charts.alt.Tooltip("n:Q", title="pairs")]), width="stretch")
    st.dataframe(df, hide_index=True, column_config={
        "longer_win_rate": st.column_config.NumberColumn("longer wins", format="%.3f"),
        "size_b": st.column_config.NumberColumn("size (B)", format="%.0f")})
    layout.download_csv("Download CSV", df, "length_effect", status, key="stats.dl_len")
