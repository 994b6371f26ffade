"""Public dataset loaders into the canonical tables.

``load_dataset(name, store)`` fills a :class:`~storemind.store.Store`; ``read_<name>()`` gives
the canonical frames without a store; :data:`DATASETS` lists every loader with a description.
"""
from __future__ import annotations

from storemind.datasets._base import Dataset, DatasetReport, Frames, resolve_data_dir
from storemind.datasets._catalog import DATASETS, get_dataset, load_dataset
from storemind.datasets._download import RemoteFile
from storemind.datasets.amazon_beauty import read_amazon_beauty
from storemind.datasets.cdnow import read_cdnow
from storemind.datasets.creditcard import read_creditcard_fraud
from storemind.datasets.fraud_ecommerce import read_fraud_ecommerce
from storemind.datasets.hillstrom import read_hillstrom
from storemind.datasets.movielens import read_movielens_100k, read_movielens_100k_fold
from storemind.datasets.online_retail import read_online_retail
from storemind.datasets.open_bandit import read_open_bandit
from storemind.datasets.questions import (
    read_amazon_qa,
    read_banking77,
    read_bitext,
    read_ecommerce_faq,
)
from storemind.datasets.sessions import read_diginetica, read_taobao
from storemind.datasets.simulate import GroundTruth, simulate
from storemind.datasets.walmart import read_walmart

__all__ = [
    "simulate",
    "GroundTruth",
    "DATASETS",
    "Dataset",
    "DatasetReport",
    "Frames",
    "RemoteFile",
    "get_dataset",
    "load_dataset",
    "resolve_data_dir",
    "read_amazon_beauty",
    "read_amazon_qa",
    "read_banking77",
    "read_bitext",
    "read_cdnow",
    "read_creditcard_fraud",
    "read_diginetica",
    "read_ecommerce_faq",
    "read_fraud_ecommerce",
    "read_hillstrom",
    "read_movielens_100k",
    "read_movielens_100k_fold",
    "read_online_retail",
    "read_open_bandit",
    "read_taobao",
    "read_walmart",
]
