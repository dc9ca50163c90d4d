"""Statistics: the responses' measures and each model's style, the judges' agreement and length
effect, and, where pairs carry the paper's annotations, its property scores and prerequisites."""

import streamlit as st

from pipeline.queries import statistics
from pipeline.answers.readouts import METHODS
from ui import charts, data, layout, state
from ui.text import md_escape

status = layout.page(
    __file__, intro=
    "What the responses and the judges' choices look like, before any fitting.")
if not layout.what_next(status, "pairs"):
    st.stop()
pset = layout.property_set()
cover = data.coverage()

VIEWS = {
    "measures": "Measures",
    "models": "Models",
    "length": "Length effect",
    "agreement": "Judge agreement",
    "correlation": "Property correlation",
    "properties": "Property scores",
    "prerequisites": "Prerequisites",
}
view = state.select("View", list(VIEWS), key="stats.view", widget="segmented", format_func=VIEWS.get)
ANNOTATE = "python -m pipeline annotate --max-pairs 100" + layout.db_flag(status)
PERCENT = {"share_headers": "headers", "share_lists": "lists", "share_bold": "bold", "share_code": "code",
           "share_links": "links", "share_emoji": "emoji", "share_refusals": "refusals", "share_as_an_ai": "as an AI"}


def not_annotated(what: str) -> None:
    """The paper's tables need its annotations: say why there is nothing, and what gives it."""
    st.info(f"No pair here has the paper's annotations (all {cover['n_pairs']:,} are raw labelled pairs), so "
            f"there are no {what}. Annotating pairs with an LLM gives them (the Annotate page, or the command "
            "below).", icon=":material/edit_note:")
    st.code(ANNOTATE, language="bash")


if view == "measures":
    summary = data.measure_summary()
    if summary.empty:
        st.info("No response has measures yet. `python -m pipeline fit --properties style` computes them "
                "for the stored pairs.")
        st.stop()
    st.caption("Each response's measures, counted from its text at load time (view `response_measures`): "
               "tokens, words (a released record's own `num_words`, else a close approximation of NLTK's count), "
               "characters, and the counts behind "
               "the style properties. Share > 0: the share of responses with at least one.")
    measure = state.select("Measure", list(summary["measure"]), key="stats.measure", widget="selectbox")
    hist = data.measure_histogram(measure)
    tail = "the last bar also holds the top 1%" if hist["tail"].any() else ""
    chart = charts.histogram(hist, start="bin_start", end="bin_end", count="responses", x_title=measure,
                             title=f"Distribution of {measure} per response", generated=status.generated,
                             subtitle=tail or None)
    st.altair_chart(chart, width="stretch")
    st.dataframe(summary, hide_index=True, column_config={
        c: st.column_config.NumberColumn(c, format="%.1f") for c in ("mean", "p10", "median", "p90", "max")} | {
        "share_nonzero": st.column_config.NumberColumn("share > 0", format="%.3f")})
    layout.download_csv("Download CSV", summary, "measure_summary", status, key="stats.dl_measures")

elif view == "models":
    df = data.model_style()
    if df.empty:
        st.info("The pairs here name no response model (as in HH-RLHF), so there is no per-model profile. "
                "Pairs loaded with model names (e.g. Arena's model_a / model_b, AlpacaEval's generator_1 / "
                "generator_2) give one.", icon=":material/person_off:")
        st.stop()
    st.caption("Each response model's answers, from their measures (view `model_style`): how many, how long, "
               "and the share with at least one header, list item, bold span, code block, link, emoji, refusal "
               "or \"as an AI\". A response counts once per stored pair it is in.")
    st.altair_chart(charts.bars(
        df, x="median_tokens", y="model", title="Median length per response model", fmt=",.0f",
        x_title="median tokens per response", generated=status.generated,
        tooltip=[charts.alt.Tooltip("model:N"), charts.alt.Tooltip("median_tokens:Q", format=",.0f"),
                 charts.alt.Tooltip("mean_tokens:Q", format=",.0f"),
                 charts.alt.Tooltip("responses:Q", format=",d")]), width="stretch")
    shown = df.copy()
    for col in PERCENT:
        shown[col] = shown[col] * 100
    st.dataframe(shown, hide_index=True, column_config={
        "median_tokens": st.column_config.NumberColumn("median tokens", format="%.0f"),
        "mean_tokens": st.column_config.NumberColumn("mean tokens", format="%.0f"),
        "mean_words": st.column_config.NumberColumn("mean words", format="%.0f")} | {
        c: st.column_config.NumberColumn(name, format="%.1f%%") for c, name in PERCENT.items()})
    layout.download_csv("Download CSV", df, "model_style", status, key="stats.dl_models")

elif view == "length":
    if not layout.what_next(status, "labels"):
        st.stop()
    df = data.length_effect()
    if df.empty:
        st.info("No labelled pair has responses whose word counts differ, so no judge can show a preference "
                "for length.")
        st.stop()
    st.caption("How often each judge prefers the longer response, among the labelled pairs whose word counts "
               "differ (words from the measures, so raw pairs count too), with a 95% Wilson interval. 50% means "
               "length plays no role on its own (it may still correlate with other properties).")
    st.altair_chart(charts.bars(
        df, x="longer_win_rate", y="judge", title="Win rate of the longer response", rule=0.5, domain=[0, 1],
        x_title="share of pairs where the longer response won", color="kind", generated=status.generated,
        tooltip=[charts.alt.Tooltip("judge:N"), charts.alt.Tooltip("longer_win_rate:Q", format=".3f"),
                 charts.alt.Tooltip("longer_low:Q", format=".3f", title="95% low"),
                 charts.alt.Tooltip("longer_high:Q", format=".3f", title="95% high"),
                 charts.alt.Tooltip("n:Q", title="pairs")]), width="stretch")
    st.dataframe(df, hide_index=True, column_config={
        "longer_win_rate": st.column_config.NumberColumn("longer wins", format="%.3f"),
        "longer_low": st.column_config.NumberColumn("95% low", format="%.3f"),
        "longer_high": st.column_config.NumberColumn("95% high", format="%.3f"),
        "size_b": st.column_config.NumberColumn("size (B)", format="%.0f")})
    layout.download_csv("Download CSV", df, "length_effect", status, key="stats.dl_len")

