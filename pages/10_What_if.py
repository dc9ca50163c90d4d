"""What if: a response model's win rate under a judge if its responses had another model's
measured style ("as model"), or its measures scaled ("scale"): forecasts a model could reach,
beside the measured win rates. And the upper bound: if its response had more (or less) of
one property than the other in every pair."""

import altair as alt
import streamlit as st

from ui import answers, layout, state
from ui.text import md_escape

status = layout.page(
    __file__, intro="Pick a judge and a response model: what would its win rate under that judge be with "
    "another model's style, or with longer or shorter answers? And which properties bound the change, up and down?")
if not layout.what_next(status, "pairs"):
    st.stop()

choices = answers.whatif_choices()
fitted = choices["fitted"]
models = choices["models"]
if not models:
    st.info("No response models are named in the pairs loaded, so there is nothing to forecast. "
            "Load pairs with `model_1` / `model_2`.")
    st.stop()

references = set(answers.references())
ordinary = [m for m in models if m not in references]  # the default is never the reference itself
mode = state.select("Forecast", ["as model", "scale", "upper bound"], key="wi.mode", widget="segmented",
                    format_func={"as model": "as another model", "scale": "scaled measures",
                                 "upper bound": "upper bound per property"}.get)

if mode != "upper bound":
    from pipeline.properties.measures import MEASURES
    from pipeline.answers.style_transfer import TransferError

    labelled = answers.leaderboard_inputs()["judges"]
    if not labelled:
        st.info("No judge has labels on these pairs, so there is no measured win rate to start from. "
                "Load labelled pairs, or add a judge's labels on the Add judge page.")
        st.stop()
    c1, c2, c3 = st.columns([2, 2, 3])
    with c1:
        judge = state.select("Judge", labelled, key="wi.judge", default="human")
    with c2:
        model = state.select("Response model", models, key="wi.model", default=ordinary[0] if ordinary else None,
                             help="The most frequent models first; a reference model (response 1 in every pair) "
                                  "is not the default.")
    with c3:
        if mode == "as model":
            others = [m for m in models if m != model]
            as_model = state.select("With the measured style of", others, key="wi.as",
                                    default=next((m for m in others if m not in references), None))
            scale = None
        else:
            as_model = None
            m_col, f_col = st.columns(2)
            with m_col:
                measure = state.select("Measure", MEASURES, key="wi.measure")
            with f_col:
                factor = state.select("Factor", [0.5, 0.75, 1.25, 1.5, 2.0], key="wi.factor", default=1.5,
                                      format_func=lambda f: f"x {f:g}")
            scale = {measure: float(factor)}
    if mode == "as model" and as_model is None:
        st.info("Only one response model is named in the pairs: there is no other style to take.")
        st.stop()
    try:
        with st.spinner("Fitting the judge's style-controlled board..."):
            t = answers.style_transfer(judge, model, as_model, scale)
    except TransferError as exc:
        st.info(md_escape(exc))
        st.stop()
    m1, m2, m3 = st.columns(3)
    m1.metric("Measured win rate now", f"{100 * t.observed:.1f}%", help=f"Over {t.n_pairs:,} battles of this judge.")
    m2.metric("Forecast", f"{100 * t.forecast:.1f}%", delta=f"{100 * (t.forecast - t.observed):+.1f} points",
              help=f"95% interval {100 * t.ci_low:.1f} to {100 * t.ci_high:.1f}%")
    if t.observed_as is not None:
        m3.metric("Measured win rate of the other model", f"{100 * t.observed_as:.1f}%")
    st.caption(md_escape(f"{t.scenario}: 95% interval of the forecast {100 * t.ci_low:.1f}% to "
                         f"{100 * t.ci_high:.1f}%.")
               + " The judge's style-controlled board (continuous form) predicts each battle with the model's "
                 "strength held fixed; only the measured style changes. It assumes the judge follows that model and "
                 "that the content stays the model's own. `python -m pipeline whatif --as` / `--scale` stores it.")
    kept = answers.stored_transfers(judge, model, "All")
    if not kept.empty:
        with st.expander(f"Stored forecasts of this model ({len(kept)})"):
            st.dataframe(kept, hide_index=True, column_config={
                "scenario": st.column_config.TextColumn("scenario"), "as_model": st.column_config.TextColumn("as"),
                **{c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
                   for c in ("observed", "forecast", "ci_low", "ci_high", "observed_as")}})
    st.stop()

