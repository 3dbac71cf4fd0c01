"""The knowledge pages: search, a network's questions, and the knowledge base (kennisbank).

Rendered on the server from the same actions as the JSON API, so they work without scripts.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chat.actions import networks, search
from chat.actions.posts import POST_KINDS
from chat.api import int_query
from chat.auth import current_user, services_of
from chat.errors import ActionError
from chat.models import OrganisationType
from chat.web import ORGANISATION_LABELS, _to_login, render

KIND_LABELS = {
    "message": "Message",
    "question": "Question",
    "good_example": "Good example",
    "new_policy": "New policy",
    "lesson": "Lesson learned",
}


def _choice(request: Request, name: str, allowed: tuple[str, ...] | set[str]) -> str | None:
    value = request.query_params.get(name, "")
    return value if value in allowed else None


def _common(found: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind_labels": KIND_LABELS,
        "organisation_labels": {t.value: label for t, label in ORGANISATION_LABELS.items()},
        "networks": found,
    }


async def search_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _to_login(request)
    services = services_of(request)
    query = request.query_params.get("q", "").strip()[:500]
    form = {name: request.query_params.get(name, "") for name in (
        "network_id", "author", "organisation_type", "kind", "state", "from", "to")}  # fmt: skip
    found: dict[str, Any] = {"results": [], "terms": []}
    error = None
    if query:
        try:
            found = await search.search_messages(
                services,
                user,
                query,
                network_id=int_query(request, "network_id"),
                author=form["author"].strip() or None,
                organisation_type=_choice(
                    request, "organisation_type", {t.value for t in OrganisationType}
                ),
                kind=_choice(request, "kind", POST_KINDS),
                state=_choice(request, "state", search.STATES),
                date_from=form["from"] or None,
                date_to=form["to"] or None,
                limit=30,
            )
        except ActionError as problem:
            error = problem.message
    visible = await networks.list_networks(services.db, user)
    return await render(
        request, "search.html", "search", query=query, form=form, found=found, error=error,
        **_common(visible),
    )  # fmt: skip


async def knowledge_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _to_login(request)
    services = services_of(request)
    slug = request.path_params.get("slug")
    network = await networks.network_by_slug(services.db, user, slug) if slug else None
    questions_only = request.url.path.endswith("/vragen")
    listed = await search.list_posts(
        services,
        user,
        network_id=network["id"] if network else None,
        kind=_choice(request, "kind", POST_KINDS),
        state=_choice(request, "state", search.STATES),
        tag=request.query_params.get("tag", "").strip()[:40] or None,
        knowledge=not questions_only,
        before_id=int_query(request, "before_id"),
        limit=30,
    )
    return await render(
        request, "knowledge.html", "knowledge", network=network, listed=listed,
        questions_only=questions_only,
        form={name: request.query_params.get(name, "") for name in ("kind", "state", "tag")},
        **_common([]),
    )  # fmt: skip


routes = [
    Route("/zoeken", search_page, methods=["GET"]),
    Route("/kennisbank", knowledge_page, methods=["GET"]),
    Route("/n/{slug}/kennisbank", knowledge_page, methods=["GET"]),
    Route("/n/{slug}/vragen", knowledge_page, methods=["GET"]),
]
