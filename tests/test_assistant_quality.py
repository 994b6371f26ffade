"""Minimum quality on real data with MiniLM (small subsets, encoded once per module).

Thresholds are measured values minus a margin; each names the command that measured it:
    .venv/bin/python -m pytest tests/test_assistant_quality.py -q -p no:cacheprovider -s
(the -s run prints the measured numbers).
"""
from __future__ import annotations

import numpy as np
import pytest

from storemind.assistant import FAQAnswerer, HybridIndex, IntentClassifier
from storemind.assistant._encoder import MiniLMEncoder
from storemind.datasets import read_amazon_qa, read_banking77
from storemind.datasets._sim_extra import questions_frame
from storemind.evaluation import mrr_at_k


@pytest.fixture(scope="module")
def data(data_dir) -> dict:
    rng = np.random.default_rng(0)
    bank = read_banking77(data_dir)["questions"]
    tr = bank[bank.split == "train"].groupby("intent").sample(8, random_state=0)
    te = bank[bank.split == "test"].sample(300, random_state=0)
    qa = read_amazon_qa(data_dir)["questions"].dropna(subset=["answer"])
    qa = qa.drop_duplicates("answer").iloc[rng.permutation(len(qa.drop_duplicates("answer")))[
        :200]]
    faq = questions_frame()
    texts = (faq.question.tolist() + tr.question.tolist() + te.question.tolist()
             + qa.question.tolist() + qa.answer.tolist())
    emb = MiniLMEncoder().encode(texts)
    cuts = np.cumsum([len(faq), len(tr), len(te), len(qa), len(qa)])
    parts = np.split(emb, cuts[:-1])
    return {"faq": (faq, parts[0]), "bank_tr": (tr, parts[1]), "bank_te": (te, parts[2]),
            "qa": (qa, parts[3], parts[4])}


def test_simulated_faq_paraphrases_are_answered(data) -> None:
    faq, emb = data["faq"]
    train = (faq.split == "train").to_numpy()
    m = FAQAnswerer().fit(faq[train], emb[train])
    res = m.answer(faq[~train].question.tolist(), embeddings=emb[~train])
    right = np.mean([a.answer == t for a, t in zip(res, faq[~train].answer, strict=True)])
    top1 = np.mean([a.intent == t for a, t in zip(res, faq[~train].intent, strict=True)])
    handed = np.mean([a.handed_off for a in res])
    print(f"sim FAQ: answered-right {right:.3f} top1 {top1:.3f} handed off {handed:.3f}")
    assert top1 >= 0.70  # measured 0.750
    assert right >= 0.37  # measured 0.406 answered and right; 0.531 handed off, so 0.87 of
    # the answered ones are right


def test_banking77_subset_intent_accuracy(data) -> None:
    (tr, e_tr), (te, e_te) = data["bank_tr"], data["bank_te"]
    clf = IntentClassifier(C=10.0).fit(tr.question.tolist(), tr.intent, embeddings=e_tr)
    acc = np.mean(clf.predict(te.question.tolist(), embeddings=e_te) == te.intent.to_numpy())
    nn = np.mean(tr.intent.to_numpy()[(e_te @ e_tr.T).argmax(1)] == te.intent.to_numpy())
    print(f"banking77 8/intent: LR {acc:.3f} 1-NN {nn:.3f}")
    assert acc >= 0.78  # measured 0.830, 1-NN 0.807 (8 examples per intent; full: benchmark)
    assert acc > nn


def test_amazon_qa_hybrid_beats_bm25(data) -> None:
    qa, e_q, e_a = data["qa"]
    relevant = [np.array([i]) for i in range(len(qa))]
    out = {}
    for fusion in ("bm25", "convex"):
        index = HybridIndex(fusion=fusion).fit(qa.answer.tolist(), embeddings=e_a)
        idx, _ = index.search(qa.question.tolist(), 10, embeddings=e_q)
        out[fusion] = mrr_at_k(idx, relevant, 10)
    print(f"amazon qa 200: MRR@10 {out}")
    assert out["convex"] >= 0.55  # measured 0.628 (alpha 0.8), BM25 0.462
    assert out["convex"] >= 1.10 * out["bm25"]
