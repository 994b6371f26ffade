"""The web dashboard: server-rendered pages served by the API process, working offline.

``/`` is the overview (tables, date ranges, quarantine, events per day); ``/dashboard/<cap>``
is each capability's page. A capability adds its page with a module
``storemind.<cap>.dashboard`` exposing ``page(request, store, registry) -> (template, context)``
and its template in ``storemind/<cap>/templates/`` (see ``docs/dashboard.md``).
"""
from __future__ import annotations

from storemind.dashboard._charts import chart_html
from storemind.dashboard.routes import CAPABILITY_INFO, install_dashboard

__all__ = ["install_dashboard", "chart_html", "CAPABILITY_INFO"]
