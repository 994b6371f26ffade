"""Train, serve and curate the assistant.

``train`` fits a :class:`FAQAnswerer` on the ``questions`` table and a
:class:`ProductSearch` on the ``items`` table, evaluates the answerer on the held-out
questions (``split == 'test'``, e.g. the simulator's paraphrases) and registers both as one
version of ``assistant``; the embeddings are saved with the models (npz), so serving never
re-encodes the collection. ``ask`` answers one question and records a handed-off one in the
unanswered list; ``curate`` answers an entry of that list, stores the pair in ``questions``
(``source='curated'``) and adds it to the live index at once.
"""
from __future__ import annotations

import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from storemind.assistant._encoder import get_encoder
from storemind.assistant._features import items_of, questions_of, recent_searches, require
from storemind.assistant._unanswered import UnansweredLog
from storemind.assistant.answerer import Answer, FAQAnswerer
from storemind.assistant.intent import intent_report
from storemind.assistant.search import ProductSearch, SearchResult, item_text
from storemind.errors import DataError, NotFoundError

__all__ = ["train", "evaluate", "ask", "search", "search_signal", "unanswered", "curate",
           "load", "home_of", "CAPABILITY"]

CAPABILITY = "assistant"
_CACHE: dict[str, Any] = {}
_LOCK = threading.Lock()


def home_of(registry: Any, settings: Any = None) -> Path:
    """Folder of the assistant's own files: ``STOREMIND_HOME/assistant``."""
    home = getattr(settings, "home", None)
    return Path(home if home is not None else Path(registry.root).parent) / "assistant"


def _encode(texts: list[str], encoder: str, cache_dir: Path | None) -> np.ndarray:
    cache = cache_dir / f"embeddings-{encoder}.npz" if cache_dir and encoder == "minilm" else None
    # a bar on a terminal only: in a log each of its updates would be a line of its own
    bar = len(texts) > 2000 and sys.stderr.isatty()
    return get_encoder(encoder, cache=cache).encode(texts, progress=bar)


def _correct(ans: list[Answer], truth: pd.DataFrame) -> np.ndarray:
    """An answer is right when it names the true intent (labelled data) or gives the true
    answer text."""
    out = []
    for a, (_, row) in zip(ans, truth.iterrows(), strict=True):
        intent = row.get("intent")
        if isinstance(intent, str) and intent:
            out.append(a.intent == intent)
        else:
            out.append(a.answer is not None and a.answer == row.get("answer"))
    return np.array(out, dtype=bool)


def _answer_metrics(model: FAQAnswerer, test: pd.DataFrame, emb: np.ndarray | None
                    ) -> dict[str, float]:
    res = model.answer(test.question.tolist(), embeddings=emb)
    right = _correct(res, test)
    handed = np.array([a.handed_off for a in res])
    answered = ~handed
    out = {
        "holdout_questions": float(len(test)),
        "top1_accuracy": float(right.mean()),
        "handed_off_share": float(handed.mean()),
        "answered_accuracy": float(right[answered].mean()) if answered.any() else 0.0,
        "threshold": model.threshold_,
    }
    if model.classifier is not None and test.intent.notna().all():
        from sklearn.metrics import f1_score

        pred = [a.intent or "" for a in res]
        out["intent_macro_f1"] = float(f1_score(test.intent.astype(str), pred,
                                                average="macro", zero_division=0))
    return out


