"""Altair charts of the dashboard. Each returns a chart; pages draw it with st.altair_chart.

Text in charts (titles, axes, tooltips) is drawn by Vega as text, never as HTML.
Generated (demo) data gets a subtitle saying so on every chart.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

GENERATED_NOTE = "generated demo data, not real judgements"
_PALETTE = "tableau10"


def _title(text: str, generated: bool, subtitle: str | None = None) -> alt.TitleParams:
    subs = [s for s in (subtitle, GENERATED_NOTE if generated else None) if s]
    return alt.TitleParams(text=text, subtitle=subs or "", anchor="start", fontSize=14)


def dissection_dots(df: pd.DataFrame, order: Sequence[str], judges: Sequence[str], *,
                    title: str, generated: bool = False) -> alt.LayerChart:
    """Probability of preferred per property: one dot per judge, CI bars, a 50% rule."""
    d = df.copy()
    d["ci"] = np.where(d["prob_low"].notna(),
                       d["prob_low"].round(1).astype(str) + " – " + d["prob_high"].round(1).astype(str), "n/a")
    vals = pd.concat([d["probability"], d["prob_low"].dropna(), d["prob_high"].dropna()])
    lo = min(float(vals.min()) if len(vals) else 50.0, 50.0)
    hi = max(float(vals.max()) if len(vals) else 50.0, 50.0)
    pad = max(2.0, (hi - lo) * 0.05)
    domain = [max(0.0, lo - pad), min(100.0, hi + pad)]
    legend = alt.selection_point(fields=["judge"], bind="legend")
    zoom = alt.selection_interval(bind="scales", encodings=["x"])
    y = alt.Y("property:N", sort=list(order), title=None, axis=alt.Axis(labelLimit=0))  # names show whole
    xscale = alt.Scale(domain=domain, nice=False, zero=False)
    x = alt.X("probability:Q", scale=xscale,
              title="Probability of preferred (%): response 1 wins when better only on this property")
    color = alt.Color("judge:N", sort=list(judges), scale=alt.Scale(scheme=_PALETTE),
                      legend=alt.Legend(orient="top", title="Judge (click to highlight)", labelLimit=0))
    opacity = alt.condition(legend, alt.value(1.0), alt.value(0.12))
    base = alt.Chart(d)
    bars = base.mark_rule(strokeWidth=2).encode(
        y=y, yOffset=alt.YOffset("judge:N", sort=list(judges)), x=alt.X("prob_low:Q", scale=xscale), x2="prob_high:Q",
        color=color, opacity=opacity)
    dots = base.mark_circle(size=90).encode(
        y=y, yOffset=alt.YOffset("judge:N", sort=list(judges)), x=x, color=color, opacity=opacity,
        tooltip=[alt.Tooltip("judge:N"), alt.Tooltip("property:N"),
                 alt.Tooltip("probability:Q", format=".1f", title="probability %"),
                 alt.Tooltip("ci:N", title="95% interval %"), alt.Tooltip("weight:Q", format=".3f"),
                 alt.Tooltip("description:N", title="property"),
                 alt.Tooltip("n_pairs:Q", title="pairs fitted")],
    ).add_params(legend, zoom)
    rule = alt.Chart(pd.DataFrame({"x": [50.0]})).mark_rule(color="#777", strokeDash=[5, 4]).encode(
        x=alt.X("x:Q", scale=xscale))
    n_rows = max(1, len(order))
    # A height per property row (Step), not in total: the total also holds the title, the legend and
    # the axis, so the style set's 10 rows were squeezed into a sliver with 2 of 10 names shown.
    # With yOffset the step is each judge's sub-row: 12 px each and at least 24 px a property (one judge:
    # 12 px rows lost every other name), fewer when 2000 px would not do.
    n_judges = max(1, len(judges))
    step = max(5, min(max(12, -(-24 // n_judges)), 2000 // (n_rows * n_judges)))
    return alt.layer(rule, bars, dots).properties(
        title=_title(title, generated, "dashed line: 50% = indifferent; bars: 95% credible interval"),
        height=alt.Step(step))


def compact_number(v: float, fmt: str = ".2f") -> str:
    """A cell label without the leading zero ('.83', '-.12'), so values fit in small cells."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    text = format(float(v), fmt)
    if text.startswith("0."):
        return text[1:]
    if text.startswith("-0."):
        return "-" + text[2:]
    return text