if not fitted:
    layout.what_next(status, "fits")
    st.stop()
st.warning("**An upper bound, not a forecast a model could reach.** It assumes the judge's choices follow its "
           "fitted weights and that the model's response has more (or less) of one property than the other in "
           "every pair, with every other property as it was. \"As another model\" and \"scaled measures\" "
           "forecast changes a model could make.", icon=":material/warning:")
property_set = layout.property_set()  # the sidebar's choice, as on every page
fitted = [f for f in fitted if f[2] == property_set]
if not fitted:
    st.info(f"No fits with the property set {md_escape(property_set)}: pick another in the sidebar, or run "
            f"`python -m pipeline fit --properties {md_escape(property_set)}`.")
    st.stop()
c1, c2, c3 = st.columns([2, 2, 3])
with c1:
    judge = state.select("Judge", sorted({j for j, _, _ in fitted}), key="wi.judge",
                         default="human")
here = [(g, s) for j, g, s in fitted if j == judge]
with c2:
    groups = sorted({g for g, _ in here})
    group = state.select("Group", groups, key="wi.group", default="All")
with c3:
    model = state.select("Response model", models, key="wi.model", default=ordinary[0] if ordinary else None,
                         help="The most frequent models first; a reference model is not the default.")

from pipeline.answers.forecasts import ForecastError  # noqa: E402 - only needed from here on

try:
    df, was_stored = answers.forecast(judge, model, group, property_set)
except ForecastError as exc:
    st.info(md_escape(exc))
    st.stop()

if df.empty:
    st.info("Nothing to forecast here.")
    st.stop()
base = float(df["win_rate"].iloc[0])
n_pairs = int(df["n_pairs"].iloc[0])
m1, m2 = st.columns(2)
m1.metric("Predicted win rate now", f"{100 * base:.1f}%", help="Mean of sigmoid(x · w) over the model's pairs.")
m2.metric("Pairs the model takes part in", f"{n_pairs:,}")

df = df.assign(points=100 * df["shift"], low=100 * df["ci_low"], high=100 * df["ci_high"])
top_n = state.number("Properties shown each way", key="wi.top", default=8, min_value=3, max_value=40)
up = df[df["direction"] == "better"].nlargest(top_n, "shift")
down = df[df["direction"] == "worse"].nsmallest(top_n, "shift")


def shift_chart(part, title: str):
    order = part["property"].tolist()
    y = alt.Y("property:N", sort=order, title=None)
    bars = alt.Chart(part).mark_bar().encode(
        y=y, x=alt.X("points:Q", title="win-rate shift (points)"),
        color=alt.condition("datum.points > 0", alt.value("#1f77b4"), alt.value("#ff7f0e")),
        tooltip=["property:N", alt.Tooltip("points:Q", format="+.2f"), alt.Tooltip("low:Q", format="+.2f"),
                 alt.Tooltip("high:Q", format="+.2f")])
    rules = alt.Chart(part).mark_rule(color="black").encode(y=y, x="low:Q", x2="high:Q")
    sub = ["95% interval from the weights' posterior"] + (["generated demo data"] if status.generated else [])
    # A height per row: a fixed total also holds the title and axis, and squeezed the rows to slivers.
    return (bars + rules).properties(height=alt.Step(24), title=alt.TitleParams(title, subtitle=sub))


left, right = st.columns(2)
with left:
    st.altair_chart(shift_chart(up, "Upper bound: if its response had more of..."), width="stretch")
with right:
    st.altair_chart(shift_chart(down, "Upper bound: if its response had less of..."), width="stretch")

with st.expander("Every property"):
    st.dataframe(df[["property", "direction", "points", "low", "high", "forecast", "n_pairs"]], hide_index=True,
                 column_config={"property": st.column_config.TextColumn("property"),
                                "points": st.column_config.NumberColumn("shift (points)", format="%+.2f"),
                                "low": st.column_config.NumberColumn("95% low", format="%+.2f"),
                                "high": st.column_config.NumberColumn("95% high", format="%+.2f"),
                                "forecast": st.column_config.NumberColumn("forecast win rate", format="percent"),
                                "n_pairs": "pairs"})
st.caption(("Read from the forecasts table." if was_stored else
            "Computed now, not stored: `python -m pipeline whatif --judge J --model M` stores it.")
           + " More of a property: the model's response has more of it than the other response in every "
             "pair (feature +1 from its side); less: -1 in every pair. Imported weights have no interval.")
