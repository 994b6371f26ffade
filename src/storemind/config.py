"""Service settings, read once from ``STOREMIND_*`` environment variables.

Model settings are constructor arguments of the estimators; this is the second layer: where
things live and how the service behaves. ``Settings()`` validates at start-up.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Typed settings of storemind; each field reads ``STOREMIND_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="STOREMIND_", extra="ignore")

    home: Path = Field(Path("storemind-home"), description="Folder of the store and registry.")
    data: Path = Field(Path("../shared/data"), description="Folder of the public datasets.")
    engine: str = Field(
        "duckdb", description="'duckdb', or 'spark' / 'spark://host:port' / 'local[*]'."
    )
    api_keys: str = Field("", description="Comma-separated API keys accepted for writes.")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_batch: int = Field(10_000, ge=1, description="Most events in one POST /v1/events.")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest request body.")
    seed: int = 0
    keep_versions: int = Field(
        0, ge=0, description="After `storemind train`, keep this many newest versions of each "
        "trained capability (and the current one) and delete the rest; 0 keeps every version.")

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value == "duckdb" or value == "spark" or value.startswith(("spark://", "local")):
            return value
        raise ValueError(
            f"engine must be 'duckdb', 'spark', 'spark://host:port' or 'local[N]'; got {value!r}"
        )

    @property
    def keys(self) -> frozenset[str]:
        """The accepted API keys, without blanks."""
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def db_path(self) -> Path:
        return self.home / "store.duckdb"

    @property
    def models_path(self) -> Path:
        return self.home / "models"


def get_settings() -> Settings:
    """Settings from the environment (fresh each call, so tests can change variables)."""
    return Settings()
