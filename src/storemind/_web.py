"""What capability routers need from the running app, without importing the app.

Capabilities may not import ``storemind.api`` (the arrows point from the faces inward), so the
app puts the shared objects on ``app.state`` and capability routers read them through these
FastAPI dependencies.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from storemind.config import Settings
from storemind.registry import Registry
from storemind.store import Store

__all__ = ["get_store", "get_registry", "get_settings", "get_state",
           "StoreDep", "RegistryDep", "SettingsDep"]


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_registry(request: Request) -> Registry:
    return request.app.state.registry


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_state(request: Request, name: str, default: Any = None) -> Any:
    """A capability's own per-app object (e.g. a loaded model cache) on ``app.state``."""
    return getattr(request.app.state, name, default)


StoreDep = Annotated[Store, Depends(get_store)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
