"""Charts for dashboard pages; defined in :mod:`storemind._plots` so capabilities can use them."""
from __future__ import annotations

from storemind._plots import chart_html, plotly_js_path

__all__ = ["chart_html", "plotly_js_path"]
