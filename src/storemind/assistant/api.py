"""HTTP routes of the assistant: answers, the unanswered list, and product search."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from storemind.assistant import pipeline

__all__ = ["router", "AskIn", "AnswerOut", "SearchOut", "UnansweredOut", "CurateIn"]

router = APIRouter(tags=["assistant"])


class AskIn(BaseModel):
    question: str = Field(min_length=1, max_length=2000, description="The customer's question.")
    record: bool = Field(True, description="Add the question to the unanswered list when it "
                         "is handed to a person.")


class SourceOut(BaseModel):
    question_id: str
    question: str
    score: float


class AnswerOut(BaseModel):
    """The best answer, or a hand-off to a person when the confidence is too low."""

    question: str
    answer: str | None = Field(description="None when handed to a person.")
    confidence: float = Field(description="Intent probability, or cosine similarity of the "
                              "matched question (see docs/assistant.md).")
    handed_off: bool
    intent: str | None = None
    route: str = Field(description="intent, match or retrieval.")
    message: str = Field(description="What to tell the customer when handed off.")
    sources: list[SourceOut]
    model_version: str


class SearchItem(BaseModel):
    item_id: str
    title: str
    category: str
    brand: str
    price: float | None
    score: float


class SearchOut(BaseModel):
    query: str
    text: str = Field(description="The part of the query matched by meaning.")
    min_price: float | None = None
    max_price: float | None = None
    category: str | None = None
    brand: str | None = None
    items: list[SearchItem]
    model_version: str


class UnansweredOut(BaseModel):
    id: str
    question: str
    asked_at: str
    confidence: float
    intent_guess: str | None = None
    status: str
    answer: str | None = None
    answered_at: str | None = None
    question_id: str | None = None


class CurateIn(BaseModel):
    answer: str = Field(min_length=1, max_length=5000)
    intent: str | None = None


@router.post("/assistant/answer", response_model=AnswerOut)
def answer(body: AskIn, request: Request) -> AnswerOut:
    """Answer a customer question from the FAQ and past Q&A, or hand it to a person."""
    st = request.app.state
    a = pipeline.ask(st.store, st.registry, st.settings, body.question, record=body.record)
    return AnswerOut(**a.to_dict(), model_version=pipeline.load(st.registry).version)


@router.get("/search", response_model=SearchOut)
def search(request: Request, q: str = Query(min_length=1, max_length=500),
           k: int = Query(10, ge=1, le=100)) -> SearchOut:
    """Semantic product search; price ("under 50"), category and brand are parsed out."""
    st = request.app.state
    res = pipeline.search(st.store, st.registry, st.settings, q, k)
    items = [SearchItem(**{**r, "price": None if r["price"] != r["price"] else r["price"]})
             for r in res.items.to_dict("records")]
    return SearchOut(query=q, **res.parsed.to_dict(), items=items,
                     model_version=pipeline.load(st.registry).version)


@router.get("/assistant/unanswered", response_model=list[UnansweredOut])
def list_unanswered(request: Request, status: str = Query("open", pattern="^(open|answered|all)$")
                    ) -> list[UnansweredOut]:
    """Questions handed to a person, newest first."""
    st = request.app.state
    rows = pipeline.unanswered(st.registry, st.settings, None if status == "all" else status)
    return [UnansweredOut(**r) for r in rows]


@router.post("/assistant/unanswered/{entry_id}/answer", response_model=UnansweredOut)
def curate(entry_id: str, body: CurateIn, request: Request) -> UnansweredOut:
    """Answer a handed-off question; the answer is used for that question from now on."""
    st = request.app.state
    return UnansweredOut(**pipeline.curate(st.store, st.registry, st.settings, entry_id,
                                           body.answer, body.intent))
