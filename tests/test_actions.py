"""The actions layer in-process, on SQLite+memory and on PostgreSQL+Redis."""

from __future__ import annotations

import asyncio
import json

import pytest

from chat.actions import Services
from chat.actions.accounts import (
    Registration,
    RegistrationRejected,
    authenticate,
    register_user,
    set_signup_domains,
)
from chat.actions.messages import backlog_frames, history_page, send_message
from chat.actions.networks import (
    create_network,
    join_network,
    leave_network,
    list_networks,
    member_suggestions,
)
from chat.actions.notifications import list_mentions, notification_frames_since
from chat.errors import ActionError
from chat.models import User


def registration(username: str, **changes: str) -> Registration:
    values = {
        "display_name": username.title(),
        "username": username,
        "email": f"{username}@utrecht.nl",
        "password": "lang genoeg wachtwoord",
        "role": "jurist",
        "organisation_name": "Gemeente Utrecht",
        "organisation_type": "gemeente",
        **changes,
    }
    return Registration(**values)


async def member(services: Services, username: str, slug: str = "woonoverlast", **kw: str) -> User:
    user = await register_user(services.db, registration(username, **kw))
    network_id = await network_id_of(services, user, slug)
    await join_network(services.db, user, network_id)
    return user


async def network_id_of(services: Services, user: User, slug: str) -> int:
    return next(n["id"] for n in await list_networks(services.db, user) if n["slug"] == slug)


async def test_the_default_catalogue_is_loaded_with_descriptions(services: Services) -> None:
    user = await register_user(services.db, registration("anna"))
    networks = {n["slug"]: n for n in await list_networks(services.db, user)}
    for slug in (
        "woonoverlast",
        "recreatieparken",
        "huisvesting-arbeidsmigranten",
        "omgevingswet",
        "brandveiligheid",
        "asbest",
        "monumenten",
        "ondermijning",
        "bouwregelgeving-bbl",
        "handhaving",
    ):
        assert networks[slug]["description"], slug


async def test_concurrent_sends_get_gapless_unique_seqs(services: Services) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    network = await network_id_of(services, anna, "woonoverlast")
    async with services.broker.subscribe(f"network:{network}") as live:
        results = await asyncio.gather(
            *[
                send_message(services, who, network, f"conc-{i:04d}", f"bericht {i}")
                for i, who in enumerate([anna, bram] * 20)
            ]
        )
        seqs = sorted(r.message["seq"] for r in results)
        assert seqs == list(range(1, 41))
        published = [json.loads((await live.get())[1])["seq"] for _ in range(40)]
    assert sorted(published) == seqs
    frames = await backlog_frames(services, anna, network, 0)
    assert [json.loads(f)["seq"] for f in frames] == list(range(1, 41))