def cell_size(n: int, *, width: int = 760, lo: int = 22, hi: int = 44) -> int:
    """Cell width in px so that an n-column heatmap fits in about `width` px of the page."""
    return int(max(lo, min(hi, width // max(1, n))))


def text_is_dark_bg(values: pd.Series, lo: float, hi: float, mid: float | None, sequential: bool) -> pd.Series:
    """Whether the colour behind each value is dark (so its label should be white).

    Diverging scales (with a mid) are pale at the mid and dark at both ends; with Vega's
    domainMid each side is stretched separately. Sequential scales darken towards hi."""
    v = values.astype(float)
    if mid is not None:
        up = (v - mid) / (hi - mid) if hi != mid else 0 * v
        down = (mid - v) / (mid - lo) if lo != mid else 0 * v
        return np.maximum(up, down) > 0.6
    if sequential:
        return (v - lo) / ((hi - lo) or 1.0) > 0.55
    centre = (lo + hi) / 2
    return (v - centre).abs() > 0.3 * ((hi - lo) or 1.0)


_SEQUENTIAL = {"blues", "greens", "greys", "oranges", "purples", "reds", "bluegreen", "bluepurple", "goldgreen",
               "goldorange", "goldred", "greenblue", "orangered", "purpleblue", "purplered", "redpurple",
               "yellowgreen", "yelloworangered", "yelloworangebrown", "lightgreyteal", "teals", "darkblue"}


def heatmap(long: pd.DataFrame, *, x: str, y: str, value: str, x_order: Sequence[str], y_order: Sequence[str],
            title: str, domain: Sequence[float] | None = None, mid: float | None = None,
            scheme: str = "blueorange", fmt: str = ".2f", text: bool = True, generated: bool = False,
            subtitle: str | None = None, value_title: str | None = None, tooltip_extra: Sequence = (),
            cell: int = 34, reverse: bool = False, cell_height: int | None = None,
            compact: bool = False, font_size: int = 10, dim: str | None = None,
            label_limit: int | None = None) -> alt.LayerChart:
    """A heatmap with the values written in the cells (without the leading zero when `compact`).

    `dim`: a boolean column; its true cells are drawn pale (e.g. an interval that spans the
    midpoint), with dark text. `label_limit`: the axes' label width in px (0: names show whole)."""
    d = long.copy()
    scale_kwargs = {"scheme": scheme}
    if domain is not None:
        scale_kwargs["domain"] = list(domain)
    if mid is not None:
        scale_kwargs["domainMid"] = mid
    if reverse:
        scale_kwargs["reverse"] = True
    vt = value_title or value
    enc_x = alt.X(f"{x}:N", sort=list(x_order), title=None,
                  axis=alt.Axis(labelAngle=-40, labelLimit=180 if label_limit is None else label_limit,
                                labelOverlap=False, orient="top"))
    enc_y = alt.Y(f"{y}:N", sort=list(y_order), title=None,
                  axis=alt.Axis(labelLimit=220 if label_limit is None else label_limit, labelOverlap=False))
    tooltip = [alt.Tooltip(f"{y}:N"), alt.Tooltip(f"{x}:N"), alt.Tooltip(f"{value}:Q", format=fmt, title=vt),
               *tooltip_extra]
    rect_enc = {"x": enc_x, "y": enc_y, "tooltip": tooltip,
                "color": alt.Color(f"{value}:Q", scale=alt.Scale(**scale_kwargs), title=vt)}
    if dim is not None:
        rect_enc["opacity"] = alt.condition(f"datum['{dim}']", alt.value(0.3), alt.value(1.0))
    rect = alt.Chart(d).mark_rect().encode(**rect_enc)
    layers = [rect]
    if text:
        lo, hi = (domain if domain is not None else (d[value].min(), d[value].max()))
        dark = text_is_dark_bg(d[value], float(lo), float(hi), mid,
                               sequential=scheme.lower() in _SEQUENTIAL and not reverse)
        d["_dark"] = dark.fillna(False).astype(bool)
        if dim is not None:  # a pale cell keeps dark text
            d["_dark"] &= ~d[dim].fillna(False).astype(bool)
        if compact:
            d["_label"] = [compact_number(v, fmt) for v in d[value]]
            label = alt.Text("_label:N")
        else:
            label = alt.Text(f"{value}:Q", format=fmt)
        layers.append(alt.Chart(d).mark_text(fontSize=font_size).encode(
            x=enc_x, y=enc_y, text=label,
            color=alt.condition("datum._dark", alt.value("white"), alt.value("black")),
            tooltip=tooltip))
    return alt.layer(*layers).properties(
        title=_title(title, generated, subtitle), width=alt.Step(cell),
        height=alt.Step(cell_height or max(18, cell - 8)),
        autosize=alt.AutoSizeParams(type="pad"))


def shap_waterfall(frame: pd.DataFrame, base: float, fx: float, *, title: str, generated: bool = False,
                   max_rows: int = 15) -> alt.LayerChart:
    """SHAP waterfall: from f(0) (no difference) to f(x), one bar per property that differs."""
    d = frame[frame["shap"].abs() > 1e-12].copy()
    d["abs"] = d["shap"].abs()
    d = d.sort_values("abs", ascending=False)
    rest = d.iloc[max_rows:]
    d = d.iloc[:max_rows].copy()
    if len(rest):
        d = pd.concat([d, pd.DataFrame([{"property": f"{len(rest)} other properties", "feature": np.nan,
                                         "shap": rest["shap"].sum(), "abs": rest["abs"].sum()}])],
                      ignore_index=True)
    d["label"] = [
        f"{p} ({'+1' if f > 0 else '-1'})" if pd.notna(f) and f != 0 else str(p)
        for p, f in zip(d["property"], d["feature"])]
    d["end"] = base + d["shap"].cumsum()
    d["start"] = d["end"] - d["shap"]
    d["direction"] = np.where(d["shap"] > 0, "towards response 1", "towards response 2")
    order = list(d["label"]) + ["f(x)"]
    top = pd.DataFrame([{"label": "f(x)", "start": base, "end": fx, "shap": fx - base,
                         "direction": "prediction"}])
    dd = pd.concat([d, top], ignore_index=True)
    dd["right"] = dd[["start", "end"]].max(axis=1)
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=240))
    lo = float(min(dd["start"].min(), dd["end"].min(), base))
    hi = float(max(dd["start"].max(), dd["end"].max(), base))
    pad = max(0.02, 0.08 * (hi - lo))
    xscale = alt.Scale(domain=[max(0.0, lo - pad), min(1.0, hi + pad)], zero=False, nice=False)
    bars = alt.Chart(dd).mark_bar(size=14).encode(
        y=y,
        x=alt.X("start:Q", title="P(response 1 preferred)", scale=xscale),
        x2="end:Q",
        color=alt.Color("direction:N", scale=alt.Scale(
            domain=["towards response 1", "towards response 2", "prediction"],
            range=["#d6604d", "#4393c3", "#666666"]), legend=alt.Legend(orient="top", title=None)),
        tooltip=[alt.Tooltip("label:N", title="property (feature)"),
                 alt.Tooltip("shap:Q", format="+.3f", title="SHAP"),
                 alt.Tooltip("start:Q", format=".3f"), alt.Tooltip("end:Q", format=".3f")])
    rules = alt.Chart(pd.DataFrame({"x": [base], "what": ["f(0) = 0.5: no difference"]})).mark_rule(
        color="#777", strokeDash=[5, 4]).encode(x=alt.X("x:Q", scale=xscale), tooltip=["what:N"])
    values = alt.Chart(dd).mark_text(align="left", dx=4, fontSize=10, color="#333").encode(
        y=y, x=alt.X("right:Q", scale=xscale), text=alt.Text("shap:Q", format="+.3f"))
    return alt.layer(rules, bars, values).properties(
        title=_title(title, generated, f"f(0) = {base:.2f} (responses equal) → f(x) = {fx:.2f}"),
        height=alt.Step(24), width="container", autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


def bars(df: pd.DataFrame, *, x: str, y: str, title: str, order: Sequence[str] | None = None,
         rule: float | None = None, fmt: str = ".2f", x_title: str | None = None, color: str | None = None,
         tooltip: Sequence | None = None, domain: Sequence[float] | None = None,
         generated: bool = False, subtitle: str | None = None) -> alt.LayerChart:
    """Horizontal bars (one per category), optionally with a reference rule."""
    scale = alt.Scale(domain=list(domain)) if domain is not None else alt.Undefined
    enc = dict(
        y=alt.Y(f"{y}:N", sort=list(order) if order is not None else "-x", title=None,
                axis=alt.Axis(labelLimit=240)),
        x=alt.X(f"{x}:Q", title=x_title or x, scale=scale),
        tooltip=list(tooltip) if tooltip else [alt.Tooltip(f"{y}:N"), alt.Tooltip(f"{x}:Q", format=fmt)],
    )
    if color:
        enc["color"] = alt.Color(f"{color}:N", scale=alt.Scale(scheme=_PALETTE),
                                 legend=alt.Legend(orient="top"))
    chart = alt.Chart(df).mark_bar().encode(**enc)
    layers = [chart]
    if rule is not None:
        layers.append(alt.Chart(pd.DataFrame({"x": [rule]})).mark_rule(color="#555", strokeDash=[5, 4])
                      .encode(x="x:Q"))
    return alt.layer(*layers).properties(
        title=_title(title, generated, subtitle), height=alt.Step(22), width="container",
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


def differences(df: pd.DataFrame, *, y: str, title: str, x_title: str, order: Sequence[str] | None = None,
                fmt: str = "+.2f", generated: bool = False, subtitle: str | None = None,
                tooltip: Sequence = ()) -> alt.LayerChart:
    """One dot per row at `difference` with its 95% interval (`ci_low`..`ci_high`) and a rule at 0;
    rows whose interval excludes 0 (`differs`) are filled, the rest hollow. Names show whole."""
    d = df.copy()
    d["interval"] = [f"{format(lo, fmt)} to {format(hi, fmt)}" for lo, hi in zip(d["ci_low"], d["ci_high"])]
    d["clear"] = np.where(d["differs"], "interval excludes 0", "interval includes 0")
    enc_y = alt.Y(f"{y}:N", sort=list(order) if order is not None else None, title=None,
                  axis=alt.Axis(labelLimit=0))
    tips = [alt.Tooltip(f"{y}:N"), alt.Tooltip("difference:Q", format=fmt), alt.Tooltip("interval:N", title="95% interval"),
            *tooltip]
    rule = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#777", strokeDash=[5, 4]).encode(x="x:Q")
    bars = alt.Chart(d).mark_rule(strokeWidth=2, color="#4c78a8").encode(
        y=enc_y, x=alt.X("ci_low:Q", title=x_title), x2="ci_high:Q", tooltip=tips)
    dots = alt.Chart(d).mark_point(size=80, color="#4c78a8").encode(
        y=enc_y, x="difference:Q", tooltip=tips,
        fill=alt.condition("datum.differs", alt.value("#4c78a8"), alt.value("white")),
        shape=alt.Shape("clear:N", legend=alt.Legend(orient="top", title=None)))
    return alt.layer(rule, bars, dots).properties(
        title=_title(title, generated, subtitle), height=alt.Step(24), width="container",
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


def similarity_scale(matrix: pd.DataFrame) -> dict:
    """Colour scale of a judge-similarity heatmap, spread over the values actually present.

    Correlations of real judges mostly lie between 0.3 and 1, so a fixed [-1, 1] scale paints
    every cell the same blue. The scale runs from the smallest off-diagonal value (rounded
    down to 0.1, at most 0.5) to 1: sequential blues when all are positive, diverging
    red-blue around 0 when some are negative."""
    m = matrix.to_numpy(dtype=float)
    off = m[~np.eye(len(m), dtype=bool)] if m.size else m.ravel()
    off = off[~np.isnan(off)]
    if not off.size:
        return {"domain": [-1.0, 1.0], "mid": 0.0, "scheme": "redblue"}
    lo = max(-1.0, min(0.5, np.floor(float(off.min()) * 10) / 10))
    if lo >= 0:
        return {"domain": [lo, 1.0], "mid": None, "scheme": "blues"}
    return {"domain": [lo, 1.0], "mid": 0.0, "scheme": "redblue"}


def histogram(df: pd.DataFrame, *, start: str, end: str, count: str, title: str, x_title: str,
              generated: bool = False, subtitle: str | None = None) -> alt.Chart:
    """Bars over pre-computed bins (start, end, count), e.g. `statistics.measure_histogram`."""
    return alt.Chart(df).mark_bar().encode(
        x=alt.X(f"{start}:Q", bin="binned", title=x_title), x2=f"{end}:Q",
        y=alt.Y(f"{count}:Q", title=count),
        tooltip=[alt.Tooltip(f"{start}:Q", title="from"), alt.Tooltip(f"{end}:Q", title="to"),
                 alt.Tooltip(f"{count}:Q", format=",d")],
    ).properties(title=_title(title, generated, subtitle), width="container", height=260)
