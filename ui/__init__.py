"""Streamlit helpers of the dashboard: the page registry (navigation), cached reads (data),
URL state, safe text, charts, page layout, background imports (warmup).

Data comes from `pipeline.queries` (no Streamlit there); this package only draws it.
"""
