"""The catalogue of dataset loaders and ``load_dataset``."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from storemind.datasets._base import Dataset, DatasetReport
from storemind.datasets.amazon_beauty import AMAZON_BEAUTY
from storemind.datasets.cdnow import CDNOW
from storemind.datasets.creditcard import CREDITCARD_FRAUD
from storemind.datasets.fraud_ecommerce import FRAUD_ECOMMERCE
from storemind.datasets.hillstrom import HILLSTROM
from storemind.datasets.movielens import MOVIELENS_100K
from storemind.datasets.online_retail import ONLINE_RETAIL
from storemind.datasets.open_bandit import OPEN_BANDIT
from storemind.datasets.questions import AMAZON_QA, BANKING77, BITEXT, ECOMMERCE_FAQ
from storemind.datasets.sessions import DIGINETICA, TAOBAO
from storemind.datasets.walmart import WALMART
from storemind.errors import NotFoundError

if TYPE_CHECKING:
    from storemind.store import Store

__all__ = ["DATASETS", "get_dataset", "load_dataset"]

#: Every dataset loader by name.
DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (MOVIELENS_100K, AMAZON_BEAUTY, ONLINE_RETAIL, CDNOW, HILLSTROM, WALMART,
              CREDITCARD_FRAUD, FRAUD_ECOMMERCE, BANKING77, BITEXT, AMAZON_QA, ECOMMERCE_FAQ,
              OPEN_BANDIT, DIGINETICA, TAOBAO)
}


def get_dataset(name: str) -> Dataset:
    """The loader called ``name``; a clear error listing the known names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise NotFoundError(
            f"unknown dataset {name!r}; known datasets are: {', '.join(DATASETS)}"
        ) from None


def load_dataset(
    name: str,
    store: Store,
    data_dir: str | Path | None = None,
    download: bool = False,
    progress: bool = True,
) -> DatasetReport:
    """Read public dataset ``name`` and ingest its canonical tables into ``store``.

    Every table goes through ``store.ingest``, so rows are validated (bad ones quarantined with
    a reason) and loading twice stores nothing new.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    store : Store
        Where the tables go.
    data_dir : str or Path, optional
        The folder holding the dataset folders; default ``STOREMIND_DATA``, else
        ``../shared/data`` relative to the current directory.
    download : bool
        Fetch missing files from the dataset's public source first (needs the network).
    progress : bool
        Show a progress bar while tables are ingested.

    Returns
    -------
    DatasetReport
        An ``IngestReport`` per table (``read == stored + duplicates + quarantined``), with
        ``.notes``: rows the loader dropped or adjusted before ingestion, by reason.

    Raises
    ------
    NotFoundError
        For an unknown name, or when the dataset's files are missing (the message says where
        it looked and that ``download=True`` fetches them).
    """
    return get_dataset(name).load(store, data_dir, download=download, progress=progress)
