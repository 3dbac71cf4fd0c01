"""Accounts: registering, logging in, and the admin's sign-up domain restriction."""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat.actions import Services
from chat.db import Database
from chat.errors import ActionError
from chat.events import dumps, user_topic
from chat.models import Organisation, OrganisationType, SignupDomain, User, UserRole, utcnow
from chat.rendering import USERNAME_PATTERN
from chat.text import fold

_hasher = PasswordHasher()
_USERNAME = re.compile(rf"^{USERNAME_PATTERN}$")
_EMAIL = re.compile(r"^[^@\s]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")
_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
MIN_PASSWORD = 10


@dataclass
class Registration:
    display_name: str
    username: str
    email: str
    password: str
    role: str
    organisation_name: str
    organisation_type: str


def check_registration(form: Registration) -> dict[str, str]:
    """Field → error code for every field that is wrong; empty when the form can be stored."""
    errors: dict[str, str] = {}
    if not 1 <= len(form.display_name.strip()) <= 100:
        errors["display_name"] = "display_name_invalid"
    if not _USERNAME.match(form.username.strip().lower()):
        errors["username"] = "username_invalid"
    if not _EMAIL.match(form.email.strip()) or len(form.email) > 254:
        errors["email"] = "email_invalid"
    if len(form.password) < MIN_PASSWORD:
        errors["password"] = "password_too_short"
    if form.role not in UserRole.__members__:
        errors["role"] = "role_invalid"
    if not 2 <= len(form.organisation_name.strip()) <= 200:
        errors["organisation_name"] = "organisation_name_invalid"
    if form.organisation_type not in OrganisationType.__members__:
        errors["organisation_type"] = "organisation_type_invalid"
    return errors


class RegistrationRejected(ActionError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid_registration", "The registration form has errors.", 422)
        self.errors = errors


async def register_user(db: Database, form: Registration, *, is_admin: bool = False) -> User:
    errors = check_registration(form)
    if errors:
        raise RegistrationRejected(errors)
    email = form.email.strip().lower()
    username = form.username.strip().lower()
    password_hash = _hasher.hash(form.password)
    try:
        async with db.write() as session:
            domains = await signup_domains(session)
            if domains and not is_admin and email.rsplit("@", 1)[1] not in domains:
                raise RegistrationRejected({"email": "email_domain_not_allowed"})
            clash = await session.execute(
                select(User.username, User.email).where(
                    or_(User.username == username, User.email == email)
                )
            )
            for taken_username, taken_email in clash.all():
                if taken_username == username:
                    errors["username"] = "username_taken"
                if taken_email == email:
                    errors["email"] = "email_taken"
            if errors:
                raise RegistrationRejected(errors)
            organisation = await _organisation(
                session, form.organisation_name, form.organisation_type
            )
            display_name = form.display_name.strip()
            user = User(
                username=username,
                display_name=display_name,
                search_name=f"{fold(username)} {fold(display_name)}",
                email=email,
                password_hash=password_hash,
                role=form.role,
                organisation_id=organisation.id,  # type: ignore[arg-type]
                is_admin=is_admin,
                created_at=utcnow(),
            )
            session.add(user)
            await session.flush()
    except IntegrityError as error:  # a concurrent registration took the name first
        raise RegistrationRejected({"username": "username_taken"}) from error
    return user


async def _organisation(session: AsyncSession, name: str, type_: str) -> Organisation:
    name = " ".join(name.split())
    key = name.casefold()
    found = (
        await session.execute(
            select(Organisation).where(Organisation.name_key == key, Organisation.type == type_)
        )
    ).scalar_one_or_none()
    if found is not None:
        return found
    organisation = Organisation(name=name, name_key=key, type=type_)
    session.add(organisation)
    await session.flush()
    return organisation


async def authenticate(db: Database, login: str, password: str) -> User | None:
    """The user for this username or e-mail and password, or None (same answer for either wrong)."""
    login = login.strip().lower()
    async with db.read() as session:
        user = (
            await session.execute(
                select(User).where(or_(User.username == login, User.email == login))
            )
        ).scalar_one_or_none()
    if user is None:
        _hasher.hash(password)  # spend the same time as a real check: no user enumeration
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    return user


async def get_user(db: Database, user_id: int) -> User | None:
    """The user behind a session cookie: read on every request, so in one hop (``read_sync``)."""
    return await db.read_sync(lambda session: session.get(User, user_id))


async def signup_domains(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(SignupDomain.domain).order_by(SignupDomain.domain))
    return list(rows.scalars())


async def list_signup_domains(db: Database) -> list[str]:
    async with db.read() as session:
        return await signup_domains(session)


async def set_signup_domains(db: Database, admin: User, domains: list[str]) -> list[str]:
    require_admin(admin)
    cleaned = sorted({domain.strip().lower().lstrip("@") for domain in domains if domain.strip()})
    bad = [domain for domain in cleaned if not _DOMAIN.match(domain)]
    if bad:
        raise ActionError("invalid_domain", f"Not a domain name: {', '.join(bad)}", 422)
    async with db.write() as session:
        await session.execute(delete(SignupDomain))
        for domain in cleaned:
            session.add(SignupDomain(domain=domain))
    return cleaned


async def count_users(db: Database) -> int:
    async with db.read() as session:
        return (await session.execute(select(func.count()).select_from(User))).scalar_one()


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise ActionError("forbidden", "Only an administrator may do this.", 403)


async def end_sessions(services: Services, user: User) -> None:
    """Log out everywhere: cookies made before now stop working, open sockets close (4401)."""
    async with services.db.write() as session:
        await session.execute(
            update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1)
        )
    await services.broker.publish(user_topic(user.id), dumps({"type": "session_ended"}))  # type: ignore[arg-type]
