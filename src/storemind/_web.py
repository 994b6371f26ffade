"""FastAPI dependencies that hand a route the app's store, registry and settings.

Capabilities may not import ``storemind.api`` (the arrows point from the faces inward), so the
app puts the shared objects on ``app.state`` and capability routers read them through these::

    from storemind._web import RegistryDep, StoreDep

    @router.get("/recommend/{user_id}")
    def recommend(user_id: str, store: StoreDep, registry: RegistryDep) -> ...:
        ...
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from storemind.config import Settings
from storemind.registry import Registry
from storemind.store import Store

__all__ = [
    "get_state", "get_store", "get_registry", "get_settings", "get_observers", "add_observer",
    "StoreDep", "RegistryDep", "SettingsDep", "Observer",
]

#: An observer takes the events just stored (dicts with the canonical event columns).
Observer = Callable[[list[dict[str, Any]]], Any]


def get_store(request: Request) -> Store:
    """The app's :class:`~storemind.store.Store`."""
    return request.app.state.store


def get_registry(request: Request) -> Registry:
    """The app's model :class:`~storemind.registry.Registry` (``STOREMIND_HOME/models``)."""
    return request.app.state.registry


def get_settings(request: Request) -> Settings:
    """The app's validated :class:`~storemind.config.Settings`."""
    return request.app.state.settings


def get_state(request: Request, name: str, default: Any = None) -> Any:
    """A capability's own per-app object (e.g. a loaded-model cache) on ``app.state``."""
    return getattr(request.app.state, name, default)


def get_observers(request: Request) -> list[Observer]:
    """The callables that receive each batch of newly stored events."""
    return request.app.state.observers


def add_observer(app: FastAPI, observer: Observer) -> None:
    """Register ``observer(events)`` to be called after each ``POST /v1/events`` that stored
    new events (a capability does this in its ``setup(app)`` hook)."""
    if not callable(observer):
        raise TypeError(f"an observer must be callable; got {type(observer).__name__}")
    app.state.observers.append(observer)


StoreDep = Annotated[Store, Depends(get_store)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