elif view == "agreement":
    if not layout.what_next(status, "labels"):
        st.stop()
    if len(cover["judges"]) < 2:
        only = md_escape(next(iter(cover["judges"]), "none"))
        st.info(f"Only one judge ({only}) has labels here, so there is nothing to compare: agreement is "
                "measured between two judges on the pairs both labelled. Add another judge's labels on the "
                "Add judge page or with `python -m pipeline add-judge NAME FILE`.", icon=":material/group:")
        st.stop()
    metrics = {"agreement": "share of same choices", "kappa": "Cohen's kappa",
               "kappa_position": "position-adjusted kappa"}
    metric = state.select("Measure", list(metrics), key="stats.metric", widget="segmented",
                          format_func=metrics.get,
                          help="Cohen's kappa corrects the share for the agreement expected by chance from each "
                               "judge's own rate of picking response 1, so a position both judges favour counts "
                               "as chance. The position-adjusted kappa (2 x share - 1) takes chance as 1/2.")
    df = data.agreement()
    pairs = df[df["judge_a"] < df["judge_b"]]
    if pairs.empty:
        st.info("No two judges labelled the same pairs, so there is no agreement to measure.")
        st.stop()
    info = data.judges(pset)
    sizes = dict(zip(info["judge"], info["size_b"])) if not info.empty else {}
    order = statistics.agreement_order(df, sizes)
    d = df.copy()
    d[metric] = d[metric].round(2)
    st.altair_chart(charts.heatmap(
        d, x="judge_b", y="judge_a", value=metric, x_order=order, y_order=order,
        domain=[0, 1] if metric == "agreement" else [-1, 1], mid=0.5 if metric == "agreement" else 0,
        scheme="redblue", fmt=".2f", title=f"Judge agreement ({metrics[metric]})", value_title=metric,
        generated=status.generated,
        tooltip_extra=[charts.alt.Tooltip("n:Q", title="pairs both labelled"),
                       charts.alt.Tooltip(f"{metric}_low:Q", format=".3f", title="95% low"),
                       charts.alt.Tooltip(f"{metric}_high:Q", format=".3f", title="95% high")],
        cell=max(28, min(48, 900 // max(1, len(order))))), width="content")
    st.caption("Each pair of judges with 95% intervals: Wilson's for the share, a normal approximation for "
               "Cohen's kappa, and the share's interval mapped by 2x - 1 for the position-adjusted kappa.")
    fmt = {c: st.column_config.NumberColumn(c.replace("_", " "), format="%.3f")
           for c in statistics.AGREEMENT_COLUMNS[3:]}
    st.dataframe(pairs, hide_index=True, column_config=fmt)
    layout.download_csv("Download CSV", df, "judge_agreement", status, key="stats.dl_agree")

elif view == "correlation":
    method = state.select("Correlation", list(METHODS), key="stats.method", widget="segmented",
                          format_func=str.capitalize)
    corr = data.property_correlation(method, pset)
    if corr.empty:
        hint = " Annotating pairs gives the paper's features." if "paper" in pset and not cover["n_annotated"] else ""
        st.info(f"No pair has features of the property set '{md_escape(pset)}': choose another set in the "
                f"sidebar.{hint}")
        st.stop()
    order = list(corr.index)
    long = statistics.long_matrix(corr, "property_a", "property_b", "correlation")
    st.caption("Correlation of the features (+1 / 0 / -1: which response has more of the property) over "
               "the pairs that have them. Strongly correlated properties share credit in the fits.")
    st.altair_chart(charts.heatmap(
        long, x="property_b", y="property_a", value="correlation", x_order=order, y_order=order,
        domain=[-1, 1], mid=0, scheme="redblue", fmt=".1f", title="Property correlation",
        value_title="correlation", generated=status.generated, cell=26), width="content")
    layout.download_csv("Download CSV (matrix)", corr.round(4), f"property_correlation_{method}_{pset}", status,
                        key="stats.dl_corr", index=True)

elif view == "properties":
    if not cover["n_annotated"]:
        not_annotated("property scores (the paper's properties are rated by its annotations)")
        st.stop()
    df = data.property_stats()
    st.caption("Mean score of each property over the annotated responses, as in the dataset card: basic ratings "
               "0–3 (the raw 'repetitive' rating for non-repetitive), query-specific scores over responses whose "
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

else:
    if not cover["n_annotated"]:
        not_annotated("prerequisite counts (whether a query has constraints, stances or mistakes is annotated)")
        st.stop()
    df = data.prerequisite_counts()
    df = df[df["n_pairs"] > 0] if not df.empty else df
    if df.empty:
        st.info("No annotated query meets a query-specific prerequisite (constraints, stances, mistakes, "
                "unclear intent or expressed feelings), so every query-specific group is empty.")
        st.stop()
    st.caption("How many pairs meet each query-specific prerequisite (the query-specific groups).")
    st.altair_chart(charts.bars(df, x="n_pairs", y="group_name", title="Pairs per query-specific group",
                                x_title="pairs", fmt=",d", generated=status.generated), width="stretch")
    st.dataframe(df, hide_index=True)
    layout.download_csv("Download CSV", df, "prerequisite_counts", status, key="stats.dl_prereq")
