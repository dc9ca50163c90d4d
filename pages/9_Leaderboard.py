"""Leaderboard: Bradley-Terry strengths of the response models under one judge, raw next to
controlled for chosen properties (LMArena's style control, for any judge and property)."""

import altair as alt
import pandas as pd
import streamlit as st

from pipeline.answers.movers import movers as find_movers

from ui import answers, data, layout, state
from ui.text import md_escape

status = layout.page(
    __file__, intro="Which response models does a judge really prefer, once its taste for length, formatting or any other "
    "property is taken out? Strengths come from a Bradley-Terry model of the judge's choices; the controlled "
    "board adds the chosen properties' differences as covariates.")
if not layout.what_next(status, "labels"):
    st.stop()

stored = answers.leaderboard_choices()
inputs = answers.leaderboard_inputs()
CONTROL_HELP = ("none: the raw board. A property set (paper, style, ...) or a comma list of property names "
                "controls for those properties. Only properties with data in this database are offered.")
UP, DOWN, SAME = "#1f77b4", "#ff7f0e", "#999999"  # blue / orange: safe for colour-blind readers

with st.expander("Fit a leaderboard", expanded=stored.empty):
    c1, c2, c3, c4 = st.columns([2, 2, 3, 1])
    new_judge = c1.selectbox("Judge", inputs["judges"], key="lb.new_judge")
    groups = inputs["groups"] or ["All"]
    new_group = c2.selectbox("Group", groups, index=groups.index("All") if "All" in groups else 0, key="lb.new_group")
    options = ["none"] + inputs["sets"] + inputs["properties"]
    picked = c3.multiselect("Control for", options, default=["style"] if "style" in options else [],
                            key="lb.new_control", help=CONTROL_HELP)
    min_battles = c4.number_input("Min battles", min_value=1, max_value=10_000, value=10, key="lb.new_min")
    if options == ["none"]:
        st.caption("No property has data in this database, so only the raw board can be fitted.")
    d1, d2, d3 = st.columns(3)
    new_form = d1.selectbox("Control form", ["sign", "continuous"], key="lb.new_form",
                            help="sign: the -1/0/+1 features. continuous: LMArena's standardised (a-b)/(a+b) "
                                 "of each style property's measure.")
    new_ties = d2.selectbox("Ties", ["drop", "half"], key="lb.new_ties",
                            help="drop (default): ties are not battles. half: a tie is half a win each (LMArena).")
    new_ci = d3.selectbox("Interval", ["hessian", "sandwich", "bootstrap"], key="lb.new_ci",
                          help="hessian: normal approximation; sandwich: robust; bootstrap: 100 resamples, seeded.")
    if st.button("Fit", key="lb.fit", type="primary", disabled=not new_judge):
        from pipeline.answers.leaderboard import LeaderboardError, build_leaderboard

        control = ",".join(p for p in picked if p != "none") or "none"
        try:
            with st.spinner("Fitting..."):
                report = build_leaderboard(data.db_path(), judges=[new_judge], group=new_group, control=control,
                                           min_battles=int(min_battles), control_form=new_form, ties=new_ties,
                                           ci=new_ci)
        except LeaderboardError as exc:
            st.warning(md_escape(exc))
        else:
            data.clear()
            state.set_value("lb.judge", new_judge)
            state.set_value("lb.group", new_group)
            state.set_value("lb.control", report.control)
            st.rerun()
    st.caption("Or from a shell: `python -m pipeline leaderboard --control style` (every judge, group All).")

if stored.empty:
    st.info("No leaderboard stored yet: fit one above, or run `python -m pipeline leaderboard`.")
    st.stop()

c1, c2, c3 = st.columns([2, 2, 3])
with c1:
    judge = state.select("Judge", sorted(stored["judge"].unique()), key="lb.judge")
mine = stored[stored["judge"] == judge]
with c2:
    group = state.select("Group", sorted(mine["group_name"].unique()), key="lb.group",
                         default="All")
controls = sorted(mine.loc[mine["group_name"] == group, "control"].unique(), key=lambda c: (c == "none", c))
with c3:
    control = state.select("Control", controls, key="lb.control", help=CONTROL_HELP)
scale = state.select("Scale", ["elo", "log-odds"], key="lb.scale", widget="segmented",
                     format_func={"elo": "Elo-like (400/ln 10 · s + 1000)", "log-odds": "log-odds"}.get)

