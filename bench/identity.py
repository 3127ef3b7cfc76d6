"""Identity benchmark: what authenticating a request costs, per kind of credential.

    .venv/bin/python bench/identity.py

Times `broker.identity.Authenticator.caller` (what /mcp and /v1 run per request) for an agent
key, for an OAuth JWT already verified once (the cache), and for a JWT seen for the first time
(signature check against a JWKS served by httpx.MockTransport, no network), plus the gateway's
upstream assertion (`gateway_jwt`) signed fresh and memoised. CPU time of one core; the machine
is shared, so read the figures as orders of magnitude.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from broker import keys
from broker.catalog import AgentIdentity, KeyEntry, Snapshot
from broker.identity import Authenticator, CallerMap, OAuthVerifier
from broker.identity.signing import GatewaySigner
from broker.settings import Settings
from policies import PolicySet

ISSUER = "https://idp.bench"
KEY = RSAKey.generate_key(2048, parameters={"kid": "bench"})


def idp(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("oauth-authorization-server"):
        return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
    return httpx.Response(200, json=KeySet([KEY]).as_dict(private=False))


def token(n: int) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "http://127.0.0.1:8000/mcp", "sub": f"user-{n}", "client_id": "bot",
              "iat": now, "exp": now + 600}  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": "bench"}, claims, KEY)


async def cpu(label: str, fn: Callable[[int], Awaitable[object]], repeat: int) -> None:
    start = time.process_time()
    for n in range(repeat):
        await fn(n)
    print(f"{label:44} {(time.process_time() - start) / repeat * 1e6:9.1f} µs")


async def main() -> None:
    agent = AgentIdentity("id-1", "bot", "support")
    key = keys.new_key()
    entries = {keys.hash_key(key): KeyEntry(agent, "tbk_", None)}
    snapshot = Snapshot(
        1, 1, PolicySet([], version=1), entries, tools={}, connectors={}, agents={"bot": agent}
    )
    settings = Settings(oauth_issuers=[ISSUER])
    oauth = OAuthVerifier(settings, httpx.AsyncClient(transport=httpx.MockTransport(idp)))
    auth = Authenticator(lambda: snapshot, oauth, CallerMap(lambda: snapshot), [])
    fresh = [token(n) for n in range(300)]
    cached = token(10_000)
    await auth.caller(cached)

    await cpu("agent key", lambda n: auth.caller(key), 20_000)
    await cpu("OAuth JWT, verified before (cache)", lambda n: auth.caller(cached), 20_000)
    await cpu("OAuth JWT, first time (RS256 verify)", lambda n: auth.caller(fresh[n]), len(fresh))
    signer = GatewaySigner("http://127.0.0.1:8000")

    async def sign(n: int) -> str:
        return signer.assertion("https://up", "bot", "support", f"user-{n}", "crm.me")

    async def memo(n: int) -> str:
        return signer.assertion("https://up", "bot", "support", "alice", "crm.me")

    await cpu("gateway_jwt assertion, signed (RS256)", sign, 300)
    await cpu("gateway_jwt assertion, memoised", memo, 20_000)
    await oauth.aclose()


if __name__ == "__main__":
    asyncio.run(main())
