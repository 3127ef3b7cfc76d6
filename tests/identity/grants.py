"""Helpers for per-user grant tests: the upstream's own authorization server (a second
`AuthServer`, with its own keys and users), and a browser without JavaScript (httpx)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from broker.demo.upstreams.serve import BackgroundServer
from tests.identity.auth_server import AuthServer

UPSTREAM_CLIENT = ("gateway-at-crm", "gateway-client-secret-at-crm")
LINK = re.compile(r"(https?://\S+/connect/[A-Za-z0-9_=-]+)")


@contextmanager
def upstream_authorization_server(gateway_url: str) -> Iterator[AuthServer]:
    server = AuthServer(user={"sub": "nobody"})
    with BackgroundServer(server.app()) as running:
        server.issuer = running.url
        server.audience = "crm-api"
        client = server.register(*UPSTREAM_CLIENT)
        client.redirect_uris.append(f"{gateway_url}/connect/callback")
        yield server


def allow_sign_in(idp: AuthServer, gateway_url: str) -> None:
    """The gateway's own client at the identity provider may sign users in for connect links."""
    idp.clients["tool-broker"].redirect_uris.append(f"{gateway_url}/connect/signed-in")


def connect_link(text: str) -> str:
    found = LINK.search(text)
    assert found, f"no connect link in: {text}"
    return found.group(1)


@dataclass
class Browser:
    """A user's browser: follows redirects, posts the consent form."""

    client: httpx.Client

    def consent_page(self, link: str) -> httpx.Response:
        return self.client.get(link)

    def allow(self, link: str) -> httpx.Response:
        """Allow on the consent screen and follow the flow to its end (the gateway's callback)."""
        return self.client.post(link, data={"decision": "allow"}, follow_redirects=True)

    def authorize_step(self, link: str) -> tuple[str, dict[str, Any]]:
        """Allow, sign in, then stop at the upstream authorization server's redirect back to
        the gateway: the callback URL (with code and state), and the parameters of the last
        authorization request (the upstream's; the identity provider's came first)."""
        response = self.client.post(link, data={"decision": "allow"})
        params: dict[str, Any] = {}
        for _ in range(6):
            assert response.status_code in (302, 303, 307), response.text
            location = httpx.URL(response.headers["location"])
            if location.path == "/connect/callback":
                return str(location), params
            if location.path == "/authorize":
                params = dict(location.params)
            response = self.client.get(location)
        raise AssertionError("the flow never came back to the gateway's callback")


@contextmanager
def browser() -> Iterator[Browser]:
    with httpx.Client(timeout=30) as client:
        yield Browser(client)
