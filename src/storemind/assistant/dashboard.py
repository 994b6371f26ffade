"""The assistant's dashboard page: an ask box, a product search box, and the unanswered list
where a curator adds answers (posted with the API key to the API)."""
from __future__ import annotations

from typing import Any

from storemind.assistant import pipeline

__all__ = ["page"]


def page(request: Any, store: Any, registry: Any) -> tuple[str, dict[str, Any]]:
    """(template, context): ``?q=`` asks a question (not recorded), ``?s=`` searches."""
    settings = request.app.state.settings
    models = pipeline.load(registry, store)  # NotFoundError -> "not trained yet"
    question = (request.query_params.get("q") or "").strip()
    query = (request.query_params.get("s") or "").strip()
    answer = found = None
    if question and models.answerer is not None:
        answer = pipeline.ask(store, registry, settings, question, record=False).to_dict()
    if query and models.search is not None:
        res = pipeline.search(store, registry, settings, query, 10)
        found = {"parsed": res.parsed.to_dict(),
                 "items": res.items.round({"price": 2, "score": 3}).to_dict("records")}
    return "assistant.html", {
        "question": question, "answer": answer, "query": query, "found": found,
        "open": pipeline.unanswered(registry, settings, "open")[:50],
        "answered": pipeline.unanswered(registry, settings, "answered")[:10],
        "has_answerer": models.answerer is not None, "has_search": models.search is not None,
    }
