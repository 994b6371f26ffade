"""The recommend bundle: everything ``storemind train recommend`` registers and serving loads.

A :class:`Bundle` is the training :class:`Interactions` (id maps and events), the fitted base
models by name, the optional :class:`~storemind.recommend.hybrid.HybridRanker` over them, the
catalogue and a JSON ``meta`` dict. :func:`save_bundle` writes it to a folder without pickle::

    folder/
      bundle.json         format, model name -> class path, hybrid class path, meta
      interactions.npz    id maps and event arrays (allow_pickle=False)
      catalogue.parquet   item_id, title, category, brand, price, in_stock (what exists)
      models/<name>/      each model's Estimator.save folder
      hybrid/             the hybrid's Estimator.save folder (+ its LightGBM text model)

:func:`load_bundle` reads it back; it only instantiates classes from ``storemind.recommend``.
"""
from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from storemind.errors import DataError, RegistryError
from storemind.recommend._base import Recommender
from storemind.recommend._interactions import Interactions

if TYPE_CHECKING:  # pragma: no cover
    from storemind.recommend.hybrid import HybridRanker

__all__ = ["Bundle", "save_bundle", "load_bundle", "CATALOGUE_COLUMNS"]

BUNDLE_FORMAT = 1
#: Catalogue columns kept in a bundle (those present in the frame given).
CATALOGUE_COLUMNS: tuple[str, ...] = ("item_id", "title", "category", "brand", "price",
                                      "in_stock")
_ALLOWED_PREFIX = "storemind.recommend."
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_ARRAYS = ("user_ids", "item_ids", "users", "items", "weights", "ts", "event_types")


@dataclass
class Bundle:
    """A trained recommend capability: interactions, models, hybrid, catalogue and meta.

    Attributes
    ----------
    interactions : Interactions
        The training interactions (the id maps every model's indices refer to).
    models : dict of str to Recommender
        Fitted base models by name ("popularity", "itemknn", "ease", "als", "bpr", "sasrec",
        "content", "bought_together").
    hybrid : HybridRanker or None
        The LambdaRank re-ranker over the models' candidates.
    catalogue : pandas.DataFrame
        One row per item: ``item_id`` and what is known of title, category, brand, price and
        ``in_stock``.
    meta : dict
        JSON-able: params, metrics, data snapshot.
    """

    interactions: Interactions
    models: dict[str, Recommender]
    hybrid: HybridRanker | None = None
    catalogue: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"item_id": []}))
    meta: dict[str, Any] = field(default_factory=dict)

    def best_model(self) -> Recommender:
        """The hybrid when there is one, else the first of the base models."""
        if self.hybrid is not None:
            return self.hybrid
        if not self.models:
            raise DataError("this Bundle has no model")
        return next(iter(self.models.values()))


def _class_path(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _resolve(path: str) -> type:
    """A class of storemind.recommend from its dotted path; RegistryError otherwise."""
    if not isinstance(path, str) or not path.startswith(_ALLOWED_PREFIX):
        raise RegistryError(f"bundle names class {path!r}; only {_ALLOWED_PREFIX}* are allowed")
    module, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"bundle names class {path!r}, which cannot be imported: {exc}") \
            from None
    if not (isinstance(cls, type) and issubclass(cls, Recommender)):
        raise RegistryError(f"bundle names {path!r}, which is not a Recommender")
    return cls


def _save_interactions(inter: Interactions, path: Path) -> None:
    arrays = {name: np.asarray(getattr(inter, name)) for name in _ARRAYS}
    arrays["user_ids"] = arrays["user_ids"].astype(str)
    arrays["item_ids"] = arrays["item_ids"].astype(str)
    if inter.sessions is not None:
        arrays["sessions"] = np.asarray(inter.sessions, dtype=np.int64)
    arrays["dropped"] = np.asarray([inter.dropped], dtype=np.int64)
    np.savez(path, **arrays)


def _load_interactions(path: Path) -> Interactions:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    missing = [k for k in _ARRAYS if k not in arrays]
    if missing:
        raise RegistryError(f"{path} lacks interaction arrays {missing}")
    return Interactions(
        user_ids=arrays["user_ids"], item_ids=arrays["item_ids"],
        users=arrays["users"].astype(np.int32), items=arrays["items"].astype(np.int32),
        weights=arrays["weights"].astype(np.float32), ts=arrays["ts"].astype(np.int64),
        event_types=arrays["event_types"].astype(np.int8),
        sessions=arrays.get("sessions"), dropped=int(arrays.get("dropped", [0])[0]),
    )


