"""The Dissection page's "How two judges differ" section: per property, the difference of two
judges' weights with its 95% interval, ranked (the judge_difference view)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from pipeline.answers.differences import DifferenceError

from . import answers, data, state
from .text import md_escape

TOP = 12


def section(status, pset: str, groups: list[str]) -> None:
    """Two judges of the group chosen above (or any two), their largest differences first."""
    st.subheader("How two judges differ")
    group = st.session_state.get("dis.group")
    group = group if group in groups else (groups[0] if groups else None)
    if group is None:
        return
    judges = data.fitted_judges(group, pset)
    if len(judges) < 2:
        st.info("Two judges with fits in this group are needed.")
        return
    chosen = [j for j in (st.session_state.get("dis.judges") or []) if j in judges]
    defaults = (chosen + [j for j in data.default_judges(judges, pset) if j not in chosen] +
                [j for j in judges if j not in chosen])
    c1, c2, c3 = st.columns([2, 2, 2])
    with c1:
        judge_a = state.select("Judge A", judges, key="dis.diff_a", default=defaults[0])
    with c2:
        others = [j for j in judges if j != judge_a]
        judge_b = state.select("minus judge B", others, key="dis.diff_b",
                               default=next(j for j in defaults if j != judge_a))
    with c3:
        by = state.select("Rank by", ["difference", "evidence"], key="dis.diff_by",
                          format_func={"difference": "size of the difference",
                                       "evidence": "surest sign first"}.get)
    try:
        df = answers.judge_difference(judge_a, judge_b, group=group, property_set=pset, by=by)
    except DifferenceError as exc:
        st.info(md_escape(exc))
        return
    top = df.head(TOP)
    order = top["property"].tolist()
    y = alt.Y("property:N", sort=order, title=None)
    bars = alt.Chart(top).mark_bar().encode(
        y=y, x=alt.X("difference:Q", title=f"weight of {judge_a} minus weight of {judge_b} (log-odds)"),
        color=alt.condition("datum.difference > 0", alt.value("#4575b4"), alt.value("#d73027")),
        tooltip=["property:N", alt.Tooltip("difference:Q", format="+.3f"), alt.Tooltip("ci_low:Q", format="+.3f"),
                 alt.Tooltip("ci_high:Q", format="+.3f"), alt.Tooltip("prob_positive:Q", format=".3f"),
                 alt.Tooltip("prob_first:Q", format=".3f", title="P(largest difference)")])
    rules = alt.Chart(top).mark_rule(color="black").encode(y=y, x="ci_low:Q", x2="ci_high:Q")
    sub = [f"{group} · the {len(top)} largest of {len(df)} · bars: 95% interval (normal approximation)"]
    if status.generated:
        sub.append("generated demo data")
    st.altair_chart((bars + rules).properties(height=alt.Step(24),  # per row: labels never dropped
                                              title=alt.TitleParams(f"{judge_a} vs {judge_b}", subtitle=sub)),
                    width="stretch")
    first = df.iloc[0]
    if first["prob_positive"] == first["prob_positive"]:  # not NaN: the fits have sds
        more = judge_a if first["difference"] > 0 else judge_b
        st.caption(f"They differ most on {md_escape(first['property'])}: {md_escape(more)} rewards it more "
                   f"(difference {first['difference']:+.2f}, P(> 0) = {first['prob_positive']:.3f}, "
                   f"P(largest) = {first['prob_first']:.2f}).")
    else:
        st.caption("Imported weights have no sd: differences without intervals or probabilities.")
    with st.expander("Every property"):
        st.dataframe(df[["rank", "property", "difference", "ci_low", "ci_high", "prob_positive", "prob_first",
                         "weight_a", "weight_b"]], hide_index=True,
                     column_config={"property": st.column_config.TextColumn("property"),
                                    "weight_a": f"weight {judge_a}", "weight_b": f"weight {judge_b}",
                                    "prob_positive": st.column_config.NumberColumn("P(> 0)", format="%.3f"),
                                    "prob_first": st.column_config.NumberColumn("P(largest)", format="%.3f")})
    st.caption("Also in SQL: `SELECT * FROM judge_difference WHERE judge_a = ... AND judge_b = ...`, and "
               "`python -m pipeline differ A B --group G`.")
