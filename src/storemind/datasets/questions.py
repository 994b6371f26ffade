"""Customer-service question sets as canonical ``questions``.

- ``banking77``: 13,083 real online-banking queries, 77 intents, official train/test split.
- ``bitext``: 8,175 e-commerce support utterances, 27 intents (hybrid synthetic, no split);
  the intent's category (ORDER, REFUND, ...) is kept in ``source`` as ``bitext/<CATEGORY>``.
- ``amazon_qa``: 9,011 real product questions with answers on 1,153 Appliances products
  (``item_id`` = asin); no intent.
- ``ecommerce_faq``: 79 template-like shop FAQ pairs (a smoke-test fixture).
"""
from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import pandas as pd

from storemind.datasets._base import Dataset, Frames
from storemind.datasets._download import (
    RemoteFile,
    github_raw,
    gzip_bytes,
    resolve_merge_conflict,
)
from storemind.errors import DataError

__all__ = [
    "BANKING77", "BITEXT", "AMAZON_QA", "ECOMMERCE_FAQ",
    "read_banking77", "read_bitext", "read_amazon_qa", "read_ecommerce_faq",
]

_BANKING = ("PolyAI-LDN/task-specific-datasets", "57ec275d8078af65b7731c2a98be812d844a6d6b")
_BITEXT = ("ShivaaniSivanandan/Supportbot", "e0a0f868d12667e6eb67cbbf7490d8306e00c033")
_BITEXT_FILE = "Bitext_Sample_Customer_Service_Training_Dataset.csv"
_AMAZON_QA = ("mitya8128/experiments_notes", "b901c720479ed94228292e0553261c6ba56a5e77")
_FAQ = ("Ziniya147/Chatbot", "d5d354da98b6ce7571505892850645408d87ec85")
_FAQ_FILE = "Ecommerce_FAQ_Chatbot_dataset.json"


def _read_banking77(data_dir: Path) -> Frames:
    parts = []
    for split in ("train", "test"):
        raw = pd.read_csv(data_dir / f"{split}.csv.gz", dtype=str, keep_default_na=False)
        parts.append(pd.DataFrame({
            "question_id": [f"banking77-{split}-{i:05d}" for i in range(len(raw))],
            "question": raw.text,
            "intent": raw.category,
            "source": "banking77",
            "split": split,
        }))
    return Frames({"questions": pd.concat(parts, ignore_index=True)})


def _read_bitext(data_dir: Path) -> Frames:
    raw = pd.read_csv(data_dir / f"{_BITEXT_FILE}.gz", dtype=str, keep_default_na=False,
                      encoding="utf-8-sig")
    questions = pd.DataFrame({
        "question_id": [f"bitext-{i:05d}" for i in range(len(raw))],
        "question": raw.utterance,
        "intent": raw.intent,
        "source": "bitext/" + raw.category,
    })
    return Frames({"questions": questions})


def _read_amazon_qa(data_dir: Path) -> Frames:
    rows, bad = [], 0
    with gzip.open(data_dir / "qa_Appliances.json.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                rows.append(ast.literal_eval(line))
            except (ValueError, SyntaxError):
                bad += 1
    raw = pd.DataFrame(rows)
    questions = pd.DataFrame({
        "question_id": [f"amazon_qa-{i:05d}" for i in range(len(raw))],
        "question": raw.question,
        "answer": raw.answer,
        "source": "amazon_qa",
        "item_id": raw.asin,
    })
    notes = {"questions: lines that are not a Python dict literal (dropped)": bad} if bad else {}
    return Frames({"questions": questions}, notes=notes)


def _read_ecommerce_faq(data_dir: Path) -> Frames:
    path = data_dir / _FAQ_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("Questions"), list):
        keys = list(doc)[:5] if isinstance(doc, dict) else []
        raise DataError(f"{path}: expected an object with a 'Questions' list; got "
                        f"{type(doc).__name__} with keys {keys}")
    entries = doc["Questions"]
    questions = pd.DataFrame({
        "question_id": [f"faq-{i:03d}" for i in range(len(entries))],
        "question": [e.get("question") for e in entries],
        "answer": [e.get("answer") for e in entries],
        "source": "ecommerce_faq",
    })
    return Frames({"questions": questions})


def _reader_doc(name: str, what: str) -> str:
    return (f"{what} as a canonical ``questions`` frame.\n\n    Parameters\n    ----------\n"
            "    data_dir : str or Path, optional\n        The datasets folder (default: "
            "``STOREMIND_DATA``, else ``../shared/data``).\n    download : bool\n"
            "        Fetch missing files from the public source first.\n    ")


def read_banking77(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    return BANKING77.read(data_dir, download=download)


def read_bitext(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    return BITEXT.read(data_dir, download=download)


def read_amazon_qa(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    return AMAZON_QA.read(data_dir, download=download)


def read_ecommerce_faq(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    return ECOMMERCE_FAQ.read(data_dir, download=download)


read_banking77.__doc__ = _reader_doc("banking77", "BANKING77 (train and test)")
read_bitext.__doc__ = _reader_doc("bitext", "Bitext customer support utterances")
read_amazon_qa.__doc__ = _reader_doc("amazon_qa", "Amazon QA (Appliances)")
read_ecommerce_faq.__doc__ = _reader_doc("ecommerce_faq", "The e-commerce FAQ fixture")

BANKING77 = Dataset(
    name="banking77",
    folder="banking77",
    description="BANKING77: 13,083 real online-banking queries in 77 intents, train/test split "
                "(intent routing).",
    tables=("questions",),
    reader=_read_banking77,
    files=tuple(
        RemoteFile(f"{s}.csv.gz", github_raw(*_BANKING, f"banking_data/{s}.csv"), (gzip_bytes,))
        for s in ("train", "test")),
    terms="CC BY 4.0; cite Casanueva et al. (2020).",
)
BITEXT = Dataset(
    name="bitext",
    folder="bitext_customer_service",
    description="Bitext customer support: 8,175 e-commerce support utterances, 27 intents "
                "(hybrid synthetic).",
    tables=("questions",),
    reader=_read_bitext,
    files=(RemoteFile(f"{_BITEXT_FILE}.gz", github_raw(*_BITEXT, _BITEXT_FILE),
                      (resolve_merge_conflict, gzip_bytes)),),
    terms="Community Data License Agreement (Bitext sample).",
)
AMAZON_QA = Dataset(
    name="amazon_qa",
    folder="amazon_qa_appliances",
    description="Amazon product QA (Appliances): 9,011 real questions with answers on 1,153 "
                "products (product-level QA).",
    tables=("questions",),
    reader=_read_amazon_qa,
    files=(RemoteFile("qa_Appliances.json.gz",
                      github_raw(*_AMAZON_QA, "qa_Appliances.json.gz")),),
    terms="UCSD Amazon QA data: research use; cite McAuley & Yang (2016).",
)
ECOMMERCE_FAQ = Dataset(
    name="ecommerce_faq",
    folder="ecommerce_faq",
    description="E-commerce FAQ: 79 template-like shop Q&A pairs (smoke-test fixture only).",
    tables=("questions",),
    reader=_read_ecommerce_faq,
    files=(RemoteFile(_FAQ_FILE, github_raw(*_FAQ, _FAQ_FILE)),),
    terms="Kaggle dataset by Saad Makhdoom (2023); research and testing use only.",
)
