"""Assistant benchmark: BANKING77 intents, Amazon QA answer ranking, Bitext / FAQ answers with
hand-off, and latency on a 10k-entry index. Writes benchmarks/results/assistant.md.

    .venv/bin/python benchmarks/assistant.py

Embeddings are cached in benchmarks/.cache/minilm.npz (git-ignored): the first run encodes
about 40k sentences (minutes on 2 cores), later runs only read them. Encoding time is
reported separately from training time.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, ROOT, machine, markdown_table, measure  # noqa: E402
from storemind.assistant import (  # noqa: E402
    FAQAnswerer,
    HybridIndex,
    IntentClassifier,
    ProductSearch,
    intent_report,
)
from storemind.assistant._encoder import MiniLMEncoder  # noqa: E402
from storemind.datasets import (  # noqa: E402
    read_amazon_qa,
    read_banking77,
    read_bitext,
    read_ecommerce_faq,
)
from storemind.datasets._sim_extra import questions_frame  # noqa: E402
from storemind.evaluation import mrr_at_k, recall_at_k  # noqa: E402

OUT = RESULTS / "assistant.md"
ENC = MiniLMEncoder(cache=ROOT / "benchmarks" / ".cache" / "minilm.npz")
SEED = 0


def encode(texts: list[str]) -> np.ndarray:
    return ENC.encode(texts, progress=True)


# -- BANKING77 ---------------------------------------------------------------------------------
def _tune_c(make, x_tr, y_tr, grid=(10.0, 30.0)):
    """C chosen on a stratified 10% validation slice of the training set."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y_tr))
    a, b = train_test_split(idx, test_size=0.1, random_state=SEED, stratify=y_tr)
    scores = {c: np.mean(make(c).fit(*x_tr(a), y_tr[a]).predict(*x_tr(b)) == y_tr[b])
              for c in grid}
    return max(scores, key=scores.get)


def banking77() -> tuple[list, pd.DataFrame, dict]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline

    q = read_banking77()["questions"]
    tr, te = q[q.split == "train"], q[q.split == "test"]
    t0 = time.perf_counter()
    e_tr, e_te = encode(tr.question.tolist()), encode(te.question.tolist())
    enc_s = time.perf_counter() - t0
    y_tr, y_te = tr.intent.to_numpy(), te.intent.to_numpy()
    t_tr, t_te = tr.question.tolist(), te.question.tolist()
    rows, preds = [], {}

    class _Ours:
        def __init__(self, c, w):
            self.m = IntentClassifier(encoder="hashing", C=c, tfidf_weight=w, random_state=SEED)

        def fit(self, idx_texts, idx_emb, y):
            self.m.fit(idx_texts, y, embeddings=idx_emb)
            return self

        def predict(self, texts, emb):
            return self.m.predict(texts, embeddings=emb)

    def sel(i):
        return [t_tr[j] for j in i], e_tr[i]

    for label, w in (("ours: LR on MiniLM embeddings", 0.0),
                     ("ours: LR on MiniLM embeddings + TF-IDF", 1.0)):
        c = _tune_c(lambda c, w=w: _Ours(c, w), sel, y_tr)
        m = measure(lambda c=c, w=w: _Ours(c, w).fit(t_tr, e_tr, y_tr))
        p = m.value.predict(t_te, e_te)
        preds[label] = p
        rows.append([label, f"C={c:g}", np.mean(p == y_te),
                     f1_score(y_te, p, average="macro"), m.seconds, m.peak_mib])

    class _Tfidf:
        def __init__(self, c):
            self.m = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
                                                   min_df=1),
                                   LogisticRegression(C=c, max_iter=1000))

        def fit(self, texts, _emb, y):
            self.m.fit(texts, y)
            return self

        def predict(self, texts, _emb):
            return self.m.predict(texts)

    c = _tune_c(_Tfidf, sel, y_tr)
    m = measure(lambda: _Tfidf(c).fit(t_tr, None, y_tr))
    p = m.value.predict(t_te, None)
    rows.append(["reference: TF-IDF (word 1-2-grams) + LR", f"C={c:g}", np.mean(p == y_te),
                 f1_score(y_te, p, average="macro"), m.seconds, m.peak_mib])
    m = measure(lambda: (e_te @ e_tr.T).argmax(axis=1))
    p = y_tr[m.value]
    rows.append(["reference: MiniLM + 1-nearest neighbour", "cosine", np.mean(p == y_te),
                 f1_score(y_te, p, average="macro"), m.seconds, m.peak_mib])
    best = max(preds, key=lambda k: np.mean(preds[k] == y_te))
    report = intent_report(y_te, preds[best])
    info = {"encode_s": enc_s, "n": len(tr) + len(te), "best": best}
    return rows, report, info


