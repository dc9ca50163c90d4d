"""Samples & SHAP: browse pairs with their annotations, and see why a judge chose as it did.

All dataset text (queries, responses, reference answers, annotations) is shown as plain
text: st.code / st.text / dataframes, never markdown or HTML.
"""

import streamlit as st

from pipeline.queries import samples
from pipeline.queries.ordering import HUMAN
from ui import charts, data, layout, state
from ui.text import label, md_escape, show_text

ANY = "(any)"

status = layout.page(
    __file__, intro=
    "Browse the pairs: the query, both responses, the reference answer and the annotations. "
    "SHAP shows which property differences pushed a judge's fitted model towards its choice.")
if not layout.what_next(status, "pairs"):
    st.stop()
pset = layout.property_set()
opts = data.filter_options()

# ------------------------------------------------------------------ filters
with st.container(border=True):
    c = st.columns([3, 3, 3, 2, 3, 3])
    with c[0]:
        scenarios = state.multiselect("Scenario", opts["scenarios"], key="smp.scenario", placeholder="all")
    with c[1]:
        in_group = state.select("Group", [ANY] + opts["groups"], key="smp.in_group",
                                help="Scenario or query-specific group (a pair can be in several).")
    with c[2]:
        model = state.select("Model", [ANY] + opts["models"], key="smp.model",
                             help="Pairs where either response comes from this model.")
    with c[3]:
        # Any labelled judge can be the one others disagree with (an LLM-only database has no human).
        against = state.select("Compared with", opts["judges"], key="smp.against",
                               default=HUMAN if HUMAN in opts["judges"] else None,
                               help="The judge whose choices the next filter compares with.") or HUMAN
    with c[4]:
        disagree = state.multiselect(f"Judges that disagree with {against}",
                                     [j for j in opts["judges"] if j != against], key="smp.disagree",
                                     placeholder="none" if len(opts["judges"]) > 1 else "needs a second judge",
                                     disabled=len(opts["judges"]) < 2,
                                     help="Pairs where every judge chosen here picked the other response "
                                          "than the judge they are compared with.")
    with c[5]:
        search = state.text("Text search", key="smp.q", placeholder="in query and responses",
                            max_chars=200)

flt = samples.PairFilter(
    scenarios=tuple(scenarios), group=None if in_group == ANY else in_group,
    model=None if model == ANY else model, disagree=tuple(disagree),
    text=search.strip() or None, against=against)
ids = data.filter_pair_ids(flt)
n_all, min_id, max_id = opts["n_pairs"], opts["min_id"], opts["max_id"]
if not n_all:
    st.info("No pairs in the database.")
    st.stop()

# When the filter changes, jump to its first pair (unless the current one still matches).
signature = repr(flt)
jump = samples.after_filter_change(st.session_state.get("smp._filter"), signature, ids,
                                   st.session_state.get("smp.pair"))
st.session_state["smp._filter"] = signature
if jump is not None:
    st.session_state["smp.pair"] = jump


def _step(delta: int, ids: list[int]) -> None:
    st.session_state["smp.pair"] = samples.step(ids, int(st.session_state.get("smp.pair", ids[0])), delta)


def _picked_row() -> None:
    sel = st.session_state.get("smp.table")
    rows = (sel or {}).get("selection", {}).get("rows", []) if isinstance(sel, dict) else \
        getattr(getattr(sel, "selection", None), "rows", [])
    window = st.session_state.get("smp._window", [])
    if rows and rows[0] < len(window):
        st.session_state["smp.pair"] = int(window[rows[0]])


# ------------------------------------------------------------------ navigation
nav = st.columns([1, 1, 2, 4], vertical_alignment="bottom")
with nav[2]:
    pair_id = state.number("Go to pair id", key="smp.pair", default=ids[0] if ids else min_id,
                           min_value=min_id, max_value=max_id)
with nav[0]:
    st.button("◀ Previous", key="smp.prev", on_click=_step, args=(-1, ids), disabled=not ids,
              width="stretch")
with nav[1]:
    st.button("Next ▶", key="smp.next", on_click=_step, args=(1, ids), disabled=not ids, width="stretch")
with nav[3]:
    st.caption(samples.position_text(ids, pair_id, n_all))

