"""The JSON routes of threads, questions, search and the knowledge base (see docs/http-api.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from chat.actions import search, threads
from chat.api import int_query, json_body, path_id
from chat.auth import require_user, services_of
from chat.errors import ActionError
from chat.responses import JSONResponse


def _message_id(request: Request) -> int:
    return path_id(request, "message_id")


def _param(request: Request, name: str, longest: int = 200) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value[:longest] or None


async def thread(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: A thread's first message, its replies oldest first, and whether you follow it.
      404:
        description: No such message, or one in a network you may not read.
    """
    user = await require_user(request)
    return JSONResponse(await threads.read_thread(services_of(request), user, _message_id(request)))


async def follow(request: Request) -> JSONResponse:
    """
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [following]
            properties:
              following: {type: boolean}
    responses:
      200:
        description: Whether you now follow the thread.
    """
    user = await require_user(request)
    body = await json_body(request)
    following = body.get("following")
    if not isinstance(following, bool):
        raise ActionError("invalid_request", "'following' must be true or false.")
    return JSONResponse(
        await threads.set_following(services_of(request), user, _message_id(request), following)
    )


async def accept(request: Request) -> JSONResponse:
    """
    requestBody:
      content:
        application/json:
          schema:
            type: object
            properties:
              answer_id: {type: integer, nullable: true}
    responses:
      200:
        description: The question with its accepted answer, and the seq of the event (null if
          nothing changed).
      403:
        description: Only the asker or a moderator of the network marks the answer.
    """
    user = await require_user(request)
    body = await json_body(request)
    answer_id = body.get("answer_id")
    if answer_id is not None and (not isinstance(answer_id, int) or isinstance(answer_id, bool)):
        raise ActionError("invalid_request", "'answer_id' must be a message id or null.")
    return JSONResponse(
        await threads.accept_answer(services_of(request), user, _message_id(request), answer_id)
    )


async def unmark(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: The question without an accepted answer (open again), and the event's seq.
      403:
        description: Only the asker or a moderator of the network unmarks the answer.
    """
    user = await require_user(request)
    return JSONResponse(
        await threads.unmark_answer(services_of(request), user, _message_id(request))
    )


async def search_route(request: Request) -> JSONResponse:
    """
    parameters:
      - {name: q, in: query, required: true, schema: {type: string}}
      - {name: network_id, in: query, schema: {type: integer}}
      - {name: author, in: query, schema: {type: string}}
      - {name: organisation_type, in: query, schema: {type: string}}
      - {name: kind, in: query, schema: {type: string}}
      - {name: state, in: query, schema: {type: string, enum: [open, answered]}}
      - {name: from, in: query, schema: {type: string, format: date}}
      - {name: to, in: query, schema: {type: string, format: date}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 50}}
    responses:
      200:
        description: Matching messages, most relevant first, with highlighted snippets.
    """
    user = await require_user(request)
    found = await search.search_messages(
        services_of(request),
        user,
        _param(request, "q", 500) or "",
        network_id=int_query(request, "network_id"),
        author=_param(request, "author"),
        organisation_type=_param(request, "organisation_type"),
        kind=_param(request, "kind"),
        state=_param(request, "state"),
        date_from=_param(request, "from"),
        date_to=_param(request, "to"),
        limit=int_query(request, "limit", 20) or 20,
    )
    return JSONResponse(found)


async def similar(request: Request) -> JSONResponse:
    """
    parameters:
      - {name: q, in: query, required: true, schema: {type: string}}
    responses:
      200:
        description: Earlier similar questions from every network you can read, answered first.
    """
    user = await require_user(request)
    found = await search.similar_questions(
        services_of(request), user, request.query_params.get("q", "")[:500]
    )
    return JSONResponse({"questions": found})


async def _posts(request: Request, network_id: int | None, knowledge: bool) -> JSONResponse:
    user = await require_user(request)
    return JSONResponse(
        await search.list_posts(
            services_of(request),
            user,
            network_id=network_id,
            kind=_param(request, "kind"),
            state=_param(request, "state"),
            tag=_param(request, "tag"),
            knowledge=knowledge,
            before_id=int_query(request, "before_id"),
            limit=int_query(request, "limit", 30) or 30,
        )
    )


async def questions(request: Request) -> JSONResponse:
    """
    parameters:
      - {name: state, in: query, schema: {type: string, enum: [open, answered]}}
      - {name: tag, in: query, schema: {type: string}}
      - {name: before_id, in: query, schema: {type: integer}}
      - {name: limit, in: query, schema: {type: integer}}
    responses:
      200:
        description: The network's questions, newest first.
    """
    return await _posts(request, path_id(request), knowledge=False)


async def network_knowledge(request: Request) -> JSONResponse:
    """
    parameters:
      - {name: kind, in: query, schema: {type: string}}
      - {name: tag, in: query, schema: {type: string}}
      - {name: before_id, in: query, schema: {type: integer}}
    responses:
      200:
        description: The network's answered questions and typed contributions, newest first.
    """
    return await _posts(request, path_id(request), knowledge=True)


async def knowledge(request: Request) -> JSONResponse:
    """
    parameters:
      - {name: network_id, in: query, schema: {type: integer}}
      - {name: kind, in: query, schema: {type: string}}
      - {name: tag, in: query, schema: {type: string}}
      - {name: before_id, in: query, schema: {type: integer}}
    responses:
      200:
        description: Answered questions and typed contributions of every network you can read.
    """
    return await _posts(request, int_query(request, "network_id"), knowledge=True)


routes = [
    Route("/api/messages/{message_id:int}/thread", thread, methods=["GET"]),
    Route("/api/messages/{message_id:int}/follow", follow, methods=["POST"]),
    Route("/api/messages/{message_id:int}/accept", accept, methods=["POST"]),
    Route("/api/messages/{message_id:int}/accept", unmark, methods=["DELETE"]),
    Route("/api/search", search_route, methods=["GET"]),
    Route("/api/similar-questions", similar, methods=["GET"]),
    Route("/api/networks/{network_id:int}/questions", questions, methods=["GET"]),
    Route("/api/networks/{network_id:int}/knowledge", network_knowledge, methods=["GET"]),
    Route("/api/knowledge", knowledge, methods=["GET"]),
]
