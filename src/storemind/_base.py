"""The estimator base class every model of storemind derives from.

Rules (as in scikit-learn): ``__init__`` only stores its arguments under the same names;
``fit`` validates, learns, and returns ``self``; learned state ends in ``_``; randomness comes
from one ``random_state``. Persistence has no pickle: a model folder holds ``meta.json`` (class,
params, JSON state) and ``arrays.npz`` (numpy arrays, loaded with ``allow_pickle=False``).
A subclass lists its learned state by implementing ``_get_state`` / ``_set_state``.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np

from storemind.errors import NotFittedError, RegistryError

__all__ = ["Estimator", "check_random_state"]

FORMAT_VERSION = 1


def check_random_state(seed: int | np.random.Generator | None) -> np.random.Generator:
    """One generator from ``random_state``: None -> fresh entropy, int -> seeded."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


class Estimator:
    """Base class: params, fitted checks, and save/load without pickle."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Estimator:
        names = set(self._param_names())
        for key, value in params.items():
            if key not in names:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {key!r}; it has {sorted(names)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitted state --------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(...) first"
            )

    # -- persistence ---------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned state as (numpy arrays, JSON-able values). Default: every attribute ending
        in ``_``, arrays to the first dict, the rest to the second."""
        arrays, values = {}, {}
        for key, value in vars(self).items():
            if not key.endswith("_") or key.startswith("_"):
                continue
            if isinstance(value, np.ndarray):
                arrays[key] = value
            else:
                values[key] = value
        return arrays, values

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        for key, value in {**values, **arrays}.items():
            setattr(self, key, value)

    def save(self, path: str | Path) -> Path:
        """Write this fitted model to the folder ``path`` (created); returns it."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        arrays, values = self._get_state()
        for key, arr in arrays.items():
            if arr.dtype == object:
                raise RegistryError(f"{type(self).__name__}.{key} is an object array; not saved")
        np.savez(folder / "arrays.npz", **arrays)
        meta = {
            "format": FORMAT_VERSION,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": self.get_params(),
            "state": values,
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=1, default=_plain))
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Estimator:
        """Read a model written by :meth:`save`; the result answers exactly as the original."""
        folder = Path(path)
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except FileNotFoundError:
            raise RegistryError(f"no saved model in {folder} (meta.json is missing)") from None
        expected = f"{cls.__module__}.{cls.__qualname__}"
        if meta.get("class") != expected:
            raise RegistryError(f"{folder} holds a {meta.get('class')}, not a {expected}")
        obj = cls(**meta["params"])
        with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        obj._set_state(arrays, meta["state"])
        return obj


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to meta.json")
