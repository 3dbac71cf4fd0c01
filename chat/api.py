"""The JSON HTTP API. Each route checks the request's shape and calls one action."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from chat.actions import accounts, messages, networks, notifications
from chat.actions.posts import check_post
from chat.auth import require_user, require_user_reading, services_of
from chat.errors import ActionError, not_found
from chat.models import Organisation, User
from chat.protocol import LARGEST_ID
from chat.ratelimit import TokenBucket
from chat.responses import JSONResponse

MAX_JSON_BYTES = 256 * 1024
#: per user, the same budget as one WebSocket has (in this process).
_send_buckets: dict[int, TokenBucket] = {}


async def json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ActionError(
            "invalid_request", "Send a JSON body (Content-Type: application/json).", 415
        )
    raw = await request.body()
    if len(raw) > MAX_JSON_BYTES:
        raise ActionError("body_too_long", "The request body is too large.", 413)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ActionError("invalid_json", "The body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise ActionError("invalid_json", "The body must be a JSON object.")
    return body


def int_query(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as error:
        raise ActionError("invalid_request", f"'{name}' must be an integer.") from error
    if not 0 <= number <= LARGEST_ID:
        raise ActionError("invalid_request", f"'{name}' must be between 0 and {LARGEST_ID}.")
    return number


def path_id(request: Request, name: str = "network_id") -> int:
    """The id in the path's ``{name:int}``; one past any id the database holds names nothing."""
    value: int = request.path_params[name]
    if value > LARGEST_ID:
        raise not_found(name.removesuffix("_id"))
    return value