if ids:
    start, window = samples.page_of(ids, pair_id)
    st.session_state["smp._window"] = window
    with st.expander(f"Matching pairs ({len(ids):,}); showing {start + 1:,}–{start + len(window):,}, "
                     "click a row to open it", expanded=False):
        st.dataframe(data.pair_list(tuple(window), judge=against), hide_index=True, key="smp.table",
                     on_select=_picked_row, selection_mode="single-row",
                     column_config={"num_words_1": "words 1", "num_words_2": "words 2",
                                    "human": f"{label(against)} chose"})

detail = data.pair_detail(pair_id)
if detail is None:
    st.info(f"There is no pair {pair_id} (pair ids run from {min_id} to {max_id}).")
    st.stop()

# ------------------------------------------------------------------ the pair
p = detail["pair"]
st.subheader(f"Pair {pair_id}")
meta = [f"Scenario: {md_escape(p.get('scenario_group') or 'n/a')}",
        f"source: {md_escape(p.get('source'))} #{p.get('source_index')}"]
if detail["groups"]:
    meta.append("groups: " + ", ".join(md_escape(g) for g in detail["groups"]))
annotated = p.get("annotated") is not False
if not annotated:  # a raw labelled pair: its style properties are fitted, the paper's not yet
    meta.append("not annotated yet: style properties only (`python -m pipeline annotate` adds the paper's "
                "annotations in place)")
elif not p.get("usable"):
    meta.append("not usable for fitting the paper's properties (an error check was not applicable)")
st.caption(" · ".join(meta))

st.markdown("**Query**")
show_text(p.get("query"), height=160)
r1, r2 = st.columns(2)
labels = detail["labels"]
ref_choice = samples.choice_of(labels, against)
for col, n in ((r1, 1), (r2, 2)):
    with col:
        won = f" · {md_escape(against)} preferred this one" if ref_choice == n else ""
        words = p.get(f"num_words_{n}")
        st.markdown(f"**Response {n}**")
        st.caption(f"model: {md_escape(p.get(f'model_{n}') or 'n/a')}"
                   + (f" · {int(words):,} words" if words is not None else "") + won)
        show_text(p.get(f"response_{n}"), height=420)
with st.expander("Reference answer (written by the annotating model)"):
    show_text(p.get("reference"), empty="(no reference answer stored)")

tabs = st.tabs(["Judges' choices", "Ratings", "Errors", "Query-specific", "Features"])
with tabs[0]:
    if labels.empty:
        st.caption("No judge labelled this pair.")
    else:
        view = samples.choices_table(labels, against)
        st.dataframe(view, hide_index=True, height=min(36 * (len(view) + 1) + 3, 800),
                     column_config={"prob_1": st.column_config.NumberColumn("P(response 1)", format="%.2f")})
NOT_ANNOTATED = ("Not annotated: raw pairs have no {what} until `python -m pipeline annotate` "
                 "annotates them (the Annotate page shows the cost first).")
with tabs[1]:
    ratings = detail["ratings"]
    if not annotated and ratings.empty:
        st.caption(NOT_ANNOTATED.format(what="basic ratings"))
    elif ratings.empty:
        st.caption("No basic ratings for this pair.")
    else:
        ratings = samples.with_features(ratings, detail["features"])
        st.caption("Basic ratings 0–3 of each response ('non-repetitive' holds the raw 'repetitive' "
                   "rating); feature: +1 response 1 has more, -1 response 2 has more, 0 equal.")
        st.dataframe(ratings, hide_index=True)
with tabs[2]:
    checks = detail["error_checks"]
    if not annotated and checks.empty:  # the check never ran: "no errors" would claim it did
        st.caption(NOT_ANNOTATED.format(what="error checks"))
    if not checks.empty:
        st.caption("Error check applicable: " + ", ".join(
            f"response {int(r)}: {'yes' if a else 'no'}" for r, a in zip(checks["response"], checks["applicable"])))
    errors = detail["errors"]
    if errors.empty and (annotated or not checks.empty):
        st.caption("No errors detected.")
    elif not errors.empty:
        st.dataframe(errors, hide_index=True)
