"""Every exception storemind raises on purpose.

One module holds the types; ``storemind.api`` maps them to HTTP status codes in one place.
Messages say what was expected, what was received, and where (file, row, column, id).
"""
from __future__ import annotations

__all__ = [
    "StoremindError",
    "ConfigError",
    "DataError",
    "SchemaError",
    "IngestError",
    "NotFittedError",
    "UnknownIdError",
    "NotFoundError",
    "TooLargeError",
    "AuthError",
    "RegistryError",
    "StoreLockedError",
]


class StoremindError(Exception):
    """Base class of every error storemind raises on purpose."""


class ConfigError(StoremindError):
    """A setting is missing or invalid."""


class DataError(StoremindError, ValueError):
    """Input data has the wrong shape, type or values."""


class SchemaError(DataError):
    """A table or column does not match the canonical schema."""


class IngestError(DataError):
    """A file could not be read at all, or no row of it could be stored."""


class NotFittedError(StoremindError, AttributeError):
    """An estimator's verb was called before ``fit``."""


class NotFoundError(StoremindError, LookupError):
    """A named thing (table, model version, dataset, experiment) does not exist."""


class UnknownIdError(NotFoundError, KeyError):
    """An id (user, item, payment, ...) is not known to a model or the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TooLargeError(DataError):
    """A request or batch exceeds a configured limit."""


class AuthError(StoremindError):
    """A write was attempted without a valid API key."""


class RegistryError(StoremindError):
    """The model registry is missing an artefact or is inconsistent."""


class StoreLockedError(StoremindError):
    """The store's file is held by another process (e.g. a running server)."""
