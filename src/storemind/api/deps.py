"""FastAPI dependencies of the app; defined in :mod:`storemind._web` so that capability
routers can use them without importing the API package."""
from __future__ import annotations

from storemind._web import (
    Observer,
    RegistryDep,
    SettingsDep,
    StoreDep,
    add_observer,
    get_observers,
    get_registry,
    get_settings,
    get_state,
    get_store,
)

__all__ = [
    "get_state", "get_store", "get_registry", "get_settings", "get_observers", "add_observer",
    "StoreDep", "RegistryDep", "SettingsDep", "Observer",
]
