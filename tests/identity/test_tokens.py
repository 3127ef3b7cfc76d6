"""OAuth access tokens on every face of the gateway: good ones work, forged ones never do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.e2e.test_mcp_transport import LIST_TOOLS, MODERN_HEADERS
from tests.identity.auth_server import AuthServer
from tests.identity.conftest import SCOPE, OAuthSetup


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict[str, object]) -> str:
    return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(idp: AuthServer, claims: dict[str, object]) -> str:
    """The classic key confusion: HMAC keyed with the issuer's RSA public key (PEM)."""
    header = b64(json.dumps({"alg": "HS256", "kid": idp.key.kid}).encode())
    payload = b64(json.dumps(claims).encode())
    secret = idp.key.as_pem(private=False)
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def tampered(idp: AuthServer, claims: dict[str, object]) -> str:
    header, _, signature = idp.sign(claims).split(".")
    payload = b64(json.dumps({**claims, "sub": "mallory", "groups": ["admins"]}).encode())
    return f"{header}.{payload}.{signature}"


OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
FORGERIES: dict[str, Callable[[AuthServer, dict[str, object]], str]] = {
    "alg none": lambda idp, c: unsigned(c),
    "HS256 signed with the RSA public key": hs256_with_public_key,
    "another audience": lambda idp, c: idp.sign({**c, "aud": "https://other.example/mcp"}),
    "no audience": lambda idp, c: idp.sign({k: v for k, v in c.items() if k != "aud"}),
    "another issuer": lambda idp, c: idp.sign({**c, "iss": "https://evil.example"}),
    "expired": lambda idp, c: idp.sign({**c, "exp": int(time.time()) - 120}),
    "no expiry": lambda idp, c: idp.sign({k: v for k, v in c.items() if k != "exp"}),
    "not valid yet (nbf)": lambda idp, c: idp.sign({**c, "nbf": int(time.time()) + 600}),
    "issued in the future": lambda idp, c: idp.sign({**c, "iat": int(time.time()) + 600}),
    "unknown kid": lambda idp, c: idp.sign(c, header={"alg": "RS256", "kid": "attacker"}, key=OTHER_KEY),
    "the issuer's kid, another key": lambda idp, c: idp.sign(
        c, header={"alg": "RS256", "kid": idp.key.kid}, key=OTHER_KEY
    ),
    "tampered payload": tampered,
    "garbage": lambda idp, c: "eyJhbGciOiJSUzI1NiJ9.not-json.sig",
}


def faces(setup: OAuthSetup, token: str) -> dict[str, httpx.Response]:
    url, auth = setup.gateway.url, {"Authorization": f"Bearer {token}"}
    return {
        "/mcp": httpx.post(f"{url}/mcp", json=LIST_TOOLS, headers={**MODERN_HEADERS, **auth}, timeout=10),
        "/v1": httpx.get(f"{url}/v1/models", headers=auth, timeout=10),
        "/admin": httpx.get(f"{url}/admin/audit", headers=auth, timeout=10),
    }


def test_a_valid_token_opens_every_face(oauth: OAuthSetup) -> None:
    token = oauth.token(roles=["broker-auditor"])
    answers = faces(oauth, token)
    assert {face: r.status_code for face, r in answers.items()} == {"/mcp": 200, "/v1": 200, "/admin": 200}
    tools = [tool["name"] for tool in answers["/mcp"].json()["result"]["tools"]]
    assert tools == ["weather.current"]


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_tokens_are_refused_on_every_face(oauth: OAuthSetup, forgery: str) -> None:
    claims = oauth.idp.token_claims(sub="alice", client_id="support-bot", scope=SCOPE, roles=["broker-admin"])
    token = FORGERIES[forgery](oauth.idp, claims)
    answers = faces(oauth, token)
    assert {face: r.status_code for face, r in answers.items()} == {"/mcp": 401, "/v1": 401, "/admin": 401}
    challenge = answers["/mcp"].headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{oauth.gateway.url}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert f'scope="{SCOPE}"' in challenge
    for face in ("/v1", "/admin"):  # the gateway as a whole: the same challenge, its own metadata
        challenge = answers[face].headers["www-authenticate"]
        assert 'error="invalid_token"' in challenge and f'scope="{SCOPE}"' in challenge, face
        assert f'resource_metadata="{oauth.gateway.url}/.well-known/oauth-protected-resource"' in challenge
    for response in answers.values():
        assert token not in response.text  # never echoed back


def test_the_metadata_names_the_authorization_server_and_scopes(oauth: OAuthSetup) -> None:
    url = oauth.gateway.url
    document = httpx.get(f"{url}/.well-known/oauth-protected-resource/mcp").json()
    assert document["resource"] == f"{url}/mcp"
    assert document["authorization_servers"] == [oauth.idp.issuer]
    assert document["scopes_supported"] == [SCOPE]
    assert httpx.get(f"{url}/.well-known/oauth-protected-resource").json()["resource"] == url


def test_a_token_without_the_scope_gets_403_insufficient_scope(oauth: OAuthSetup) -> None:
    answers = faces(oauth, oauth.token(scope="profile"))
    assert answers["/mcp"].status_code == 403
    challenge = answers["/mcp"].headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and f'scope="{SCOPE}"' in challenge
    assert answers["/v1"].status_code == 403
    assert answers["/v1"].json()["error"]["code"] == "insufficient_scope"
    challenge = answers["/v1"].headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and "resource_metadata=" in challenge


def test_unknown_kids_refetch_the_keys_at_most_once_per_interval(oauth: OAuthSetup) -> None:
    faces(oauth, oauth.token())  # the keys are known
    before = oauth.idp.jwks_fetches
    claims = oauth.idp.token_claims(sub="alice", client_id="support-bot", scope=SCOPE)
    for n in range(5):
        token = oauth.idp.sign(claims, header={"alg": "RS256", "kid": f"new-{n}"}, key=OTHER_KEY)
        assert faces(oauth, token)["/mcp"].status_code == 401
    assert oauth.idp.jwks_fetches - before <= 1


def test_opaque_tokens_are_introspected(oauth: OAuthSetup) -> None:
    oauth.idp.issue_opaque = True
    try:
        token = oauth.token(sub="bob", groups=["support"])
    finally:
        oauth.idp.issue_opaque = False
    assert not token.startswith("ey")
    answers = faces(oauth, token)
    assert answers["/mcp"].status_code == 200 and answers["/v1"].status_code == 200
    assert faces(oauth, "an-opaque-token-the-issuer-never-issued")["/mcp"].status_code == 401


def test_agent_keys_keep_working_beside_oauth(oauth: OAuthSetup) -> None:
    response = oauth.gateway.admin.post("/admin/agents/support-bot/keys", json={"label": "beside-oauth"})
    key = response.json()["key"]
    answers = faces(oauth, key)
    assert answers["/mcp"].status_code == 200 and answers["/v1"].status_code == 200
    assert answers["/admin"].status_code == 401
