"""What if: how much would a response model's win rate under a judge move if its responses
became better (or worse) on one property and nothing else changed? A forecast from the
judge's fitted weights, not a measured benchmark run."""

import altair as alt
import streamlit as st

from ui import answers, layout, state
from ui.text import md_escape

status = layout.page(
    __file__, intro="Pick a judge and a response model: which properties would move the model's win rate "
    "under that judge most, up and down? The paper's \"align with the judge's preferences\" recipe, made concrete.")
if not layout.what_next(status, "fits"):
    st.stop()
st.warning("**A model-based forecast, not a measured benchmark run.** It assumes the judge's choices follow "
           "its fitted weights and that a change on one property leaves every other property as it was.",
           icon=":material/warning:")

choices = answers.whatif_choices()
fitted = choices["fitted"]
models = choices["models"]
if not models:
    st.info("No response models are named in the pairs loaded, so there is nothing to forecast. "
            "Load pairs with `model_1` / `model_2`.")
    st.stop()

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
    model = state.select("Response model", models, key="wi.model",
                         help="The most frequent models first.")

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
        color=alt.condition("datum.points > 0", alt.value("#1a9641"), alt.value("#d7191c")),
        tooltip=["property:N", alt.Tooltip("points:Q", format="+.2f"), alt.Tooltip("low:Q", format="+.2f"),
                 alt.Tooltip("high:Q", format="+.2f")])
    rules = alt.Chart(part).mark_rule(color="black").encode(y=y, x="low:Q", x2="high:Q")
    sub = ["95% interval from the weights' posterior"] + (["generated demo data"] if status.generated else [])
    # A height per row: a fixed total also holds the title and axis, and squeezed the rows to slivers.
    return (bars + rules).properties(height=alt.Step(24), title=alt.TitleParams(title, subtitle=sub))


left, right = st.columns(2)
with left:
    st.altair_chart(shift_chart(up, "If its responses became better on..."), width="stretch")
with right:
    st.altair_chart(shift_chart(down, "If its responses became worse on..."), width="stretch")

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
           + " Better on a property: the model's response has more of it than the other response in every "
             "pair (feature +1 from its side); worse: less (-1). Imported weights have no interval.")
