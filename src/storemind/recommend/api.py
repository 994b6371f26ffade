"""HTTP routes of the recommend capability (mounted under ``/v1``).

- ``GET /v1/users/{user_id}/recommendations?k=10`` (filters ``exclude_purchased``,
  ``exclude_seen``, ``category``, ``max_price``): top-k with a reason each; an unknown customer
  gets the cold-start answer.
- ``GET /v1/items/{item_id}/similar?k=10``: 404 for an item nobody knows.
- ``POST /v1/cart/recommendations`` with ``{"item_ids": [...], "k": 10}``.
- ``GET /v1/recommend/live/stats``: request rates, latency percentiles, events per second.

Live updates: :func:`setup` registers the service's ``observe`` as an event observer, so every
event stored by ``POST /v1/events`` reaches the live state before that request answers.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from storemind._web import FastParams, Param, add_observer, json_answer
from storemind.recommend.service import RecommendService, ServeSettings

__all__ = ["router", "setup", "service_of"]

router = APIRouter(tags=["recommend"])
MAX_K = 1000


class RecommendedItem(BaseModel):
    item_id: str
    score: float
    reason: str
    title: str | None = None
    category: str | None = None
    price: float | None = None


class UserRecommendations(BaseModel):
    user_id: str
    model_version: str
    strategy: str = Field(description="hybrid, a model's name, or popular (cold start)")
    cold: bool
    as_of_event: str | None = Field(
        description="The newest live event of this customer the answer reflects")
    live_events: int
    cached: bool
    items: list[RecommendedItem]


class SimilarItems(BaseModel):
    item_id: str
    model_version: str
    strategy: str
    items: list[RecommendedItem]


class CartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=1000, description="Item ids in the cart")
    k: int = Field(10, ge=1, le=MAX_K)
    user_id: str | None = Field(None, description="Also leave out what this customer bought")


class CartRecommendations(BaseModel):
    item_ids: list[str]
    unknown_items: list[str]
    model_version: str
    strategy: str
    items: list[RecommendedItem]


def service_of(app: FastAPI) -> RecommendService:
    """The app's :class:`RecommendService` (created on first use)."""
    service = getattr(app.state, "recommend_service", None)
    if service is None:
        service = RecommendService(app.state.registry, store=app.state.store,
                                   settings=ServeSettings())
        app.state.recommend_service = service
    return service


K_PARAM = Param("k", int, 10, ge=1, le=MAX_K, description="Number of items (1-1000)")
USER_PARAMS = FastParams(
    Param("user_id", str, where="path", min_length=1, max_length=200),
    K_PARAM,
    Param("exclude_purchased", bool, True,
          description="Leave out what the customer bought (trained and live purchases)"),
    Param("exclude_seen", bool, True,
          description="Leave out every item the customer interacted with"),
    Param("category", str, None, max_length=200, description="Only items of this category"),
    Param("max_price", float, None, ge=0, description="Only items at or below this price"),
)
SIMILAR_PARAMS = FastParams(
    Param("item_id", str, where="path", min_length=1, max_length=200),
    K_PARAM,
)


# The two hottest routes read their parameters with FastParams and answer with pre-encoded
# JSON (each about a tenth of a request's server time in FastAPI's generic path); their
# response_model still documents the answer, and tests validate real answers against it.
@router.get("/users/{user_id}/recommendations", response_model=UserRecommendations,
            openapi_extra=USER_PARAMS.openapi())
async def user_recommendations(request: Request) -> Any:
    """Top-``k`` items for a customer with a reason each, reflecting every event they posted.

    A customer the model has never seen gets the popular items (cold start); after their
    first events, recommendations follow them.
    """
    p = USER_PARAMS(request)
    return json_answer(service_of(request.app).recommend(
        p["user_id"], p["k"], exclude_seen=p["exclude_seen"],
        exclude_purchased=p["exclude_purchased"], category=p["category"],
        max_price=p["max_price"]))


@router.get("/items/{item_id}/similar", response_model=SimilarItems,
            responses={404: {"description": "Unknown item"}},
            openapi_extra=SIMILAR_PARAMS.openapi())
async def similar_items(request: Request) -> Any:
    """Items similar to ``item_id``; a new item with attributes in the store is placed by
    the content model; an item nobody knows is a 404."""
    p = SIMILAR_PARAMS(request)
    return json_answer(service_of(request.app).similar(p["item_id"], p["k"]))


@router.post("/cart/recommendations", response_model=CartRecommendations)
async def cart_recommendations(request: Request, body: CartIn) -> Any:
    """Items that complete a cart (often bought together), the cart's own items left out."""
    return service_of(request.app).complete_basket(body.item_ids, body.k, body.user_id)


@router.get("/recommend/live/stats")
async def live_stats(request: Request) -> dict[str, Any]:
    """Requests per second, latency percentiles per route, events per second, cache use and
    the model version being served."""
    return service_of(request.app).stats()


def setup(app: FastAPI) -> None:
    """Create the service and register its observer for ``POST /v1/events``."""
    service = service_of(app)
    add_observer(app, service.observe)
