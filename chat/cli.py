"""The `bwt` command: serve (the default), migrate, users, networks and sign-up domains."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
import uvicorn

from chat.actions import accounts, networks
from chat.db import Database
from chat.errors import ActionError
from chat.migrate import migrate
from chat.models import Network, OrganisationType, UserRole
from chat.settings import get_settings

T = TypeVar("T")


def _with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database(get_settings().database_url)
        try:
            await migrate(database)
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except ActionError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from error


@click.group(invoke_without_command=True)
@click.pass_context
def main(context: click.Context) -> None:
    """BWT Chat. Without a command: serve."""
    if context.invoked_subcommand is None:
        context.invoke(serve)


@main.command()
@click.option("--host", default=None, help="address to listen on (BWT_HOST, default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (BWT_PORT, default 8000)")
def serve(host: str | None, port: int | None) -> None:
    """Run the web server (migrates the database and loads the catalogue on first start)."""
    settings = get_settings()
    config = uvicorn.Config(
        "chat.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        ws_max_size=settings.max_frame_bytes,
        log_level=settings.log_level,
        proxy_headers=True,
    )
    listener = config.bind_socket()
    if settings.socket_send_buffer_bytes > 0:
        # Linux lets a connection's send buffer grow to megabytes: a client that stops reading
        # would soak up a minute of a busy network before writes block and the hub can tell it
        # is a slow consumer. Accepted connections inherit the listening socket's size.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.socket_send_buffer_bytes)
    server = uvicorn.Server(config)
    server.run(sockets=[listener])
    if not server.started:
        raise SystemExit(3)  # as uvicorn.run does when the server could not start


@main.command("migrate")
def migrate_command() -> None:
    """Bring the database schema up to date and load the catalogue if it never was."""

    async def nothing(database: Database) -> None:
        return None

    _with_database(nothing)
    click.echo("database is up to date")


@main.command("create-user")
@click.option("--username", required=True)
@click.option("--display-name", required=True)
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice([r.value for r in UserRole]), default="other")
@click.option("--organisation", "organisation_name", required=True)
@click.option(
    "--organisation-type",
    type=click.Choice([t.value for t in OrganisationType]),
    default="other",
)
@click.option("--admin", is_flag=True, help="make this user an administrator")
def create_user(
    username: str,
    display_name: str,
    email: str,
    password: str,
    role: str,
    organisation_name: str,
    organisation_type: str,
    admin: bool,
) -> None:
    """Create a user (an admin with --admin; sign-up domain limits do not apply)."""
    registration = accounts.Registration(
        display_name, username, email, password, role, organisation_name, organisation_type
    )

    async def create(database: Database) -> None:
        try:
            user = await accounts.register_user(database, registration, is_admin=admin)
        except accounts.RegistrationRejected as rejected:
            problems = ", ".join(f"{field}: {code}" for field, code in rejected.errors.items())
            raise click.ClickException(problems) from rejected
        click.echo(f"created {'admin' if admin else 'user'} {user.username} (id {user.id})")

    _with_database(create)


@main.group("networks")
def networks_group() -> None:
    """List and add specialist networks, their members and moderators."""


@networks_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def list_networks(as_json: bool) -> None:
    from sqlalchemy import select

    async def fetch(database: Database) -> list[Network]:
        async with database.read() as session:
            return list(await session.scalars(select(Network).order_by(Network.slug)))

    found = _with_database(fetch)
    if as_json:
        click.echo(json.dumps([n.model_dump(mode="json") for n in found], ensure_ascii=False))
        return
    for network in found:
        marker = " (private)" if network.is_private else ""
        click.echo(f"{network.id:>4}  {network.slug:<40} {network.name}{marker}")


@networks_group.command("add")
@click.argument("slug")
@click.argument("name")
@click.option("--description", default="")
@click.option("--private", is_flag=True)
def add_network(slug: str, name: str, description: str, private: bool) -> None:
    async def add(database: Database) -> dict[str, object]:
        return await networks.create_network(database, None, slug, name, description, private)

    created = _with_database(add)
    click.echo(f"added network {created['slug']} (id {created['id']})")


async def _network_id(database: Database, slug: str) -> int:
    from sqlalchemy import select

    async with database.read() as session:
        network_id = await session.scalar(select(Network.id).where(Network.slug == slug))
    if network_id is None:
        raise click.ClickException(f"no network with slug {slug!r}")
    return network_id


@networks_group.command("add-member")
@click.argument("slug")
@click.argument("username")
def add_network_member(slug: str, username: str) -> None:
    """Add a user to a network (the way into a private one)."""

    async def add(database: Database) -> None:
        await networks.add_member(database, None, await _network_id(database, slug), username)

    _with_database(add)
    click.echo(f"{username} is a member of {slug}")


def _set_moderator(slug: str, username: str, moderator: bool) -> list[dict[str, object]]:
    async def apply(database: Database) -> list[dict[str, object]]:
        network_id = await _network_id(database, slug)
        return await networks.set_moderator(database, None, network_id, username, moderator)

    return _with_database(apply)


def _echo_moderators(slug: str, moderators: list[dict[str, object]]) -> None:
    names = ", ".join(str(moderator["username"]) for moderator in moderators)
    click.echo(f"moderators of {slug}: {names or 'none'}")


@networks_group.command("add-moderator")
@click.argument("slug")
@click.argument("username")
def add_network_moderator(slug: str, username: str) -> None:
    """Make a user a moderator of a network (a member too, if they were not one yet)."""
    _echo_moderators(slug, _set_moderator(slug, username, True))


@networks_group.command("remove-moderator")
@click.argument("slug")
@click.argument("username")
def remove_network_moderator(slug: str, username: str) -> None:
    """Make a moderator of a network a plain member again."""
    _echo_moderators(slug, _set_moderator(slug, username, False))


@main.command("signup-domains")
@click.argument("domains", nargs=-1)
@click.option("--clear", is_flag=True, help="allow every domain again")
def signup_domains(domains: tuple[str, ...], clear: bool) -> None:
    """Show, or with arguments set, the e-mail domains allowed to sign up."""

    async def apply(database: Database) -> list[str]:
        if not domains and not clear:
            return await accounts.list_signup_domains(database)
        from chat.models import User

        trusted = User(is_admin=True)  # the command line is trusted like an admin
        return await accounts.set_signup_domains(database, trusted, list(domains))

    result = _with_database(apply)
    click.echo(", ".join(result) if result else "sign-up is open to every e-mail domain")


@main.command("demo")
@click.option("--remove", is_flag=True, help="remove the examples again")
def demo(remove: bool) -> None:
    """Load a small, clearly marked set of Dutch example posts (or remove it)."""
    from channels import Broker
    from chat.actions import Services
    from chat.demo import load_demo, remove_demo

    async def apply(database: Database) -> int:
        settings = get_settings()
        broker = Broker(settings.broker_url, prefix=settings.redis_prefix)
        await broker.connect()
        try:
            services = Services(db=database, broker=broker, settings=settings)
            return await (remove_demo if remove else load_demo)(services)
        finally:
            await broker.disconnect()

    count = _with_database(apply)
    click.echo(f"removed {count} example messages" if remove else f"added {count} example messages")