async def me(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: The logged-in user, with the unread mention count and stream position.
    """
    user = await require_user(request)
    return JSONResponse(await user_profile(request, user))


async def user_profile(request: Request, user: User) -> dict[str, Any]:
    services = services_of(request)
    async with services.db.read() as session:
        organisation = await session.get(Organisation, user.organisation_id)
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role,
        "organisation": {"name": organisation.name, "type": organisation.type},  # type: ignore[union-attr]
        "is_admin": user.is_admin,
        "unread_mentions": await notifications.unread_count(services, user),
        "user_seq": await notifications.current_user_seq(services, user),
    }


async def list_networks(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: Every network the user may see, with membership and member counts.
    """
    user = await require_user(request)
    return JSONResponse(await networks.list_networks(services_of(request).db, user))


async def join(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: The network after joining.
      404:
        description: No such network (or a private one the user is not in).
    """
    user = await require_user(request)
    return JSONResponse(
        await networks.join_network(services_of(request).db, user, path_id(request))
    )


async def leave(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: The network after leaving.
    """
    user = await require_user(request)
    return JSONResponse(await networks.leave_network(services_of(request), user, path_id(request)))


async def history(request: Request) -> JSONResponse:
    """
    parameters:
      - {name: before_seq, in: query, schema: {type: integer}}
      - {name: after_seq, in: query, schema: {type: integer}}
      - {name: around_seq, in: query, schema: {type: integer}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
    responses:
      200:
        description: A page of messages, oldest first, by keyset on seq.
    """
    try:
        read_page = messages.history_page_reader(
            path_id(request),
            before_seq=int_query(request, "before_seq"),
            after_seq=int_query(request, "after_seq"),
            around_seq=int_query(request, "around_seq"),
            limit=int_query(request, "limit", 50) or 50,
        )
    except ActionError:
        await require_user(request)  # who is asking comes first, as on every route: 401
        raise
    _, page = await require_user_reading(request, read_page)
    return JSONResponse(page)


async def post_message(request: Request) -> JSONResponse:
    """
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [client_id, body]
            properties:
              client_id: {type: string, pattern: "^[A-Za-z0-9_-]{8,64}$"}
              body: {type: string}
              kind: {type: string, enum: [message, question, good_example, new_policy, lesson]}
              tags: {type: array, items: {type: string}}
              thread_root_id: {type: integer}
    responses:
      200:
        description: The ack fields and the stored message (duplicate true for a retry).
    """
    user = await require_user(request)
    settings = services_of(request).settings
    bucket = _send_buckets.setdefault(
        user.id, TokenBucket(settings.frame_rate, settings.frame_burst)
    )  # type: ignore[arg-type]
    if not bucket.take():
        raise ActionError("rate_limited", "Too many messages; slow down.", 429)
    body = await json_body(request)
    post = check_post(body.get("kind"), body.get("tags"), body.get("thread_root_id"))
    result = await messages.send_message(
        services_of(request), user, path_id(request), body.get("client_id"), body.get("body"), post
    )
    return JSONResponse({**result.ack(), "message": result.message})


async def members(request: Request) -> JSONResponse:
    """
    parameters:
      - {name: q, in: query, schema: {type: string}}
    responses:
      200:
        description: Members matching the query, for @mention autocomplete.
    """
    user = await require_user(request)
    query = request.query_params.get("q", "")[:100]
    found = await networks.member_suggestions(
        services_of(request).db, user, path_id(request), query
    )
    return JSONResponse(found)


async def mentions(request: Request) -> JSONResponse:
    """
    parameters:
      - {name: before_id, in: query, schema: {type: integer}}
      - {name: limit, in: query, schema: {type: integer}}
    responses:
      200:
        description: The mentions inbox, newest first, and the unread count.
    """
    user = await require_user(request)
    inbox = await notifications.list_mentions(
        services_of(request),
        user,
        before_id=int_query(request, "before_id"),
        limit=int_query(request, "limit", 50) or 50,
    )
    return JSONResponse(inbox)


async def mark_mentions_read(request: Request) -> JSONResponse:
    """
    requestBody:
      content:
        application/json:
          schema:
            type: object
            properties:
              ids: {type: array, items: {type: integer}}
              all: {type: boolean}
    responses:
      200:
        description: The unread count afterwards.
    """
    user = await require_user(request)
    body = await json_body(request)
    ids = body.get("ids", [])
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= LARGEST_ID for i in ids
    ):
        raise ActionError("invalid_request", "'ids' must be a list of integers.")
    unread = await notifications.mark_read(
        services_of(request), user, ids, everything=body.get("all") is True
    )
    return JSONResponse({"unread": unread})


async def get_signup_domains(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: The e-mail domains sign-up is restricted to (empty means open).
    """
    user = await require_user(request)
    accounts.require_admin(user)
    return JSONResponse({"domains": await accounts.list_signup_domains(services_of(request).db)})


async def put_signup_domains(request: Request) -> JSONResponse:
    """
    requestBody:
      content:
        application/json:
          schema:
            type: object
            properties:
              domains: {type: array, items: {type: string}}
    responses:
      200:
        description: The new list.
    """
    user = await require_user(request)
    body = await json_body(request)
    domains = body.get("domains")
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise ActionError("invalid_request", "'domains' must be a list of strings.")
    stored = await accounts.set_signup_domains(services_of(request).db, user, domains)
    return JSONResponse({"domains": stored})


def _text(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ActionError("invalid_request", f"'{name}' must be a string.")
    return value


def _flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise ActionError("invalid_request", f"'{name}' must be true or false.")
    return value


async def create_network(request: Request) -> JSONResponse:
    """
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [slug, name]
            properties:
              slug: {type: string}
              name: {type: string}
              description: {type: string}
              is_private: {type: boolean}
    responses:
      201:
        description: The new network.
    """
    user = await require_user(request)
    body = await json_body(request)
    network = await networks.create_network(
        services_of(request).db,
        user,
        _text(body, "slug", required=True) or "",
        _text(body, "name", required=True) or "",
        _text(body, "description", required=False) or "",
        bool(_flag(body, "is_private")),
    )
    return JSONResponse(network, status_code=201)


async def update_network(request: Request) -> JSONResponse:
    """
    requestBody:
      content:
        application/json:
          schema:
            type: object
            properties:
              name: {type: string}
              description: {type: string}
              is_private: {type: boolean}
    responses:
      200:
        description: The changed network.
    """
    user = await require_user(request)
    body = await json_body(request)
    network = await networks.update_network(
        services_of(request),
        user,
        path_id(request),
        name=_text(body, "name", required=False),
        description=_text(body, "description", required=False),
        is_private=_flag(body, "is_private"),
    )
    return JSONResponse(network)


async def add_member(request: Request) -> JSONResponse:
    """
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [username]
            properties:
              username: {type: string}
    responses:
      200:
        description: The network with the new member.
    """
    user = await require_user(request)
    body = await json_body(request)
    username = _text(body, "username", required=True) or ""
    db = services_of(request).db
    await networks.add_member(db, user, path_id(request), username)
    return JSONResponse(await networks.network_by_id(db, user, path_id(request)))


def _username(request: Request) -> str:
    return str(request.path_params["username"])[:100]


async def get_moderators(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: The network's moderators (id, username, display_name).
      403:
        description: Only an administrator may see and appoint moderators.
    """
    user = await require_user(request)
    network_id = path_id(request)
    found = await networks.list_moderators(services_of(request).db, user, [network_id])
    return JSONResponse({"moderators": found[network_id]})


async def put_moderator(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: The network's moderators afterwards; the user is one of them (and a member).
      403:
        description: Only an administrator may appoint moderators.
      404:
        description: No such network or user.
    """
    user = await require_user(request)
    found = await networks.set_moderator(
        services_of(request).db, user, path_id(request), _username(request), True
    )
    return JSONResponse({"moderators": found})


async def delete_moderator(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: The network's moderators afterwards; the user stays a member.
      403:
        description: Only an administrator may remove moderators.
    """
    user = await require_user(request)
    found = await networks.set_moderator(
        services_of(request).db, user, path_id(request), _username(request), False
    )
    return JSONResponse({"moderators": found})


routes = [
    Route("/api/me", me, methods=["GET"]),
    Route("/api/networks", list_networks, methods=["GET"]),
    Route("/api/networks/{network_id:int}/join", join, methods=["POST"]),
    Route("/api/networks/{network_id:int}/leave", leave, methods=["POST"]),
    Route("/api/networks/{network_id:int}/messages", history, methods=["GET"]),
    Route("/api/networks/{network_id:int}/messages", post_message, methods=["POST"]),
    Route("/api/networks/{network_id:int}/members", members, methods=["GET"]),
    Route("/api/mentions", mentions, methods=["GET"]),
    Route("/api/mentions/read", mark_mentions_read, methods=["POST"]),
    Route("/api/admin/signup-domains", get_signup_domains, methods=["GET"]),
    Route("/api/admin/signup-domains", put_signup_domains, methods=["PUT"]),
    Route("/api/admin/networks", create_network, methods=["POST"]),
    Route("/api/admin/networks/{network_id:int}", update_network, methods=["PATCH"]),
    Route("/api/admin/networks/{network_id:int}/members", add_member, methods=["POST"]),
    Route("/api/admin/networks/{network_id:int}/moderators", get_moderators, methods=["GET"]),
    Route(
        "/api/admin/networks/{network_id:int}/moderators/{username}",
        put_moderator,
        methods=["PUT"],
    ),
    Route(
        "/api/admin/networks/{network_id:int}/moderators/{username}",
        delete_moderator,
        methods=["DELETE"],
    ),
]

schemas = SchemaGenerator(
    {"openapi": "3.0.3", "info": {"title": "BWT Chat API", "version": "1.0.0"}}
)
