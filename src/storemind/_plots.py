"""Plotly charts for dashboard pages, drawn with the plotly.js shipped in the plotly package.

Capability-neutral, so a capability's ``dashboard.py`` can use it (capabilities may not import
``storemind.dashboard``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["chart_html", "plotly_js_path"]


def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the plotly Python package (served locally, no CDN)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def chart_html(fig: Any, div_id: str, height: int = 360) -> str:
    """A Plotly figure as an HTML fragment for a dashboard template (``{{ chart | safe }}``);
    plotly.js itself is loaded once by ``base.html`` from ``/static/plotly.min.js``."""
    # the legend hangs below the plot, under the x-axis title when there is one (at -0.15
    # a many-line legend ran over "period" on the forecast chart)
    below = -0.3 if fig.layout.xaxis.title.text else -0.15
    fig.update_layout(template="plotly_white", height=height,
                      margin={"l": 50, "r": 20, "t": 20, "b": 40},
                      legend={"orientation": "h", "y": below, "yanchor": "top"},
                      font={"family": "system-ui, sans-serif", "size": 12})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
