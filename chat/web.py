"""The HTML pages: account forms rendered on the server, the rest filled in by JavaScript."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from chat.actions import accounts, networks
from chat.actions.threads import thread_of_permalink
from chat.api import user_profile
from chat.auth import current_user, log_in, log_out, services_of
from chat.errors import ActionError
from chat.i18n import (
    LANGUAGE_COOKIE,
    N_,
    current_language,
    gettext_,
    ngettext_,
    pick_language,
)
from chat.models import OrganisationType, UserRole
from chat.protocol import LARGEST_ID

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates"),
    autoescape=True,
    extensions=["jinja2.ext.i18n"],
)
_environment.install_gettext_callables(gettext_, ngettext_, newstyle=True)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=_environment)

# Form error codes → English text; the Dutch is in the gettext catalogue.
FORM_ERRORS = {
    "display_name_invalid": N_("Enter your name (at most 100 characters)."),
    "username_invalid": N_("A username is 3 to 32 lowercase letters, digits, '.', '_' or '-'."),
    "username_taken": N_("This username is taken."),
    "email_invalid": N_("Enter a valid e-mail address."),
    "email_taken": N_("An account with this e-mail address exists already."),
    "email_domain_not_allowed": N_(
        "Sign-up is limited to e-mail addresses of member organisations."
    ),
    "password_too_short": N_("A password has at least 10 characters."),
    "role_invalid": N_("Choose your role."),
    "organisation_name_invalid": N_("Enter the name of your organisation (2 to 200 characters)."),
    "organisation_type_invalid": N_("Choose the type of your organisation."),
}
ROLE_LABELS = {
    UserRole.toezichthouder: N_("Inspector (toezichthouder)"),
    UserRole.handhaver: N_("Enforcement officer (handhaver)"),
    UserRole.jurist: N_("Lawyer (jurist)"),
    UserRole.beleidsmedewerker: N_("Policy adviser (beleidsmedewerker)"),
    UserRole.other: N_("Other"),
}
ORGANISATION_LABELS = {
    OrganisationType.gemeente: N_("Municipality (gemeente)"),
    OrganisationType.omgevingsdienst: N_("Environmental service (omgevingsdienst)"),
    OrganisationType.provincie: N_("Province (provincie)"),
    OrganisationType.rijk: N_("National government (Rijk)"),
    OrganisationType.other: N_("Other"),
}


def _safe_next(target: str | None) -> str:
    """Only paths on this site: '/n/asbest' yes, '//evil.example' and 'https://…' no."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def render(
    request: Request, template: str, page: str, status_code: int = 200, **context: Any
) -> Response:
    language = pick_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE))
    current_language.set(language)
    user = await current_user(request)
    profile = await user_profile(request, user) if user else None
    settings = services_of(request).settings
    context.update(
        user=profile,
        lang=language,
        page=page,
        config={
            "user": profile,
            "lang": language,
            "ws_path": "/ws",
            "max_body_chars": settings.max_body_chars,
        },
    )
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    if request.query_params.get("lang") == language:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


async def home(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _to_login(request)
    found = await networks.list_networks(services_of(request).db, user)
    return await render(request, "networks.html", "networks", networks=found)


async def login_page(request: Request) -> Response:
    if request.method == "GET":
        return await render(
            request,
            "login.html",
            "login",
            error=None,
            form={},
            next=_safe_next(request.query_params.get("next")),
        )
    form = await request.form()
    login = str(form.get("login", ""))
    user = await accounts.authenticate(
        services_of(request).db, login, str(form.get("password", ""))
    )
    target = _safe_next(str(form.get("next", "/")))
    if user is None:
        current_language.set(pick_language(None, request.cookies.get(LANGUAGE_COOKIE)))
        return await render(
            request,
            "login.html",
            "login",
            status_code=400,
            error=gettext_("Unknown username or e-mail, or wrong password."),
            form={"login": login},
            next=target,
        )
    log_in(request, user)
    return RedirectResponse(target, status_code=303)


def _register_context(form: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "form": form,
        "errors": {field: gettext_(FORM_ERRORS.get(code, code)) for field, code in errors.items()},
        "roles": [(role.value, gettext_(label)) for role, label in ROLE_LABELS.items()],
        "organisation_types": [
            (kind.value, gettext_(label)) for kind, label in ORGANISATION_LABELS.items()
        ],
    }


async def register_page(request: Request) -> Response:
    current_language.set(
        pick_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE))
    )
    if request.method == "GET":
        return await render(request, "register.html", "register", **_register_context({}, {}))
    raw = await request.form()
    fields = accounts.Registration.__dataclass_fields__
    form = {name: str(raw.get(name, "")) for name in fields}
    try:
        user = await accounts.register_user(services_of(request).db, accounts.Registration(**form))
    except accounts.RegistrationRejected as rejected:
        form.pop("password")
        return await render(
            request,
            "register.html",
            "register",
            status_code=400,
            **_register_context(form, rejected.errors),
        )
    log_in(request, user)
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    await log_out(request)
    return RedirectResponse("/login", status_code=303)


async def room(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _to_login(request)
    network = await networks.network_by_slug(
        services_of(request).db, user, request.path_params["slug"]
    )
    seq = request.path_params.get("seq")
    highlight_seq, open_thread = await thread_of_permalink(
        services_of(request), network["id"], seq if seq is None or seq <= LARGEST_ID else None
    )
    return await render(
        request,
        "room.html",
        "room",
        network=network,
        highlight_seq=highlight_seq,
        open_thread=open_thread,
    )


async def mentions_page(request: Request) -> Response:
    if await current_user(request) is None:
        return _to_login(request)
    return await render(request, "mentions.html", "mentions")


async def admin_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _to_login(request)
    accounts.require_admin(user)
    db = services_of(request).db
    return await render(
        request,
        "admin.html",
        "admin",
        networks=await networks.list_networks(db, user, every=True),
        moderators=await networks.list_moderators(db, user),
        signup_domains=await accounts.list_signup_domains(db),
    )


async def error_page(request: Request, error: ActionError) -> Response:
    messages = {
        401: N_("Log in to see this page."),
        403: N_("You may not see this page."),
        404: N_("This page does not exist, or you may not see it."),
    }
    return await render(
        request,
        "error.html",
        "error",
        status_code=error.status,
        status=error.status,
        message=gettext_(messages.get(error.status, N_("Something went wrong."))),
    )


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_page, methods=["GET", "POST"]),
    Route("/register", register_page, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/n/{slug}", room, methods=["GET"]),
    Route("/n/{slug}/m/{seq:int}", room, methods=["GET"]),
    Route("/mentions", mentions_page, methods=["GET"]),
    Route("/admin", admin_page, methods=["GET"]),
]
