"""Models: each response model's battles, win rates and style profile, and how two models'
responses differ. The numbers come from pipeline.queries.models; this page only draws."""

import streamlit as st

from ui import charts, data, layout, state
from ui.text import label, md_escape

status = layout.page(
    __file__, intro=
    "What is different about a model's answers? Each response model's battles and win rates under every "
    "judge, its style profile, and on which style properties two models' responses differ, with 95% intervals.")
if not layout.what_next(status, "pairs"):
    st.stop()

models = data.models()
if models.empty:
    st.info("No pair here names the models that wrote its responses (HH-RLHF, for one, does not), so there is "
            "no model to profile: load battles with model names (Arena, AlpacaEval, or a CSV with `model_1` and "
            "`model_2` columns) to see them here.", icon=":material/info:")
    st.stop()
names = list(models["model"])
rates = data.model_win_rates(None)

# ------------------------------------------------------------------ every model
st.subheader("Every model")
overview = models.copy()
if not rates.empty:
    wide = rates.pivot_table(index="model", columns="judge", values="win_rate").add_prefix("win rate · ")
    overview = overview.join(wide, on="model")
st.dataframe(overview, hide_index=True, column_config={
    "model": st.column_config.TextColumn("model", width="medium"),
    "battles": st.column_config.NumberColumn("battles", help="Pairs in which the model wrote one response."),
    "median_tokens": st.column_config.NumberColumn("median tokens", format="%.0f",
                                                   help="Tokens of the model's responses (response_measures)."),
    "mean_tokens": st.column_config.NumberColumn("mean tokens", format="%.0f"),
    **{c: st.column_config.NumberColumn(c, format="%.3f", help="Share of the model's labelled battles the judge "
                                        "gave it (ties are not labels).")
       for c in overview.columns if c.startswith("win rate")}})
if rates.empty:
    st.caption("No judge has labelled these battles yet, so there are no win rates.")

# ------------------------------------------------------------------ one model


def one_model() -> None:
    st.subheader("One model")
    model = state.select("Model", names, key="mod.model", format_func=label)
    mine = rates[rates["model"] == model] if not rates.empty else rates
    n = int(models.loc[models["model"] == model, "battles"].iloc[0])
    st.caption(f"{n:,} battles.")
    if not mine.empty:
        st.dataframe(mine.drop(columns=["model"]), hide_index=True, column_config={
            "n": "labelled battles", "win_rate": st.column_config.NumberColumn("win rate", format="%.3f"),
            "ci_low": st.column_config.NumberColumn("95% low", format="%.3f"),
            "ci_high": st.column_config.NumberColumn("95% high", format="%.3f")})
    prof = data.model_profile(model)
    if prof.empty:
        st.caption("No style profile: the responses have no measures yet (`python -m pipeline fit "
                   "--properties style` measures the pairs stored without them).")
        return
    st.caption("Style profile from the measures of its responses: mean and median, and the share of "
               "responses with at least one (headers, list items, bold, code blocks, links, emoji, questions to "
               "the user, refusals, \"as an AI\").")
    st.dataframe(prof, hide_index=True, column_config={
        "n": "responses", "mean": st.column_config.NumberColumn(format="%.1f"),
        "median": st.column_config.NumberColumn(format="%.0f"),
        "share": st.column_config.NumberColumn("share with ≥ 1", format="%.3f")})


# ------------------------------------------------------------------ two models


def two_models() -> None:
    st.subheader("Compare two models")
    if len(names) < 2:
        st.info("Comparing needs two response models, and the pairs here name one.", icon=":material/info:")
        return
    c1, c2 = st.columns(2)
    with c1:
        a = state.select("Model A", names, key="mod.a", default=names[0], format_func=label)
    with c2:
        b = state.select("Model B", [m for m in names if m != a], key="mod.b", default=names[1] if names[1] != a
                         else names[0], format_func=label)
    diff = data.model_comparison(a, b)
    if diff.empty:
        st.info("The two models' responses have no measures yet: `python -m pipeline fit --properties style` "
                "measures the pairs stored without them.", icon=":material/info:")
        return
    shares = diff[diff["statistic"] == "share"]
    what = "share of responses with at least one"
    if not shares.empty:
        st.altair_chart(charts.differences(
            shares, y="measure", order=list(shares["measure"]),
            title=f"{a} minus {b}",
            x_title=f"difference in the {what} (A − B)",
            subtitle="filled: the 95% interval (Newcombe) excludes 0",
            generated=status.generated,
            tooltip=[charts.alt.Tooltip("a:Q", format=".3f", title="model A"),
                     charts.alt.Tooltip("b:Q", format=".3f", title="model B"),
                     charts.alt.Tooltip("n_a:Q", title="A: n"), charts.alt.Tooltip("n_b:Q", title="B: n")]),
            width="stretch")
    means = diff[diff["statistic"] == "mean"]
    if not means.empty:
        cols = st.columns(len(means))
        for col, (_, row) in zip(cols, means.iterrows()):
            col.metric(f"mean {row['measure']}: A − B", f"{row['difference']:+,.1f}",
                       help=f"A {row['a']:,.1f}, B {row['b']:,.1f} per response; 95% interval (Welch) "
                            f"{row['ci_low']:+,.1f} to {row['ci_high']:+,.1f}.")
    clear = diff[diff["differs"]]
    st.caption(f"{len(clear)} of {len(diff)} measures differ (95% interval excludes 0)"
               + (": " + ", ".join(md_escape(m) for m in clear["measure"]) if len(clear) else "") + ".")
    st.dataframe(diff, hide_index=True, column_config={
        "a": st.column_config.NumberColumn(f"A: {label(a)}", format="%.3f"),
        "b": st.column_config.NumberColumn(f"B: {label(b)}", format="%.3f"),
        "difference": st.column_config.NumberColumn("A − B", format="%+.3f"),
        "ci_low": st.column_config.NumberColumn("95% low", format="%+.3f"),
        "ci_high": st.column_config.NumberColumn("95% high", format="%+.3f"),
        "n_a": "A: n", "n_b": "B: n"})
    layout.download_csv("Download CSV", diff, f"models_{a}_vs_{b}", status, key="mod.dl")


one_model()
two_models()
