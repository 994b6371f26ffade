"""The live recommendations page: requests and events per second, latency percentiles, and a
"try it" panel that posts an event and shows the recommendations change.

``live_page(request, store, registry)`` returns ``("recommend_live.html", context)`` like any
capability page; the page's script polls ``GET /v1/recommend/live/stats`` every two seconds.
"""
from __future__ import annotations

from typing import Any

__all__ = ["live_page"]


def live_page(request: Any, store: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """Context of the live page (the numbers are filled in by the page's script)."""
    from storemind.recommend.api import service_of

    service = service_of(request.app)
    sample_user = None
    try:
        snap = service.current()
        if snap.user_pos:
            sample_user = next(iter(snap.user_pos))
    except Exception:  # not trained: the page still shows the live counters
        snap = None
    stats = service.stats()
    return "recommend_live.html", {
        "title": "Recommendations: live",
        "stats": stats,
        "sample_user": sample_user or "new-visitor",
        "sample_item": None if snap is None or not snap.item_list else snap.item_list[0],
    }
