"""The HTTP API: app factory, API-key auth, the one error mapping, and ``POST /v1/events``.

Capability routers plug in as ``storemind.<capability>.api.router`` (see ``docs/api.md``)
and get the store, registry and settings from :mod:`storemind.api.deps`.
"""
from __future__ import annotations

from storemind.api.app import CAPABILITIES, create_app
from storemind.api.auth import require_api_key
from storemind.api.deps import (
    RegistryDep,
    SettingsDep,
    StoreDep,
    add_observer,
    get_registry,
    get_settings,
    get_store,
)
from storemind.api.errors import error_response, status_for

__all__ = [
    "create_app",
    "CAPABILITIES",
    "add_observer",
    "get_store",
    "get_registry",
    "get_settings",
    "StoreDep",
    "RegistryDep",
    "SettingsDep",
    "require_api_key",
    "status_for",
    "error_response",
]