board = answers.side_by_side(judge, group, control)
runs = answers.leaderboard_runs(judge, group)
controlled = control != "none"
run = runs[runs["control"] == control]
if not run.empty:
    run = run.iloc[0]
    conventions = [f"ties: {run['ties'] or 'drop'}" + (f" ({int(run['n_ties'])} as half a win)" if run["ties"] == "half"
                                                       and pd.notna(run["n_ties"]) else ""),
                   f"interval: {run['ci_method']}"]
    if controlled:
        conventions.append(f"control form: {run['control_form'] or 'sign'}")
    st.caption("Conventions of this board: " + md_escape("; ".join(conventions)) + ".")
    if pd.notna(run.get("heldout_log_loss")):
        h1, h2 = st.columns(2)
        h1.metric("Held-out log loss, this board", f"{run['heldout_log_loss']:.4f}",
                  help="5-fold, seeded: lower explains the judge's choices better.")
        if controlled and pd.notna(run.get("heldout_log_loss_raw")):
            h2.metric("Held-out log loss, raw model on the same battles", f"{run['heldout_log_loss_raw']:.4f}",
                      delta=f"{run['heldout_log_loss'] - run['heldout_log_loss_raw']:+.4f}", delta_color="inverse")
    if controlled and isinstance(run.get("controls_dropped"), str) and run["controls_dropped"]:
        st.warning("Controls left out or merged: " + md_escape(run["controls_dropped"]) + ".",
                   icon=":material/warning:")
value, raw_value = ("elo", "raw_elo") if scale == "elo" else ("strength", "raw_strength")
shown = board[board["rank"].notna()].copy()
if shown.empty:
    st.info("This board has no models (too few battles?). See the runs below.")
else:
    to_scale = (lambda s: 400 / 2.302585092994046 * s + 1000) if scale == "elo" else (lambda s: s)
    shown["lo"], shown["hi"] = to_scale(shown["ci_low"]), to_scale(shown["ci_high"])  # an affine map
    if controlled:
        # a mover only where the raw and controlled rank intervals do not overlap
        movers = pd.Series(find_movers(shown["raw_ci_low"], shown["raw_ci_high"], shown["ci_low"], shown["ci_high"]),
                           index=shown.index)
    else:
        movers = pd.Series(0, index=shown.index)
    shown["moved"] = movers.map(lambda m: "up" if m > 0 else "down" if m < 0 else "same")
    order = shown.sort_values("rank")["model"].tolist()
    long = [shown.assign(board=f"controlled: {control}" if controlled else "raw", x=shown[value])[["model", "board", "x", "moved"]]]
    if controlled:
        long.append(shown.assign(board="raw", x=shown[raw_value])[["model", "board", "x", "moved"]])
    long = pd.concat(long)
    title = f"{judge} · {group}" + (f" · raw vs controlled for {control}" if controlled else " · raw")
    y = alt.Y("model:N", sort=order, title=None, axis=alt.Axis(labelLimit=240))
    interval = alt.Chart(shown).mark_rule(strokeWidth=2, opacity=0.5).encode(
        y=y, x=alt.X("lo:Q", title=value, scale=alt.Scale(zero=False)), x2="hi:Q",
        color=alt.Color("moved:N", scale=alt.Scale(domain=["up", "down", "same"],
                                                   range=[UP, DOWN, SAME]), title="moved"))
    dots = alt.Chart(long).mark_point(filled=True, size=70).encode(
        y=y, x=alt.X("x:Q", scale=alt.Scale(zero=False)),
        shape=alt.Shape("board:N", title="board"),
        color=alt.Color("moved:N", legend=None, scale=alt.Scale(domain=["up", "down", "same"],
                                                                range=[UP, DOWN, SAME])),
        tooltip=["model:N", "board:N", alt.Tooltip("x:Q", format=".2f", title=value)])
    sub = "controlled strengths with 95% intervals; the other shape: raw" if controlled else "95% intervals"
    if status.generated:
        sub += " · generated demo data"
    # A height per row (Step), not in total: a fixed total also holds the title and axis, which
    # squeezed the rows until Vega dropped every other model name.
    chart = (interval + dots).properties(height=alt.Step(24), title=alt.TitleParams(title, subtitle=[sub]))
    st.altair_chart(chart, width="stretch")

    table = shown[["rank", "model", "strength", "ci_low", "ci_high", "elo", "n_battles", "win_rate", "mean_tokens"]
                  + (["raw_rank", "rank_change"] if controlled else [])]
    n_moved = int((movers != 0).sum())
    if controlled:
        n_changed = int((shown["rank_change"].fillna(0) != 0).sum())
        st.caption(f"{n_changed} of {len(shown)} models change place under the control; {n_moved} by more than "
                   "the intervals allow (blue: up, orange: down; raw and controlled rank intervals do not overlap).")
    st.dataframe(table, hide_index=True, column_config={
        "model": st.column_config.TextColumn("model"),
        "strength": st.column_config.NumberColumn("strength (log-odds)", format="%.3f"),
        "ci_low": st.column_config.NumberColumn("95% low", format="%.2f"),
        "ci_high": st.column_config.NumberColumn("95% high", format="%.2f"),
        "elo": st.column_config.NumberColumn("elo-like", format="%.0f"),
        "n_battles": "battles", "win_rate": st.column_config.NumberColumn("win rate", format="percent"),
        "mean_tokens": st.column_config.NumberColumn("mean tokens", format="%.0f"),
        "raw_rank": "raw rank", "rank_change": "places gained"})