def _holdout(q: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    labelled = q.answer.notna() | q.intent.notna()
    test = q[(q.split == "test") & labelled]
    if len(test):
        return q.drop(test.index), test
    if labelled.sum() < 20:
        return q, q.iloc[:0]
    rng = np.random.default_rng(seed)
    pick = q.index[labelled.to_numpy()]
    test_idx = rng.choice(pick, size=max(1, len(pick) // 5), replace=False)
    return q.drop(test_idx), q.loc[test_idx]


def evaluate(store: Any, settings: Any = None, *, encoder: str = "minilm",
             random_state: int | None = None) -> dict[str, float]:
    """Answer quality on the held-out questions (``split == 'test'``, else a random fifth)."""
    seed = random_state if random_state is not None else getattr(settings, "seed", 0)
    q = questions_of(store)
    require(q, "questions", "answers")
    train_q, test_q = _holdout(q, seed)
    if test_q.empty:
        return {}
    cache = Path(settings.home) / "assistant" if settings is not None else None
    emb = _encode(q.question.tolist(), encoder, cache)
    pos = {i: k for k, i in enumerate(q.index)}
    tr_e = emb[[pos[i] for i in train_q.index]]
    te_e = emb[[pos[i] for i in test_q.index]]
    model = FAQAnswerer(encoder=encoder, random_state=seed).fit(train_q, tr_e)
    return _answer_metrics(model, test_q, te_e)


def train(store: Any, registry: Any, settings: Any = None, *, encoder: str = "minilm",
          random_state: int | None = None) -> Any:
    """Fit and register the answerer (``questions``) and product search (``items``).

    Returns the new ``ModelVersion``; raises :class:`DataError` when the store has neither
    questions nor items.
    """
    seed = random_state if random_state is not None else getattr(settings, "seed", 0)
    t0 = time.perf_counter()
    q, items = questions_of(store), items_of(store)
    if q.empty and items.empty:
        raise DataError("the assistant needs the 'questions' table (FAQ, past Q&A) or the "
                        "'items' table (catalogue); both are empty or missing")
    cache = home_of(registry, settings)
    metrics: dict[str, float] = {}
    answerer = search_model = None
    report = None
    if not q.empty:
        emb = _encode(q.question.tolist(), encoder, cache)
        train_q, test_q = _holdout(q, seed)
        if len(test_q):
            pos = {i: k for k, i in enumerate(q.index)}
            held = FAQAnswerer(encoder=encoder, random_state=seed).fit(
                train_q, emb[[pos[i] for i in train_q.index]])
            te_e = emb[[pos[i] for i in test_q.index]]
            metrics.update(_answer_metrics(held, test_q, te_e))
            if held.classifier is not None:
                pred = held.classifier.predict(test_q.question.tolist(), te_e)
                report = intent_report(test_q.intent.astype(str), pred)
        answerer = FAQAnswerer(encoder=encoder, random_state=seed).fit(q, emb)
        metrics.update({"entries": float(len(q)),
                        "intents": float(len(set(answerer.intents_.tolist()) - {""})),
                        "intent_classifier": float(answerer.classifier is not None)})
    if not items.empty:
        emb = _encode(item_text(items.reset_index(drop=True)), encoder, cache)
        search_model = ProductSearch(encoder=encoder).fit(items, emb)
        metrics.update(_search_self_check(search_model, items, emb, seed))
    metrics["train_seconds"] = time.perf_counter() - t0

    def write(folder: Path) -> None:
        if answerer is not None:
            answerer.save(folder / "answerer")
        if search_model is not None:
            search_model.save(folder / "search")
        if report is not None:
            report.to_csv(folder / "intent_report.csv", index=False)

    params = {"encoder": encoder, "random_state": seed,
              "answerer": answerer.get_params() if answerer else None,
              "search": search_model.get_params() if search_model else None}
    return registry.register(CAPABILITY, write, params=params, metrics=metrics,
                             data={"rows": int(len(q) + len(items)), "questions": int(len(q)),
                                   "items": int(len(items))})


def _search_self_check(model: ProductSearch, items: pd.DataFrame, emb: np.ndarray,
                       seed: int, n: int = 100) -> dict[str, float]:
    """Recall@10 of an item when its own title is the query (a sanity check, not quality)."""
    titles = items.title.astype(object).where(items.title.notna(), "").astype(str)
    pick = np.random.default_rng(seed).permutation(len(items))[:n]
    pick = [i for i in pick if titles.iloc[i].strip()]
    if not pick:
        return {}
    qs = [titles.iloc[i] for i in pick]
    q_emb = model.index.encode_queries(qs)
    idx, _ = model.index.search(qs, 10, embeddings=q_emb)
    hits = [model.index.ids_[j] for j in pick]
    rec = np.mean([h in set(model.index.ids_[r[r >= 0]]) for h, r in zip(hits, idx,
                                                                             strict=True)])
    return {"items": float(len(items)), "search_title_recall_at_10": float(rec)}


# -- serving --------------------------------------------------------------------------------
@dataclass
class Loaded:
    """The current version's models (either may be None when its table was empty)."""

    version: str
    answerer: FAQAnswerer | None
    search: ProductSearch | None


def load(registry: Any, store: Any = None) -> Loaded:
    """The current version's models, loaded once and reloaded when the version changes.

    With ``store``, curated answers stored after training (``questions`` rows with
    ``source='curated'``) are added to the loaded answerer."""
    mv = registry.get(CAPABILITY)
    key = f"{Path(registry.root).resolve()}::{mv.version}"
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is None:
            ans = (FAQAnswerer.load(mv.path / "answerer")
                   if (mv.path / "answerer").is_dir() else None)
            srch = (ProductSearch.load(mv.path / "search")
                    if (mv.path / "search").is_dir() else None)
            hit = Loaded(mv.version, ans, srch)
            for old in [k for k in _CACHE if k.startswith(key.split("::")[0] + "::")]:
                del _CACHE[old]
            _CACHE[key] = hit
            if store is not None and ans is not None:
                _sync_curated(store, ans)
    return hit


def _sync_curated(store: Any, answerer: FAQAnswerer) -> None:
    q = questions_of(store)
    known = set(answerer.index.ids_.tolist())
    new = q[(q.source == "curated") & ~q.question_id.isin(known) & q.answer.notna()]
    for row in new.itertuples():
        answerer.add(row.question, row.answer, row.intent if isinstance(row.intent, str)
                     else None, question_id=row.question_id)


def _log(registry: Any, settings: Any) -> UnansweredLog:
    return UnansweredLog(home_of(registry, settings) / "unanswered.jsonl")


def ask(store: Any, registry: Any, settings: Any, text: str, *, record: bool = True
        ) -> Answer:
    """Answer one customer question; a handed-off one is added to the unanswered list
    (unless ``record=False``)."""
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"expected a question (non-empty text); got {text!r}")
    models = load(registry, store)
    if models.answerer is None:
        raise NotFoundError("the assistant was trained without questions; load FAQ or past "
                            "Q&A into the 'questions' table and run `storemind train "
                            "assistant`")
    answer = models.answerer.answer([text.strip()])[0]
    if answer.handed_off and record:
        _log(registry, settings).record(answer.question, answer.confidence, answer.intent)
    return answer


def search(store: Any, registry: Any, settings: Any, query: str, k: int = 10) -> SearchResult:
    """Semantic product search (see :meth:`ProductSearch.search`)."""
    models = load(registry, store)
    if models.search is None:
        raise NotFoundError("the assistant was trained without items; load a catalogue into "
                            "'items' and run `storemind train assistant`")
    return models.search.search(query, k)


def search_signal(store: Any, registry: Any, user_id: str, *, n_queries: int = 5,
                  k: int = 50, decay: float = 0.5) -> pd.Series:
    """What a customer's recent searches point at, as item scores for recommendations.

    The user's last ``n_queries`` search queries (``events`` with ``event_type='search'``)
    are each run through product search; an item's score is the sum over queries of its
    search score times ``decay ** age`` (age 0 = newest query), scaled so the best item has
    1. Empty when the user has no searches.

    Returns
    -------
    Series
        Scores indexed by ``item_id``, highest first.
    """
    models = load(registry, store)
    past = recent_searches(store, user_id, n_queries)
    if models.search is None or past.empty:
        return pd.Series(dtype=float, name="search_signal")
    total: dict[str, float] = {}
    for age, query in enumerate(past["query"].astype(str)):
        if not query.strip():
            continue
        found = models.search.search(query, k).items
        for item, score in zip(found.item_id, found.score, strict=True):
            total[item] = total.get(item, 0.0) + max(float(score), 0.0) * decay ** age
    s = pd.Series(total, dtype=float, name="search_signal").sort_values(ascending=False)
    if len(s) and s.iloc[0] > 0:
        s = s / s.iloc[0]
    s.index.name = "item_id"
    return s


def unanswered(registry: Any, settings: Any = None, status: str | None = "open"
               ) -> list[dict[str, Any]]:
    """Questions handed to a person (newest first); ``status`` "open", "answered" or None."""
    return _log(registry, settings).entries(status)


def curate(store: Any, registry: Any, settings: Any, entry_id: str, answer: str,
           intent: str | None = None) -> dict[str, Any]:
    """Answer an unanswered question: mark it answered, store the pair in ``questions``
    (``source='curated'``) and add it to the live answerer, so the same question is answered
    from then on (and is part of the next training)."""
    entry = _log(registry, settings).resolve(entry_id, answer)
    qid = f"curated-{uuid.uuid4().hex[:12]}"
    store.append("questions", [{"question_id": qid, "question": entry["question"],
                                "answer": entry["answer"], "intent": intent,
                                "source": "curated", "split": "train"}],
                 source_name="assistant/curate")
    models = load(registry, store)
    if models.answerer is not None and qid not in set(models.answerer.index.ids_.tolist()):
        models.answerer.add(entry["question"], entry["answer"], intent, question_id=qid)
    return {**entry, "question_id": qid}