def finetune(epochs: int = 1, layers: int = 2) -> list:
    """BANKING77 with MiniLM's top blocks fine-tuned on the training intents first (the
    IntentClassifier option), against the same test set as the rows above."""
    import torch
    from sklearn.metrics import f1_score

    torch.set_num_threads(2)
    q = read_banking77()["questions"]
    tr, te = q[q.split == "train"], q[q.split == "test"]
    y_te = te.intent.to_numpy()
    clf = IntentClassifier(C=10.0, fine_tune_epochs=epochs, fine_tune_layers=layers,
                           fine_tune_seconds=900.0, random_state=SEED)
    m = measure(lambda: clf.fit(tr.question.tolist(), tr.intent.tolist()))
    p = clf.predict(te.question.tolist())
    return [[f"ours: MiniLM fine-tuned ({layers} top blocks, {epochs} epoch) + LR",
             "C=10", float(np.mean(p == y_te)), float(f1_score(y_te, p, average="macro")),
             m.seconds, m.peak_mib]]


# -- Amazon QA ---------------------------------------------------------------------------------
def amazon_qa() -> tuple[list, dict]:
    q = read_amazon_qa()["questions"].dropna(subset=["question", "answer"])
    q = q[q.question.str.strip().astype(bool) & q.answer.str.strip().astype(bool)]
    answers, rel = np.unique(q.answer.to_numpy(dtype=str), return_inverse=True)
    questions = q.question.tolist()
    t0 = time.perf_counter()
    e_q, e_a = encode(questions), encode(answers.tolist())
    enc_s = time.perf_counter() - t0
    index = HybridIndex(encoder="hashing").fit(answers.tolist(), embeddings=e_a)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(questions))
    tune, test = order[: len(order) // 5], order[len(order) // 5:]

    def run(sel, fusion, alpha=0.7, k=10):
        index.set_params(fusion=fusion, alpha=alpha)
        out = []
        for s in range(0, len(sel), 500):
            part = sel[s:s + 500]
            idx, _ = index.search([questions[i] for i in part], k, embeddings=e_q[part])
            out.append(idx)
        return np.vstack(out)

    def metrics(sel, top):
        relevant = [np.array([rel[i]]) for i in sel]
        return mrr_at_k(top, relevant, 10), recall_at_k(top, relevant, 1)

    grid = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    tuned = {a: metrics(tune, run(tune, "convex", a))[0] for a in grid}
    alpha = max(tuned, key=tuned.get)
    rows = []
    for label, fusion in (("reference: BM25 alone (ours)", "bm25"), ("MiniLM alone", "dense"),
                          ("hybrid, reciprocal rank fusion", "rrf"),
                          (f"hybrid, convex (alpha={alpha:g}, tuned)", "convex")):
        m = measure(lambda f=fusion: run(test, f, alpha))
        mrr, r1 = metrics(test, m.value)
        rows.append([label, mrr, r1, m.seconds / len(test) * 1000, m.peak_mib])
    return rows, {"encode_s": enc_s, "questions": len(questions), "answers": len(answers),
                  "test": len(test), "alpha_grid": tuned, "alpha": alpha}


# -- Bitext and FAQ answers ------------------------------------------------------------------
def _answer_rows(label, model, test, emb, truth_intent=True):
    res = model.answer(test.question.tolist(), embeddings=emb)
    if truth_intent:
        right = np.array([a.intent == i for a, i in zip(res, test.intent, strict=True)])
    else:
        right = np.array([a.answer == t for a, t in zip(res, test.answer, strict=True)])
    handed = np.array([a.handed_off for a in res])
    conf = np.array([a.confidence for a in res])
    return [label, len(test), model.mode_, model.threshold_, right.mean(),
            right[~handed].mean() if (~handed).any() else float("nan"), handed.mean()], \
        (right, conf)


def answers() -> tuple[list, list]:
    from sklearn.model_selection import train_test_split

    rows, curves = [], []
    b = read_bitext()["questions"]
    b["answer"] = "answer for " + b.intent
    tr, te = train_test_split(b, test_size=0.2, random_state=SEED, stratify=b.intent)
    e_tr, e_te = encode(tr.question.tolist()), encode(te.question.tolist())
    m = FAQAnswerer(encoder="hashing", random_state=SEED).fit(tr, e_tr)
    row, (right, conf) = _answer_rows("Bitext (27 intents, stratified 80/20)", m, te, e_te)
    rows.append(row)
    curves.append(("Bitext", right, conf))
    sim = questions_frame()
    st, ss = sim[sim.split == "train"], sim[sim.split == "test"]
    m = FAQAnswerer(encoder="hashing").fit(st, encode(st.question.tolist()))
    row, (right, conf) = _answer_rows("simulated shop FAQ: 32 entries, paraphrased questions",
                                      m, ss, encode(ss.question.tolist()))
    rows.append(row)
    curves.append(("simulated FAQ", right, conf))
    faq = read_ecommerce_faq()["questions"]
    m = FAQAnswerer(encoder="hashing").fit(faq, encode(faq.question.tolist()))
    bank = read_banking77()["questions"]
    off = bank[bank.split == "test"].sample(500, random_state=SEED)
    res = m.answer(off.question.tolist(), embeddings=encode(off.question.tolist()))
    handed = np.mean([a.handed_off for a in res])
    rows.append(["e-commerce FAQ (79 entries) asked 500 BANKING77 questions (out of scope)",
                 500, m.mode_, m.threshold_, float("nan"), float("nan"), handed])
    return rows, curves


# -- latency --------------------------------------------------------------------------------
def _pct(times: list[float]) -> list[float]:
    return list(np.percentile(np.array(times) * 1000, [50, 99]))


def latency(n_queries: int = 100) -> list:
    """Single questions one at a time: end to end (query encoded by MiniLM) and with the
    query embedding given (the index part alone)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(2)
    threadpool_limits(limits=1, user_api="blas")  # as the server does (storemind.api.app)
    bank = read_banking77()["questions"]
    tr = bank[bank.split == "train"].copy()
    tr["answer"] = "answer for " + tr.intent
    e_tr = encode(tr.question.tolist())
    queries = bank[bank.split == "test"].question.sample(n_queries, random_state=SEED).tolist()
    e_q = encode(queries)
    rows = []
    for label, model in (
            ("answer, intent classifier (10,003 entries)", FAQAnswerer().fit(tr, e_tr)),
            ("answer, retrieval only (10,003 entries)",
             FAQAnswerer(min_examples=10 ** 6).fit(tr, e_tr))):
        model.answer(queries[:3])  # warm up
        full, index_only = [], []
        for i, q in enumerate(queries):
            t = time.perf_counter()
            model.answer([q])
            full.append(time.perf_counter() - t)
            t = time.perf_counter()
            model.answer([q], embeddings=e_q[i:i + 1])
            index_only.append(time.perf_counter() - t)
        rows.append([label, len(model.index), *_pct(full), *_pct(index_only)])
    # a 10k catalogue: the BANKING77 sentences stand in for descriptions (their embeddings
    # are cached; the text does not matter for timing), random categories and prices
    texts = bank.question.drop_duplicates().tolist()[:10_000]
    rng = np.random.default_rng(SEED)
    cats = np.array(["Shoes", "Kitchen", "Home", "Electronics", "Toys"])
    items = pd.DataFrame({"item_id": [f"I{i}" for i in range(len(texts))],
                          "title": [t[:60] for t in texts], "description": texts,
                          "category": cats[rng.integers(0, 5, len(texts))],
                          "price": rng.uniform(1, 200, len(texts)).round(2)})
    ps = ProductSearch().fit(items, embeddings=encode(texts))
    search_q = (["card payment under 50", "exchange rate for travel", "top up kitchen",
                 "refund between 10 and 30"] * n_queries)[:n_queries]
    e_s = encode([ps.parse(s).text for s in search_q])
    ps.search(search_q[0])
    full, index_only = [], []
    for i, s in enumerate(search_q):
        t = time.perf_counter()
        ps.search(s, 10)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        ps.search(s, 10, embedding=e_s[i])
        index_only.append(time.perf_counter() - t)
    rows.append(["search with parsing and filters (10,000 items)", len(items), *_pct(full),
                 *_pct(index_only)])
    return rows


PARTS = ("banking77", "finetune", "amazon_qa", "answers", "latency")
PART_FILE = str(ROOT / "benchmarks" / ".cache" / "assistant-{}.json")


def _run_part(name: str) -> None:
    import json

    t0 = time.perf_counter()
    if name == "banking77":
        rows, report, info = banking77()
        out = {"rows": rows, "report": report.to_numpy().tolist(), "info": info}
    elif name == "amazon_qa":
        rows, info = amazon_qa()
        out = {"rows": rows, "info": {**info, "alpha_grid": {str(k): v for k, v in
                                                             info["alpha_grid"].items()}}}
    elif name == "finetune":
        out = {"rows": finetune()}
    elif name == "answers":
        rows, curves = answers()
        out = {"rows": rows, "curves": [[n, r.tolist(), c.tolist()] for n, r, c in curves]}
    else:
        out = {"rows": latency()}
    out["seconds"] = time.perf_counter() - t0
    out["load"] = os.getloadavg()[0]  # 1-minute load average as the part ended
    out["when"] = time.strftime("%Y-%m-%d %H:%M")
    Path(PART_FILE.format(name)).write_text(json.dumps(out, default=float))
    print(f"{name} done in {out['seconds']:.0f} s", flush=True)


def _write() -> None:
    import json

    got = {p: json.loads(Path(PART_FILE.format(p)).read_text()) for p in PARTS
           if Path(PART_FILE.format(p)).is_file()}
    lines = ["# Assistant benchmark", "",
             f"Machine: {machine()}. Run: `.venv/bin/python benchmarks/assistant.py "
             "[part ...]` (parts: " + ", ".join(PARTS) + "; each is cached and this file is "
             "written from the latest run of each). When each part ran and the machine's "
             "1-minute load average as it ended (2 cores; parts run under load are slower "
             "than an idle machine by about that factor): "
             + "; ".join(f"{p} {g.get('when', 'earlier session')}, load "
                         f"{g['load']:.1f}" if "load" in g else f"{p}: load 10-15 (shared)"
                         for p, g in got.items()) + ".", ""]
    if "banking77" in got:
        b = got["banking77"]
        lines += [
            "## BANKING77 intents (official split: 10,003 train, 3,080 test, 77 intents)", "",
            "Each model's C was chosen on a stratified 10% slice of the training set "
            "(grid 10, 30), then refit on all of it. Train seconds exclude encoding "
            f"(MiniLM: {b['info']['n']:,} sentences, {b['info']['encode_s']:.0f} s in this run, "
            f"0 when read from the cache). Part took {b['seconds']:.0f} s.", "",
            markdown_table(["model", "setting", "accuracy", "macro-F1", "train s",
                            "peak MiB"], b["rows"]), "",
            f"Worst 10 intents of the best model ({b['info']['best']}) by F1 "
            "(`intent_report` gives all 77):", "",
            markdown_table(["intent", "precision", "recall", "F1", "support"],
                           b["report"][:10]), ""]
    if "finetune" in got:
        ft = got["finetune"]["rows"]
        base = max((r[2] for r in got.get("banking77", {}).get("rows", [])
                    if str(r[0]).startswith("ours")), default=float("nan"))
        pays = ft[0][2] > base
        lines += [
            "### Fine-tuning option", "",
            "`IntentClassifier(fine_tune_epochs=1, fine_tune_layers=2)`: MiniLM's top two "
            "blocks trained on the training intents (cross-entropy, AdamW, batch 32, CPU), "
            "then the same logistic regression on the tuned embeddings. Train seconds include "
            "the fine-tuning and encoding the training set with the tuned model.", "",
            markdown_table(["model", "setting", "accuracy", "macro-F1", "train s",
                            "peak MiB"], ft), "",
            f"Does it pay? {'Yes' if pays else 'No'}: accuracy {ft[0][2]:.4f} against "
            f"{base:.4f} for the best frozen-MiniLM model above, for "
            f"{ft[0][4]:.0f} s of training"
            + (" (the option stays off by default)." if not pays else "."), ""]
    if "amazon_qa" in got:
        a = got["amazon_qa"]
        info = a["info"]
        lines += [
            "## Amazon QA (Appliances): rank the true answer among all answers", "",
            f"{info['questions']:,} questions, {info['answers']:,} distinct answers; alpha of "
            "the convex fusion tuned on a random 20% of the questions (MRR@10 per alpha: "
            + ", ".join(f"{k}: {v:.3f}" for k, v in info["alpha_grid"].items())
            + f"); metrics on the other {info['test']:,}. Full ranking, no sampled negatives. "
            "Caution: all-MiniLM-L6-v2 was trained by its authors on pairs that include Amazon "
            f"QA, so the dense numbers may be flattered. Part took {a['seconds']:.0f} s.", "",
            markdown_table(["retrieval", "MRR@10", "Recall@1", "ms / query (batched)",
                            "peak MiB"], a["rows"]), ""]
    if "answers" in got:
        f = got["answers"]
        lines += [
            "## Answers and hand-off at the default threshold", "",
            "Bitext has no answer texts: each intent gets one canonical answer, so an answer "
            "is right when the intent is. The simulated FAQ (the demo store's) asks each "
            "entry's paraphrase; right means that entry's intent (one answer each). The "
            "e-commerce FAQ has no paraphrases, so it is asked banking questions it cannot "
            "answer: every answer given there is a wrong one.", "",
            markdown_table(["set", "questions", "mode", "threshold", "top-1 accuracy",
                            "accuracy of answered", "handed off"], f["rows"]), "",
            "Accuracy of the answered questions and share handed off at other thresholds:", ""]
        for name, right, conf in f["curves"]:
            right, conf = np.array(right, bool), np.array(conf)
            tab = []
            for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
                ans = conf >= t
                tab.append([t, right[ans].mean() if ans.any() else float("nan"),
                            1 - ans.mean()])
            lines += [f"**{name}**", "", markdown_table(
                ["threshold", "accuracy of answered", "handed off"], tab), ""]
    if "latency" in got:
        rows = got["latency"]["rows"]
        worst = max(r[3] for r in rows)
        lines += [
            "## Latency (single questions, one at a time, torch on 2 threads, BLAS on 1 as "
            "in the server)", "",
            "Goal: p99 under 50 ms on 2 cores. \"index part\" times the same call with the "
            "query's embedding given, i.e. everything but running MiniLM on the query.", "",
            markdown_table(["what", "index size", "p50 ms", "p99 ms", "index part p50 ms",
                            "index part p99 ms"], rows), "",
            f"Goal p99 < 50 ms: **{'met' if worst < 50 else 'not met'}** (worst p99 "
            f"{worst:.1f} ms).", ""]
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.read_text())


def main() -> None:
    """``python benchmarks/assistant.py [part ...]``: run the parts named (default all), then
    write the results file from every part run so far."""
    parts = sys.argv[1:] or list(PARTS)
    for p in parts:
        if p not in PARTS:
            raise SystemExit(f"unknown part {p!r}; parts are {PARTS}")
        _run_part(p)
    _write()


if __name__ == "__main__":
    main()