def _clean_catalogue(catalogue: pd.DataFrame | None) -> pd.DataFrame:
    if catalogue is None:
        return pd.DataFrame({"item_id": pd.Series([], dtype=str)})
    if not isinstance(catalogue, pd.DataFrame) or "item_id" not in catalogue.columns:
        raise DataError("Bundle.catalogue must be a DataFrame with an item_id column, got "
                        f"{type(catalogue).__name__}")
    cols = [c for c in CATALOGUE_COLUMNS if c in catalogue.columns]
    out = catalogue[cols].copy()
    out["item_id"] = out["item_id"].astype(str)
    for col in ("title", "category", "brand"):
        if col in out.columns:
            out[col] = out[col].astype("string")
    if "price" in out.columns:
        out["price"] = pd.to_numeric(out["price"], errors="coerce").astype("float64")
    if "in_stock" in out.columns:
        out["in_stock"] = out["in_stock"].astype("boolean")
    return out.reset_index(drop=True)


def save_bundle(bundle: Bundle, folder: str | Path) -> Path:
    """Write ``bundle`` to ``folder`` (created; must be empty or new); returns the folder.

    Raises
    ------
    DataError
        Not a Bundle, a model that is not a fitted Recommender, or a bad model name.
    """
    if not isinstance(bundle, Bundle):
        raise DataError(f"save_bundle expects a Bundle, got {type(bundle).__name__}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    classes: dict[str, str] = {}
    for name, model in bundle.models.items():
        if not _NAME.match(str(name)):
            raise DataError(f"model name {name!r} must be letters, digits, _ . - (<= 64 chars)")
        if not isinstance(model, Recommender):
            raise DataError(f"bundle model {name!r} is a {type(model).__name__}, "
                            "not a Recommender")
        classes[name] = _class_path(model)
        if not classes[name].startswith(_ALLOWED_PREFIX):
            raise DataError(f"bundle model {name!r} is a {classes[name]}; only "
                            f"{_ALLOWED_PREFIX}* classes can be saved")
        model.save(folder / "models" / name)
    _save_interactions(bundle.interactions, folder / "interactions.npz")
    _clean_catalogue(bundle.catalogue).to_parquet(folder / "catalogue.parquet", index=False)
    hybrid_class = None
    if bundle.hybrid is not None:
        hybrid_class = _class_path(bundle.hybrid)
        bundle.hybrid.save(folder / "hybrid")
    doc = {"format": BUNDLE_FORMAT, "models": classes, "hybrid": hybrid_class,
           "meta": bundle.meta}
    (folder / "bundle.json").write_text(json.dumps(doc, indent=1, default=_plain))
    return folder


def load_bundle(folder: str | Path) -> Bundle:
    """Read a bundle written by :func:`save_bundle` (no pickle; recommend classes only).

    Raises
    ------
    RegistryError
        No bundle in ``folder``, an unknown format, or a class outside storemind.recommend.
    """
    folder = Path(folder)
    try:
        doc = json.loads((folder / "bundle.json").read_text())
    except FileNotFoundError:
        raise RegistryError(f"no recommend bundle in {folder} (bundle.json is missing)") \
            from None
    if doc.get("format") != BUNDLE_FORMAT:
        raise RegistryError(f"{folder}/bundle.json has format {doc.get('format')!r}; "
                            f"this storemind reads format {BUNDLE_FORMAT}")
    models: dict[str, Recommender] = {}
    for name, path in doc.get("models", {}).items():
        if not _NAME.match(str(name)):
            raise RegistryError(f"bad model name {name!r} in {folder}/bundle.json")
        models[name] = _resolve(path).load(folder / "models" / name)
    hybrid = None
    if doc.get("hybrid"):
        hybrid = _resolve(doc["hybrid"]).load(folder / "hybrid")
        attach = getattr(hybrid, "attach", None)
        if attach is not None:
            attach(models)
    interactions = _load_interactions(folder / "interactions.npz")
    catalogue = pd.read_parquet(folder / "catalogue.parquet")
    return Bundle(interactions=interactions, models=models, hybrid=hybrid,
                  catalogue=catalogue, meta=doc.get("meta", {}))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to bundle.json")
