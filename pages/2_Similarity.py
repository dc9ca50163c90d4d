"""Similarity: how alike judges' preferences are (correlation of their 29 weights)."""

import streamlit as st

from pipeline import explore
from ui import charts, data, layout, state

status = layout.page(
    "Similarity", ":material/grid_on:",
    "Similarity of two judges = correlation of their 29 weights in a group. Overall = the mean over the "
    "scenario groups (query-specific groups are not part of it).")
if not layout.what_next(status, "fits"):
    st.stop()

groups = [explore.OVERALL] + data.get("fitted_groups")
c1, c2, c3 = st.columns([3, 2, 2])
with c1:
    group = state.select("Group", groups, key="sim.group", default=explore.OVERALL,
                         format_func=lambda g: g if g == explore.OVERALL else f"{g}  ({explore.group_kind(g)})")
with c2:
    method = state.select("Correlation", ["pearson", "spearman"], key="sim.method", widget="segmented",
                          format_func={"pearson": "Pearson", "spearman": "Spearman"}.get,
                          help="Pearson is the paper's measure; Spearman uses the ranks of the weights.")
with c3:
    order_by = state.select("Order judges", ["size", "cluster", "name"], key="sim.order", widget="segmented",
                            format_func={"size": "by size", "cluster": "by clustering", "name": "by name"}.get,
                            help="By size: the judges' size in billions of parameters (largest first; unknown "
                                 "sizes, e.g. proprietary models, first). By clustering: hierarchical "
                                 "clustering on 1 − similarity.")

available = data.get("fitted_judges", group)
chosen = state.multiselect("Judges", available, key="sim.judges", default=available)
if len(chosen) < 2:
    st.info("Pick at least two judges.")
    st.stop()

matrix = data.get("similarity", group, method, tuple(chosen))
if matrix.empty:
    st.info("No similarity to show for these judges in this group.")
    st.stop()
judges_info = data.get("judges")
sizes = dict(zip(judges_info["judge"], judges_info["size_b"])) if not judges_info.empty else {}
order = explore.order_judges(matrix, order_by, sizes)
long = explore.similarity_long(matrix, group, method)
long["similarity"] = long["similarity"].round(2)
chart = charts.heatmap(
    long, x="judge_b", y="judge_a", value="similarity", x_order=order, y_order=order, domain=[-1, 1], mid=0,
    scheme="redblue", fmt=".2f", title=f"Judge similarity · {group}",
    subtitle=f"{'Pearson' if method == 'pearson' else 'Spearman'} correlation of the 29 weights",
    value_title="similarity", generated=status.generated, cell=max(28, min(48, 900 // max(1, len(order)))))
st.altair_chart(chart, width="content")

st.download_button("Download CSV (matrix)", explore.csv_bytes(matrix.loc[order, order].round(4), index=True),
                   layout.download_name(f"similarity_{group}_{method}", status), mime="text/csv", key="sim.dl")
with st.expander("Matrix as a table"):
    st.dataframe(matrix.loc[order, order].round(3))
if order_by == "size" and not any(sizes.get(j) == sizes.get(j) and sizes.get(j) is not None for j in order):
    st.caption("No judge has a size recorded (judges.size_b), so 'by size' falls back to names.")
