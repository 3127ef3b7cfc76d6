"""Each user's own grant at an upstream, completed once through the gateway: authorization
code with PKCE, the gateway's consent screen, its exact callback, single-use state; tokens
stored encrypted per user, refreshed, revocable by the user and by operators."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from joserfc import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from broker.demo.upstreams.serve import BackgroundServer
from tests.e2e.helpers import mcp_client
from tests.identity.auth_server import AuthServer
from tests.identity.conftest import OAuthSetup
from tests.identity.grants import (
    UPSTREAM_CLIENT,
    allow_sign_in,
    browser,
    connect_link,
    upstream_authorization_server,
)
from tests.identity.test_admin_roles import as_role


@dataclass
class CrmApi:
    """An API that takes only its own authorization server's tokens."""

    server: AuthServer
    seen: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    """Tokens revoked here before they expire."""

    async def me(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.seen.append(token)
        try:
            claims = jwt.decode(token, self.server.key).claims
        except Exception:
            return JSONResponse({"error": "not my token"}, status_code=401)
        if claims.get("aud") != "crm-api" or claims["exp"] < time.time() or token in self.refused:
            return JSONResponse({"error": "not for me"}, status_code=401)
        return JSONResponse({"user": claims["sub"]})


@dataclass
class Setup:
    oauth: OAuthSetup
    crm_as: AuthServer
    api: CrmApi

    def token(self, user: str) -> str:
        return self.oauth.token(sub=user)

    def signed_in(self, user: str, upstream_user: str) -> None:
        """Who the browser signs in as, at the identity provider and at the upstream."""
        self.oauth.idp.user = {"sub": user}
        self.crm_as.user = {"sub": upstream_user}

    def connect(self, user: str, upstream_user: str) -> None:
        """The whole flow as a user goes through it: call, follow the link, allow."""
        failed, text = call(self, self.token(user))
        assert failed
        self.signed_in(user, upstream_user)
        with browser() as user_browser:
            done = user_browser.allow(connect_link(text))
        assert done.status_code == 200 and "Connected to crm" in done.text, done.text


@pytest.fixture(scope="module")
def setup(oauth: OAuthSetup) -> Iterator[Setup]:
    gateway = oauth.gateway
    allow_sign_in(oauth.idp, gateway.url)
    with upstream_authorization_server(gateway.url) as crm_as:
        api = CrmApi(crm_as)
        gateway.admin.put(
            "/admin/secrets/crm-oauth-client", json={"value": UPSTREAM_CLIENT[1]}
        ).raise_for_status()
        with BackgroundServer(Starlette(routes=[Route("/me", api.me)])) as server:
            connector = {
                "name": "crm",
                "kind": "http",
                "base_url": server.url,
                "allow_private_network": True,
                "auth": {
                    "type": "user_oauth",
                    "authorization_url": f"{crm_as.issuer}/authorize",
                    "token_url": f"{crm_as.issuer}/token",
                    "client_id": UPSTREAM_CLIENT[0],
                    "secret": "crm-oauth-client",
                    "scopes": ["crm.read"],
                    "authorize_params": {"resource": "crm-api"},
                    "revocation_url": f"{crm_as.issuer}/revoke",
                },
                "tools": [
                    {
                        "name": "me",
                        "description": "Who am I at the CRM?",
                        "method": "GET",
                        "path": "/me",
                        # cached by default: each user's answer must stay theirs
                        "annotations": {"readOnlyHint": True, "idempotentHint": True},
                    },
                    {
                        "name": "me_now",
                        "description": "Who am I (never cached)?",
                        "method": "GET",
                        "path": "/me",
                    },
                ],
            }
            gateway.admin.post("/admin/connectors", json=connector).raise_for_status()
            policy = {"name": "support", "teams": ["support"], "allow": ["weather.*", "crm.*"]}
            gateway.admin.post("/admin/policies", json={"policies": [policy]}).raise_for_status()
            yield Setup(oauth, crm_as, api)


def call(setup: Setup, credential: str, tool: str = "crm.me") -> tuple[bool, str]:
    async def run() -> tuple[bool, str]:
        async with mcp_client(setup.oauth.gateway.mcp_url, credential) as client:
            result = await client.call_tool(tool, {})
        return bool(result.is_error), result.content[0].text  # type: ignore[union-attr]

    return asyncio.run(run())


def test_a_user_connects_once_and_then_calls_with_their_own_account(setup: Setup) -> None:
    failed, text = call(setup, setup.token("carol"))
    assert failed and "open" in text and "then call again" in text
    link = connect_link(text)
    with browser() as carol:
        page = carol.consent_page(link)
        assert page.status_code == 200
        for shown in ("crm", "crm.read", "support-bot", "carol"):
            assert shown in page.text, shown
        assert (
            page.headers["x-frame-options"] == "DENY"
            and "frame-ancestors 'none'" in page.headers["content-security-policy"]
        )
        setup.signed_in("carol", "carol-at-crm")
        callback, params = carol.authorize_step(link)
        assert params["redirect_uri"] == f"{setup.oauth.gateway.url}/connect/callback"
        assert params["code_challenge_method"] == "S256" and params["scope"] == "crm.read"
        assert carol.client.get(callback).status_code == 200
    assert call(setup, setup.token("carol")) == (False, '{"user":"carol-at-crm"}')


def test_each_user_reaches_the_upstream_as_themselves_and_never_as_another(setup: Setup) -> None:
    setup.connect("alice", "alice-at-crm")
    setup.connect("bob", "bob-at-crm")
    alice, bob = setup.token("alice"), setup.token("bob")
    for _ in range(2):  # the second round is served from the per-user cache
        assert call(setup, alice) == (False, '{"user":"alice-at-crm"}')
        assert call(setup, bob) == (False, '{"user":"bob-at-crm"}')
    assert alice not in setup.api.seen and bob not in setup.api.seen  # the clients' own tokens stay here
    failed, text = call(setup, setup.token("dave"))  # not connected: no one else's grant
    assert failed and "/connect/" in text


def test_an_agent_key_has_no_user_to_connect(setup: Setup) -> None:
    key = setup.oauth.gateway.admin.post("/admin/agents/support-bot/keys", json={"label": "k"}).json()["key"]
    failed, text = call(setup, key)
    assert failed and "not an agent key" in text


def test_state_is_single_use(setup: Setup) -> None:
    _, text = call(setup, setup.token("erin"))
    setup.signed_in("erin", "erin-at-crm")
    with browser() as erin:
        callback, _ = erin.authorize_step(connect_link(text))
        assert erin.client.get(callback).status_code == 200
        again = erin.client.get(callback)
    assert again.status_code == 400 and "already used" in again.text


def test_a_code_redeemed_with_another_requests_verifier_is_refused(setup: Setup) -> None:
    _, text = call(setup, setup.token("frank"))
    link = connect_link(text)
    setup.signed_in("frank", "frank-at-crm")
    with browser() as frank:
        first, _ = frank.authorize_step(link)
        second, _ = frank.authorize_step(link)
        code = httpx.URL(first).params["code"]
        state = httpx.URL(second).params["state"]
        swapped = frank.client.get(httpx.URL(second).copy_with(params={"code": code, "state": state}))
    assert swapped.status_code == 400 and "would not redeem" in swapped.text
    failed, _ = call(setup, setup.token("frank"))
    assert failed  # nothing was stored


def test_an_authorization_server_that_does_not_know_the_redirect_uri_refuses(setup: Setup) -> None:
    client = setup.crm_as.clients[UPSTREAM_CLIENT[0]]
    registered = list(client.redirect_uris)
    client.redirect_uris[:] = [f"{setup.oauth.gateway.url}/connect/other"]
    try:
        _, text = call(setup, setup.token("gina"))
        setup.signed_in("gina", "gina-at-crm")
        with browser() as gina:
            refused = gina.allow(connect_link(text))
        assert refused.status_code == 400 and "invalid_request" in refused.text
    finally:
        client.redirect_uris[:] = registered
    assert call(setup, setup.token("gina"))[0]
    wrong = httpx.get(f"{setup.oauth.gateway.url}/connect/callback", params={"code": "x", "state": "made-up"})
    assert wrong.status_code == 400


def test_a_link_opened_by_someone_else_connects_nothing(setup: Setup) -> None:
    _, text = call(setup, setup.token("nina"))  # nina's link, leaked to mallory
    setup.signed_in("mallory", "mallory-at-crm")
    with browser() as mallory:
        refused = mallory.allow(connect_link(text))
    assert refused.status_code == 400 and "another user" in refused.text
    failed, _ = call(setup, setup.token("nina"))
    assert failed  # nina is still not connected (and never to mallory's account)


def test_a_forged_or_expired_link_is_refused(setup: Setup) -> None:
    page = httpx.get(f"{setup.oauth.gateway.url}/connect/gAAAAAforged")
    assert page.status_code == 400 and "expired or is not valid" in page.text


def test_tokens_are_refreshed_before_they_expire_and_a_failed_refresh_disconnects(setup: Setup) -> None:
    setup.crm_as.lifetime = 2  # each token is renewed from 1.8 s on
    try:
        setup.connect("hank", "hank-at-crm")
        hank = setup.token("hank")
        assert call(setup, hank, "crm.me_now") == (False, '{"user":"hank-at-crm"}')
        first, before = setup.api.seen[-1], setup.crm_as.refreshes
        time.sleep(2)
        assert call(setup, hank, "crm.me_now") == (False, '{"user":"hank-at-crm"}')
        assert setup.crm_as.refreshes == before + 1 and setup.api.seen[-1] != first
        setup.crm_as.refresh.clear()  # the authorization server forgets every refresh token
        time.sleep(2)
        failed, text = call(setup, hank, "crm.me_now")
    finally:
        setup.crm_as.lifetime = 300
    assert failed and "disconnected" in text and "/connect/" in text
    listed = setup.oauth.gateway.admin.get("/admin/connections", params={"user": "hank"}).json()
    assert [(c["connector"], c["status"]) for c in listed] == [("crm", "disconnected")]


def test_a_token_the_upstream_refuses_early_is_renewed_once(setup: Setup) -> None:
    setup.connect("oscar", "oscar-at-crm")
    oscar = setup.token("oscar")
    assert call(setup, oscar, "crm.me_now") == (False, '{"user":"oscar-at-crm"}')
    setup.api.refused.add(setup.api.seen[-1])
    before = setup.crm_as.refreshes
    assert call(setup, oscar, "crm.me_now") == (False, '{"user":"oscar-at-crm"}')
    assert setup.crm_as.refreshes == before + 1
    setup.api.refused.add(setup.api.seen[-1])
    setup.crm_as.refresh.clear()  # and now the grant itself is gone at the server
    failed, text = call(setup, oscar, "crm.me_now")
    assert failed and "disconnected" in text and "/connect/" in text


def test_the_user_revokes_their_grant(setup: Setup) -> None:
    setup.connect("ivan", "ivan-at-crm")
    ivan = setup.token("ivan")
    gateway = setup.oauth.gateway.url
    mine = httpx.get(f"{gateway}/connections", headers={"Authorization": f"Bearer {ivan}"}).json()
    assert [(c["connector"], c["user"], c["status"]) for c in mine["connections"]] == [
        ("crm", "ivan", "connected")
    ]
    assert "access_token" not in str(mine) and "ivan-at-crm" not in str(mine)
    gone = httpx.delete(f"{gateway}/connections/crm", headers={"Authorization": f"Bearer {ivan}"})
    assert gone.status_code == 204
    failed, text = call(setup, ivan)
    assert failed and "/connect/" in text


def test_operators_revoke_auditors_only_list_nobody_reads_a_token(setup: Setup) -> None:
    setup.connect("judy", "judy-at-crm")
    with as_role(setup.oauth, "auditor", "audrey") as auditor:
        listed = auditor.get("/admin/connections", params={"connector": "crm", "user": "judy"})
        assert listed.status_code == 200 and listed.json()[0]["status"] == "connected"
        assert "token" not in listed.text.replace("tokens", "")
        assert auditor.delete("/admin/connections/crm/judy").status_code == 403
    assert call(setup, setup.token("judy")) == (False, '{"user":"judy-at-crm"}')
    refresh_tokens = len(setup.crm_as.refresh)
    with as_role(setup.oauth, "operator", "olga") as operator:
        assert operator.delete("/admin/connections/crm/judy").status_code == 204
        assert operator.delete("/admin/connections/crm/judy").status_code == 404
    assert setup.crm_as.revoked[-2:] == ["refresh_token", "access_token"]  # revoked upstream too (RFC 7009)
    assert len(setup.crm_as.refresh) == refresh_tokens - 1
    failed, _ = call(setup, setup.token("judy"))
    assert failed


def test_the_cli_lists_and_revokes_for_operators_and_for_the_user(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    from broker.cli.main import main

    gateway = setup.oauth.gateway
    setup.connect("kim", "kim-at-crm")
    setup.connect("lee", "lee-at-crm")

    def broker(*argv: str, token: str = gateway.admin_token) -> tuple[int, str]:
        capsys.readouterr()
        code = main([*argv, "--url", gateway.url, "--token", token])
        return code, capsys.readouterr().out

    code, out = broker("connections", "list", "--connector", "crm")
    assert code == 0 and "kim" in out and "lee" in out and "connected" in out and "kim-at-crm" not in out
    assert broker("connections", "revoke", "crm", "kim")[0] == 0
    assert call(setup, setup.token("kim"))[0]  # kim must connect again
    lee = setup.token("lee")
    code, out = broker("connections", "mine", token=lee)
    assert code == 0 and "lee" in out and "kim" not in out
    assert broker("connections", "disconnect", "crm", token=lee)[0] == 0
    assert call(setup, lee)[0]
