"""Streamlit helpers of the dashboard: cached reads, URL state, safe text, charts, page layout.

Data comes from `pipeline.explore` (no Streamlit there); this package only draws it.
"""