if controlled:
    weights = answers.control_weights(judge, group, control)
    if not weights.empty:
        st.subheader("The control's own weights")
        st.caption("Log-odds per unit of feature difference, fitted together with the strengths "
                   "(positive: the judge prefers the response with more of it, whatever the model).")
        # A property no battle differs on has no weight: named below, not drawn as an empty row.
        unweighted = weights.loc[weights["weight"].isna(), "property"].tolist()
        weights = weights[weights["weight"].notna()]
        # An interval this wide means the control is not identified: listed, not drawn, so it can't
        # stretch the chart until the real weights are invisible.
        wide = (weights["ci_high"] - weights["ci_low"]) > 20
        if wide.any():
            st.warning("Not drawn (interval wider than 20 log-odds, not identified): "
                       + md_escape(", ".join(weights.loc[wide, "property"])) + ".", icon=":material/warning:")
        weights = weights[~wide]
        worder = weights["property"].tolist()
        wchart = alt.Chart(weights).mark_bar().encode(
            y=alt.Y("property:N", sort=worder, title=None), x=alt.X("weight:Q", title="weight (log-odds)"),
            color=alt.condition("datum.weight > 0", alt.value(UP), alt.value(DOWN)),
            tooltip=["property:N", alt.Tooltip("weight:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
                     alt.Tooltip("ci_high:Q", format=".3f")])
        wrule = alt.Chart(weights).mark_rule(color="black").encode(
            y=alt.Y("property:N", sort=worder), x="ci_low:Q", x2="ci_high:Q")
        if not weights.empty:
            st.altair_chart((wchart + wrule).properties(height=alt.Step(24)), width="stretch")
        if unweighted:
            st.caption("No weight (no battle differs on it): " + md_escape(", ".join(unweighted)) + ".")

if not runs.empty:
    with st.expander("Runs (battles, models left out, interval method)"):
        st.dataframe(runs[runs["control"].isin(["none", control])], hide_index=True)

with st.expander("How to read this"):
    st.markdown(
        "- **Strength** (log-odds): P(model A beats B) = sigmoid(s_A - s_B). Strengths are centred "
        "(they sum to zero over the board's models).\n"
        "- **Elo-like** = 400/ln(10) · strength + 1000: a gap of 400 points means 10:1 odds, as on Arena.\n"
        "- **95% intervals**: as the board's conventions say: the Hessian at the mode (normal approximation), the "
        "sandwich estimator, or a seeded bootstrap over battles.\n"
        "- **Movers** are marked only when the model's raw and controlled rank intervals do not overlap.\n"
        "- **Held-out log loss**: 5-fold; a control form that explains the judge better has the lower loss.\n"
        "- **Controlled**: the chosen properties' differences (response 1 against response 2) enter as "
        "covariates; a model that wins by being long or well formatted loses places once that is accounted "
        "for. Places gained compare against a raw fit on the same battles.\n"
        "- Models with fewer than the minimum battles are left out and counted in the runs.")