with tabs[3]:
    facts = detail["facts"]
    if facts:
        st.dataframe(samples.facts_table(facts),
                     hide_index=True)
    items = detail["items"]
    if not items.empty:
        st.caption("Listed in the query:")
        st.dataframe(items, hide_index=True)
    qs = detail["query_specific"]
    if not annotated and qs.empty and not facts:
        st.caption(NOT_ANNOTATED.format(what="query-specific checks"))
    elif qs.empty:
        st.caption("No query-specific results (the query meets no prerequisite).")
    else:
        st.dataframe(qs, hide_index=True)
with tabs[4]:
    feats = samples.feature_table(detail, pset)
    if feats.empty:
        st.caption("This pair has no features yet: style features come with `python -m pipeline fit "
                   "--properties style`; the paper's with `python -m pipeline annotate`.")
    else:
        st.caption(f"The fitted set ({md_escape(pset)}) first; +1: response 1 has more, -1: response 2 has more.")
        st.dataframe(feats, hide_index=True)

# ------------------------------------------------------------------ SHAP
st.subheader("Why did the judge choose this? (SHAP)")
if not status.has_fits:
    layout.what_next(status, "fits")
    st.stop()
if "paper" in pset.split("+") and not annotated:
    st.info(f"This pair is not annotated, so the {md_escape(pset)} fits cannot explain it; choose a set "
            "it has features of (style) in the sidebar, or annotate it with `python -m pipeline annotate`.")
    st.stop()
if not detail["features"] or (pset == "paper" and not p.get("usable")):
    st.info("This pair has no features (an error check was not applicable), so it was not used for fitting "
            "and has no SHAP explanation.")
    st.stop()
fitted = data.fitted_judges(None, pset)
sc = st.columns([2, 3, 3])
with sc[0]:
    sjudge = state.select("Judge", fitted, key="smp.sjudge", default=HUMAN if HUMAN in fitted else None)
shap_groups = data.shap_groups(sjudge, tuple(detail["groups"]), pset)
with sc[1]:
    if shap_groups:
        default_group = p.get("scenario_group") if p.get("scenario_group") in shap_groups else shap_groups[0]
        sgroup = state.select("Fitted model of group", shap_groups, key="smp.sgroup", default=default_group,
                              help="The pair's groups in which this judge has a fit.")
    else:
        sgroup = None
if sgroup is None:
    st.info("This judge has no fit in any of this pair's groups.")
    st.stop()

chosen = samples.choice_of(labels, sjudge)
with sc[2]:
    st.metric("The judge chose", f"response {chosen}" if chosen else "no label")


exp = data.pair_shap(sjudge, sgroup, pair_id, pset)
if exp is None:
    st.info(f"No SHAP explanation for this judge, group and pair (the pair lacks features of the "
            f"property set {md_escape(pset)}).")
elif not (exp["frame"]["shap"].abs() > 1e-12).any():
    st.info(f"The two responses do not differ in any of the {len(exp['frame'])} properties of the "
            f"{md_escape(pset)} set, so the fitted model has nothing to go on: it gives each response 50% and "
            "there is no SHAP explanation.")
else:
    fx = exp["fx"]
    left, right = st.columns([3, 1])
    with left:
        st.altair_chart(charts.shap_waterfall(
            exp["frame"], exp["base"], fx, title=f"SHAP · {sjudge} · {sgroup} · pair {pair_id}",
            generated=status.generated), width="stretch")
    with right:
        st.metric("Model: P(response 1)", f"{fx:.2f}")
        predicted = 1 if fx > 0.5 else 2 if fx < 0.5 else None
        st.metric("Model predicts", f"response {predicted}" if predicted else "a tie")
        if chosen and predicted:
            agree = predicted == chosen
            st.caption("The fitted model " + ("agrees with" if agree else "differs from")
                       + " the judge's actual choice on this pair.")
        if not exp.get("exact", True):
            st.caption("Many properties differ here: SHAP values are estimated from sampled coalitions (within about 0.001).")
    with st.expander("SHAP values"):
        st.dataframe(exp["frame"], hide_index=True,
                     column_config={"shap": st.column_config.NumberColumn("SHAP", format="%+.4f"),
                                    "weight": st.column_config.NumberColumn(format="%.3f")})
    st.caption("f(x) = sigmoid(x · w): the judge's fitted probability of preferring response 1. "
               "Background: the all-zero vector (no difference), f(0) = 0.5; properties where the "
               "responses do not differ contribute nothing.")
