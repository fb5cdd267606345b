"""A whole carrier NAT signing in through one address, with the portal's default limits.

Residents are written straight into the identity database (one cheap argon2 hash
shared by all: creating 2,000 through the API would spend minutes hashing), but
every sign-in goes through the gateway's real `/auth/authorize` to the real
identity service, as fast as this machine allows.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import create_async_engine

from portal_testing.oidc import WEB_CALLBACK, authorize_params, form_fields, pkce_pair
from portal_testing.processes import Connect, Process

RESIDENTS = 2000
WORKERS = 16
PASSWORD = "scale-test-password-1"
NAT_ADDRESS = "127.0.0.81"  # every resident of this test comes from here

_CLIENT = sa.text(
    """
    INSERT INTO oauth_clients (client_id, name, client_type, redirect_uris,
        post_logout_redirect_uris, grant_types, scopes, introspection, status, created_at)
    VALUES ('portal-web', 'Portal web application', 'public', ARRAY[:callback], ARRAY[]::text[],
        ARRAY['authorization_code', 'refresh_token'],
        ARRAY['openid', 'profile', 'email', 'offline_access'], false, 'active', now())
    ON CONFLICT (client_id) DO NOTHING
    """
)
_RESIDENTS = sa.text(
    """
    INSERT INTO accounts (id, email, given_name, family_name, password_hash, roles, status,
        version, created_at, updated_at)
    SELECT gen_random_uuid(), :prefix || n || '@scale.test', 'Resident', 'No. ' || n, :hash,
        ARRAY['resident'], 'active', 1, now(), now()
    FROM generate_series(1, :count) AS n
    """
)


async def _create_residents(postgres_url: str, prefix: str, count: int) -> None:
    hashed = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    engine = create_async_engine(f"{postgres_url}/gateway_identity")
    try:
        async with engine.begin() as conn:
            await conn.execute(_CLIENT, {"callback": WEB_CALLBACK})
            await conn.execute(_RESIDENTS, {"prefix": prefix, "hash": hashed, "count": count})
    finally:
        await engine.dispose()


class Browser:
    """One browser behind the NAT: the login form once, then one sign-in after another."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.fields: dict[str, str] = {}

    async def sign_in(self, login: str, password: str) -> httpx.Response:
        if not self.fields:
            page = await self.client.get("/auth/authorize", params=authorize_params(pkce_pair()[1]))
            assert page.status_code == 200, page.text
            self.fields = form_fields(page.text)
        return await self.client.post(
            "/auth/authorize", data={**self.fields, "username": login, "password": password}
        )


def _signed_in(response: httpx.Response) -> bool:
    return response.status_code == 302 and "code=" in response.headers.get("location", "")


async def test_thousands_of_residents_behind_one_address_all_sign_in(
    portal: Process, services: dict[str, Process], connect: Connect, postgres_url: str
) -> None:
    prefix = f"nat-{uuid.uuid4().hex[:8]}-"
    await _create_residents(postgres_url, prefix, RESIDENTS + 2)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(1, RESIDENTS + 1):
        queue.put_nowait(n)
    refused: list[tuple[int, int, str]] = []

    async def worker() -> int:
        done = 0
        async with connect(portal, NAT_ADDRESS) as client:
            browser = Browser(client)
            while not queue.empty():
                n = queue.get_nowait()
                response = await browser.sign_in(f"{prefix}{n}@scale.test", PASSWORD)
                if not _signed_in(response):
                    refused.append((n, response.status_code, response.text[:200]))
                done += 1
        return done

    signed = await asyncio.gather(*(worker() for _ in range(WORKERS)))
    assert sum(signed) == RESIDENTS
    assert refused == []


async def test_wrong_passwords_lock_the_account_not_the_address(
    portal: Process, services: dict[str, Process], connect: Connect, postgres_url: str
) -> None:
    prefix = f"typo-{uuid.uuid4().hex[:8]}-"
    await _create_residents(postgres_url, prefix, 2)
    target, neighbour = f"{prefix}1@scale.test", f"{prefix}2@scale.test"
    async with connect(portal, NAT_ADDRESS) as client:
        browser = Browser(client)
        wrong = [await browser.sign_in(target, f"not-it-{n}") for n in range(20)]
        # The owner, with the right password, now waits out the lock...
        owner = await browser.sign_in(target, PASSWORD)
        # ...while the next resident at the same address signs in as usual.
        next_resident = await browser.sign_in(neighbour, PASSWORD)
    assert {r.status_code for r in wrong} == {401}
    assert not _signed_in(owner)
    assert owner.status_code == 401
    assert _signed_in(next_resident), next_resident.text[:300]
