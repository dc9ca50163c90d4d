"""The app's data layer: one module per page concern, every query a fixed SQL string.

- `status`: what the database holds (Home, the sidebar, every page's 'what next').
- `catalog`: judges, groups, property sets, fit runs.
- `dissection`: probability of preferred per judge x group x property.
- `similarity`: judge x judge correlation of the weights (Overall: scenario groups).
- `samples`: filtering, paging and one pair's details; `shap`: per-pair SHAP.
- `statistics`: property scores, prerequisites, correlation, agreement, length effect.
- `ordering`: how judges, groups and properties are sorted (pure); `base`: connection, frames.

Every function takes the database path first (None: `db.resolve_db_path()`), opens one
short read-only connection and closes it before returning; values from the user are bound
parameters. Fits-reading functions take `property_set` (default 'paper'). No Streamlit here:
`ui/data.py` wraps each function in a cache for the pages.
"""

from .base import DEFAULT_PROPERTY_SET

__all__ = ["DEFAULT_PROPERTY_SET"]