async def test_a_send_raced_with_its_own_retry_is_stored_once(services: Services) -> None:
    anna = await member(services, "anna")
    network = await network_id_of(services, anna, "woonoverlast")
    results = await asyncio.gather(
        *[send_message(services, anna, network, "same-client-id", "één keer") for _ in range(5)]
    )
    assert len({r.message["id"] for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    page = await history_page(services, anna, network)
    assert len(page["messages"]) == 1


async def test_nothing_is_published_when_the_send_is_refused(services: Services) -> None:
    anna = await register_user(services.db, registration("anna"))
    network = await network_id_of(services, anna, "asbest")
    async with services.broker.subscribe(f"network:{network}") as live:
        with pytest.raises(ActionError) as refused:
            await send_message(services, anna, network, "not-member-1", "hallo")
        assert refused.value.code == "not_a_member"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(live.get(), 0.3)
    assert (await history_page(services, anna, network))["messages"] == []


async def test_mentions_store_one_notification_each(services: Services) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    network = await network_id_of(services, anna, "woonoverlast")
    result = await send_message(services, anna, network, "mention-001", "@bram @bram @anna")
    assert result.message["mentions"] == ["bram"]
    inbox = await list_mentions(services, bram)
    assert inbox["unread"] == 1 and len(inbox["mentions"]) == 1
    frames = await notification_frames_since(services, bram, 0)
    assert len(frames) == 1 and json.loads(frames[0])["user_seq"] == 1
    assert (await list_mentions(services, anna))["unread"] == 0


async def test_leaving_a_private_network_hides_its_mentions(services: Services) -> None:
    admin = await register_user(services.db, registration("beheer"), is_admin=True)
    created = await create_network(services.db, admin, "geheim", "Geheim", "", True)
    eva = await register_user(services.db, registration("eva"))
    from chat.actions.networks import add_member

    await add_member(services.db, admin, created["id"], "eva")
    await send_message(services, admin, created["id"], "secret-0001", "@eva kijk even")
    assert (await list_mentions(services, eva))["unread"] == 1
    await leave_network(services, eva, created["id"])
    assert await list_mentions(services, eva) == {"mentions": [], "unread": 0}
    assert await notification_frames_since(services, eva, 0) == []
    with pytest.raises(ActionError):
        await history_page(services, eva, created["id"])


async def test_autocomplete_ignores_accents_and_case(services: Services) -> None:
    await member(services, "helene", display_name="Hélène Dubois-Smit")
    await member(services, "henk", display_name="Henk Bakker")
    await register_user(services.db, registration("hester", display_name="Hester Geenlid"))
    anna = await member(services, "anna")
    network = await network_id_of(services, anna, "woonoverlast")
    found = await member_suggestions(services.db, anna, network, "HELE")
    assert [m["username"] for m in found] == ["helene"]
    found = await member_suggestions(services.db, anna, network, "dubo")
    assert [m["username"] for m in found] == ["helene"]
    found = await member_suggestions(services.db, anna, network, "he")
    assert [m["username"] for m in found] == ["helene", "henk"], "only members are offered"
    assert await member_suggestions(services.db, anna, network, "%") == []


async def test_registration_rules(services: Services) -> None:
    await register_user(services.db, registration("anna"))
    with pytest.raises(RegistrationRejected) as rejected:
        await register_user(services.db, registration("anna", email="anna2@utrecht.nl"))
    assert rejected.value.errors == {"username": "username_taken"}
    with pytest.raises(RegistrationRejected) as rejected:
        await register_user(
            services.db,
            registration(
                "x", email="geen-email", password="kort", role="baas", organisation_type="?"
            ),
        )
    assert set(rejected.value.errors) == {
        "username",
        "email",
        "password",
        "role",
        "organisation_type",
    }
    assert await authenticate(services.db, "ANNA", "lang genoeg wachtwoord") is not None
    assert await authenticate(services.db, "anna@utrecht.nl", "lang genoeg wachtwoord") is not None
    assert await authenticate(services.db, "anna", "verkeerd wachtwoord") is None
    assert await authenticate(services.db, "niemand", "lang genoeg wachtwoord") is None


async def test_admin_restricts_sign_up_to_domains(services: Services) -> None:
    admin = await register_user(services.db, registration("beheer"), is_admin=True)
    anna = await register_user(services.db, registration("anna"))
    with pytest.raises(ActionError) as refused:
        await set_signup_domains(services.db, anna, ["utrecht.nl"])
    assert refused.value.code == "forbidden"
    assert await set_signup_domains(services.db, admin, ["Utrecht.nl", "@rijksoverheid.nl"]) == [
        "rijksoverheid.nl",
        "utrecht.nl",
    ]
    with pytest.raises(RegistrationRejected) as rejected:
        await register_user(services.db, registration("piet", email="piet@gmail.com"))
    assert rejected.value.errors == {"email": "email_domain_not_allowed"}
    assert await register_user(services.db, registration("bram", email="bram@rijksoverheid.nl"))
