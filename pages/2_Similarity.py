"""Similarity: how alike judges' preferences are (correlation of their weights)."""

import streamlit as st

from pipeline.answers.readouts import METHODS, OVERALL
from pipeline.queries import similarity
from ui import charts, data, layout, state
from ui.text import md_escape

status = layout.page(
    __file__, intro=
    "Similarity of two judges = correlation of their weights in a group. Overall = the mean over the "
    "scenario groups (query-specific groups and All are not part of it).")
if not layout.what_next(status, "fits"):
    st.stop()
pset = layout.property_set()
kinds = data.group_kinds()
# Overall is the mean over scenario groups: raw pairs have none (only All), so it is offered
# only where some judge has a scenario fit, and the default is a group with two judges.
fitted_groups = data.fitted_groups(pset)
groups = ([OVERALL] if data.fitted_judges(OVERALL, pset) else []) + fitted_groups
groups = groups or [OVERALL]
default_group = next((g for g in groups if len(data.fitted_judges(g, pset)) >= 2), groups[0])
c1, c2, c3 = st.columns([3, 2, 2])
with c1:
    group = state.select("Group", groups, key="sim.group", default=default_group,
                         format_func=lambda g: g if g == OVERALL else f"{g}  ({kinds.get(g, 'scenario')})")
with c2:
    method = state.select("Correlation", list(METHODS), key="sim.method", widget="segmented",
                          format_func={"pearson": "Pearson", "spearman": "Spearman"}.get,
                          help="Pearson is the paper's measure; Spearman uses the ranks of the weights.")
with c3:
    order_by = state.select("Order judges", ["size", "cluster", "name"], key="sim.order", widget="segmented",
                            format_func={"size": "by size", "cluster": "by clustering", "name": "by name"}.get,
                            help="By size: the judges' size in billions of parameters (largest first; unknown "
                                 "sizes, e.g. proprietary models, first). By clustering: hierarchical "
                                 "clustering on 1 − similarity.")

available = data.fitted_judges(group, pset)
if len(available) < 2:  # nothing to correlate: say so once, instead of an empty picker
    if len(data.fitted_judges(None, pset)) >= 2:
        st.info(f"Similarity compares the weights of two judges, and fewer than two have a fit of the "
                f"{md_escape(pset)} set in {md_escape(group)}: choose another group.", icon=":material/info:")
    else:
        st.info(f"Similarity compares the weights of two judges with fits, and this database has "
                f"{len(data.fitted_judges(None, pset))} with a fit of the {md_escape(pset)} set: add a second "
                "judge (Add judge page, or `python -m pipeline judge-llm`) and fit it to see how alike they are.",
                icon=":material/info:")
    st.stop()
with st.expander(f"Judges ({len(available)} with a fit here)", expanded=len(available) <= 12):
    chosen = state.multiselect("Judges", available, key="sim.judges", default=available, omit_default=True,
                               label_visibility="collapsed")
if len(chosen) < 2:
    st.info("Pick at least two judges.")
    st.stop()

matrix = data.similarity_matrix(group, method, tuple(chosen), pset)
if matrix.empty:
    st.info("No similarity to show for these judges in this group.")
    st.stop()
judges_info = data.judges(pset)
sizes = dict(zip(judges_info["judge"], judges_info["size_b"])) if not judges_info.empty else {}
order = similarity.order_judges(matrix, order_by, sizes)


def _label(j: str) -> str:
    """With order by size, the size goes into the judge's label (the 'size column')."""
    s = sizes.get(j)
    if order_by != "size" or s is None or s != s:
        return j
    return f"{j} · {s:g}B"


labels = {j: _label(j) for j in order}
if len(set(labels.values())) < len(labels):
    labels = {j: j for j in order}
long = similarity.similarity_long(matrix, group, method)
long["similarity"] = long["similarity"].round(2)
long["judge_a"] = long["judge_a"].map(labels)
long["judge_b"] = long["judge_b"].map(labels)
scale = charts.similarity_scale(matrix)
n = len(order)
cell = charts.cell_size(n)
lo = scale["domain"][0]
chart = charts.heatmap(
    long, x="judge_b", y="judge_a", value="similarity", x_order=[labels[j] for j in order],
    y_order=[labels[j] for j in order], domain=scale["domain"], mid=scale["mid"], scheme=scale["scheme"],
    fmt=".2f", title=f"Judge similarity · {group}",
    subtitle=f"{'Pearson' if method == 'pearson' else 'Spearman'} correlation of the weights; "
             f"colours from {lo:g} to 1",
    value_title="similarity", generated=status.generated, cell=cell, cell_height=max(18, min(cell, 30)),
    compact=n > 14, font_size=10 if cell >= 26 else 9, label_limit=0)  # judge names show whole
st.altair_chart(chart, width="content")
if order_by == "size":
    st.caption("Ordered by size: human first, then judges of unknown size (e.g. proprietary models), then "
               "largest to smallest; the size in billions of parameters follows the name.")
elif order_by == "cluster":
    st.caption("Ordered by clustering: judges whose preferences are alike sit next to each other "
               "(average linkage on 1 − similarity).")

layout.download_csv("Download CSV (matrix)", matrix.loc[order, order].round(4), f"similarity_{group}_{method}_{pset}",
                    status, key="sim.dl", index=True)
with st.expander("Matrix as a table"):
    st.dataframe(matrix.loc[order, order].round(3))
if order_by == "size" and not any(sizes.get(j) == sizes.get(j) and sizes.get(j) is not None for j in order):
    st.caption("No judge has a size recorded (judges.size_b), so 'by size' falls back to names.")
