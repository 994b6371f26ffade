"""Customer-service answers from the ``questions`` table: hybrid retrieval over the known
questions, an intent classifier where intents are labelled, and a confidence threshold below
which the question goes to a person instead of being guessed."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator
from storemind.assistant._compose import flatten, unflatten
from storemind.assistant.bm25 import _texts
from storemind.assistant.hybrid import HybridIndex
from storemind.assistant.intent import IntentClassifier
from storemind.errors import DataError

__all__ = ["FAQAnswerer", "Answer", "Source", "HANDOFF_MESSAGE"]

HANDOFF_MESSAGE = ("I am not sure about this one, so I have passed your question to a "
                   "colleague, who will get back to you.")


@dataclass
class Source:
    """A known entry an answer came from."""

    question_id: str
    question: str
    score: float


@dataclass
class Answer:
    """The assistant's reply to one question.

    ``answer`` is None when the question is handed to a person (``handed_off``); then
    ``message`` says so. ``route`` is ``"intent"`` (the classifier chose the intent, the answer
    is that intent's), ``"match"`` (a known question matched closely) or ``"retrieval"``.
    """

    question: str
    answer: str | None
    confidence: float
    handed_off: bool
    intent: str | None = None
    route: str = "retrieval"
    message: str = ""
    sources: list[Source] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.array([""] * len(frame), dtype=str)
    col = frame[name].astype(object).where(frame[name].notna(), "")
    return np.array([str(v) for v in col], dtype=str)


class FAQAnswerer(Estimator):
    """Answers questions from known question-answer pairs.

    Each question is matched against the known questions (:class:`HybridIndex`). Where the
    entries carry intent labels with at least ``min_examples`` examples per intent (median),
    an :class:`IntentClassifier` decides the intent, its probability is the confidence, and
    the answer is the best-matching entry of that intent with an answer (or the intent's most
    common answer). Without enough labels the best-matching entry with an answer is used and
    the cosine similarity of the two questions is the confidence. Either way, a known question
    matched with cosine >= ``match_threshold`` wins outright (so an answer added by a curator
    is used from then on). Below ``threshold`` the answer is withheld (``handed_off``).

    Parameters
    ----------
    encoder : {"minilm", "hashing"}
    threshold : float, optional
        Confidence needed to answer. Default: 0.5 with the classifier, 0.6 for retrieval.
    match_threshold : float
        Cosine at which a known question counts as the same question.
    min_examples : int
        Median examples per intent needed to train the classifier.
    C, tfidf_weight : float
        Intent classifier settings (see :class:`IntentClassifier`).
    fusion, alpha : str, float
        Retrieval settings (see :class:`HybridIndex`). Short questions matched to short
        questions gain little from words: on the simulated FAQ's paraphrases top-1 was 0.75
        with the cosine alone, 0.75 at alpha 0.9, 0.66 at 0.8, 0.56 at 0.7 and 0.28 with RRF,
        so BM25 only breaks near-ties here (product names, model numbers).
    k : int
        Candidates considered per question.
    random_state : int, optional
    """

    def __init__(self, encoder: str = "minilm", threshold: float | None = None,
                 match_threshold: float = 0.9, min_examples: int = 5, C: float = 10.0,
                 tfidf_weight: float = 0.0, fusion: str = "convex", alpha: float = 0.9,
                 k: int = 10, random_state: int | None = None):
        self.encoder = encoder
        self.threshold = threshold
        self.match_threshold = match_threshold
        self.min_examples = min_examples
        self.C = C
        self.tfidf_weight = tfidf_weight
        self.fusion = fusion
        self.alpha = alpha
        self.k = k
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------------------
    @staticmethod
    def _frame(questions: Any) -> pd.DataFrame:
        if not isinstance(questions, pd.DataFrame):
            raise DataError("expected a DataFrame shaped like the questions table (columns "
                            f"question, answer, intent, question_id); got "
                            f"{type(questions).__name__}")
        if "question" not in questions:
            raise DataError("the questions frame needs a 'question' column; it has "
                            f"{list(questions.columns)}")
        bad = questions.question.map(lambda q: not isinstance(q, str) or not q.strip())
        if bad.any():
            raise DataError(f"every question must be non-empty text; {int(bad.sum())} are not, "
                            f"first at row {int(np.flatnonzero(bad.to_numpy())[0])}")
        return questions.reset_index(drop=True)

    def fit(self, questions: pd.DataFrame, embeddings: np.ndarray | None = None
            ) -> FAQAnswerer:
        """Learn from a frame shaped like the ``questions`` table; returns ``self``."""
        frame = self._frame(questions)
        if frame.empty:
            raise DataError("FAQAnswerer.fit: expected at least one question; got none")
        texts = frame.question.tolist()
        ids = (_column(frame, "question_id") if "question_id" in frame
               else np.array([f"q{i}" for i in range(len(frame))], dtype=str))
        index = HybridIndex(encoder=self.encoder, fusion=self.fusion, alpha=self.alpha)
        index.fit(texts, ids, embeddings)
        self._index = index
        self.questions_ = np.array(texts, dtype=str)
        self.answers_ = _column(frame, "answer")
        self.intents_ = _column(frame, "intent")
        self._clf = None
        labelled = self.intents_ != ""
        counts = pd.Series(self.intents_[labelled]).value_counts()
        if len(counts) >= 2 and counts.median() >= self.min_examples:
            self._clf = IntentClassifier(encoder=self.encoder, C=self.C,
                                         tfidf_weight=self.tfidf_weight,
                                         random_state=self.random_state)
            self._clf.fit(self.questions_[labelled].tolist(), self.intents_[labelled],
                          embeddings=index.embeddings_[labelled])
        self._refresh_intent_answers()
        self.mode_ = "intent" if self._clf is not None else "retrieval"
        default = 0.5 if self._clf is not None else 0.6
        self.threshold_ = float(self.threshold if self.threshold is not None else default)
        return self

    def _refresh_intent_answers(self) -> None:
        has = (self.intents_ != "") & (self.answers_ != "")
        pairs = pd.DataFrame({"intent": self.intents_[has], "answer": self.answers_[has]})
        best = (pairs.groupby(["intent", "answer"]).size().reset_index(name="n")
                .sort_values(["intent", "n"], ascending=[True, False])
                .drop_duplicates("intent"))
        self.intent_names_ = best.intent.to_numpy(dtype=str)
        self.intent_answers_ = best.answer.to_numpy(dtype=str)

    def add(self, question: str, answer: str, intent: str | None = None,
            question_id: str | None = None, embedding: np.ndarray | None = None
            ) -> FAQAnswerer:
        """Add one known question with its answer (no refit; used from the next question)."""
        self._check_fitted()
        for name, value in (("question", question), ("answer", answer)):
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"{name} must be non-empty text; got {value!r}")
        qid = question_id or f"added-{len(self.questions_)}"
        self.index.add([question], [qid], None if embedding is None else embedding[None, :])
        self.questions_ = np.append(self.questions_, question).astype(str)
        self.answers_ = np.append(self.answers_, answer).astype(str)
        self.intents_ = np.append(self.intents_, intent or "").astype(str)
        self._refresh_intent_answers()
        return self

    # -- nested models, saved flat --------------------------------------------------------
    @property
    def index(self) -> HybridIndex:
        self._check_fitted()
        return self._index

    @property
    def classifier(self) -> IntentClassifier | None:
        self._check_fitted()
        return self._clf

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, values = super()._get_state()
        flatten("index", self._index, arrays, values)
        if self._clf is not None:
            flatten("clf", self._clf, arrays, values)
        return arrays, values

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        mine = {k: v for k, v in arrays.items() if "__" not in k}
        super()._set_state(mine, {k: v for k, v in values.items() if "__" not in k})
        self._index = unflatten("index", HybridIndex, arrays, values)
        self._clf = unflatten("clf", IntentClassifier, arrays, values)

    # -- the verb -----------------------------------------------------------------------
    def answer(self, questions: Sequence[str], embeddings: np.ndarray | None = None
               ) -> list[Answer]:
        """Answer each question (see the class docstring for how)."""
        self._check_fitted()
        questions = _texts(questions, "FAQAnswerer.answer")
        if not questions:
            return []
        index = self._index
        emb = (index.encode_queries(questions) if embeddings is None
               else index._embed(questions, embeddings, "FAQAnswerer.answer"))
        k = min(max(self.k, 1), len(index))
        idx, fused = index.search(questions, k, embeddings=emb)
        cos = np.einsum("qd,qkd->qk", emb, index.embeddings_[np.maximum(idx, 0)])
        proba = self._clf.predict_proba(questions, embeddings=emb) if self._clf else None
        lookup = dict(zip(self.intent_names_.tolist(), self.intent_answers_.tolist(),
                          strict=True))
        return [self._one(q, idx[i], fused[i], cos[i],
                          None if proba is None else proba[i], lookup)
                for i, q in enumerate(questions)]

    def _one(self, question: str, idx: np.ndarray, fused: np.ndarray, cos: np.ndarray,
             proba: np.ndarray | None, lookup: dict[str, str]) -> Answer:
        ok = idx >= 0
        idx, fused, cos = idx[ok], fused[ok], cos[ok]
        sources = self._sources(idx, fused)
        with_answer = [p for p, j in enumerate(idx) if self.answers_[j] != ""]
        best = with_answer[0] if with_answer else None
        r_conf = float(np.clip(cos[best], 0.0, 1.0)) if best is not None else 0.0
        text, intent, route, conf = None, None, "retrieval", r_conf
        if best is not None:
            j = idx[best]
            text, intent = str(self.answers_[j]), str(self.intents_[j]) or None
            first = self._source(j, fused[best])
            sources = [first] + [s for s in sources if s.question_id != first.question_id]
            sources = sources[:3]
        if proba is not None and not (best is not None and r_conf >= self.match_threshold):
            c = int(proba.argmax())
            intent, conf, route = str(self._clf.classes_[c]), float(proba[c]), "intent"
            same = [p for p in with_answer if self.intents_[idx[p]] == intent]
            if same:
                j = idx[same[0]]
                text = str(self.answers_[j])
                sources = [self._source(j, fused[same[0]])]
            else:
                text = lookup.get(intent)
                sources = []
        elif best is not None and r_conf >= self.match_threshold:
            route = "match"
        handed = text is None or conf < self.threshold_
        return Answer(
            question=question, answer=None if handed else text, confidence=round(conf, 6),
            handed_off=handed, intent=intent, route=route,
            message=HANDOFF_MESSAGE if handed else "", sources=sources)

    def _source(self, j: int, score: float) -> Source:
        return Source(str(self._index.ids_[j]), str(self.questions_[j]), float(score))

    def _sources(self, idx: np.ndarray, fused: np.ndarray) -> list[Source]:
        return [self._source(j, s) for j, s in zip(idx[:3], fused[:3], strict=False)]
