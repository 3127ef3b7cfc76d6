"""The HTTP face of per-user grants.

Browser: `GET /connect/{link}` (consent), `POST /connect/{link}` (allow: off to the upstream's
authorization server; deny), `GET /connect/callback` (the redirect URI).
The signed-in user (their OAuth access token, as on /mcp): `GET /connections` lists their
connections, `POST /connections/{connector}` gives a connect link, `DELETE
/connections/{connector}` revokes their grant.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from broker.cache.plan import resource_label
from broker.catalog import AgentIdentity
from broker.connections import pages
from broker.connections.errors import GrantRefused
from broker.connections.grants import Ticket, private_network, user_oauth_of
from broker.connections.signin import SIGNED_IN_PATH, SignIn
from broker.errors import BrokerError, Forbidden, NotFound, Unauthorized
from broker.gateway import Gateway
from broker.identity.resource import bearer
from connectors.base import CONNECTOR_NAME

router = APIRouter(tags=["connections"])
ConnectorPath = Path(pattern=CONNECTOR_NAME.pattern, description="Connector name.")


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _connector(gateway: Gateway, name: str) -> object | None:
    return gateway.state.snapshot.connectors.get(name)


@router.get("/connect/callback", include_in_schema=False)
async def callback(request: Request) -> Response:
    """The redirect URI registered at each upstream's authorization server."""
    gateway = _gateway(request)
    query = request.query_params
    state = query.get("state")
    if not state:
        return pages.refused(
            "the authorization answer carries no state; start again from your assistant's link"
        )
    try:
        ticket = await gateway.grants.complete(
            state, query.get("code"), query.get("error"), lambda name: _connector(gateway, name)
        )
    except BrokerError as exc:
        return pages.refused(exc.message, exc.status_code)
    return pages.done(ticket)


@router.get(SIGNED_IN_PATH, include_in_schema=False)
async def signed_in(request: Request) -> Response:
    """Back from the identity provider: the right user? Then off to the upstream's sign-in."""
    gateway = _gateway(request)
    check = SignIn.of(gateway.grants, gateway.oauth, gateway.settings)
    query = request.query_params
    state = query.get("state")
    if check is None or not state:
        return pages.refused(
            "this sign-in answer is not expected here; start again from your assistant's link"
        )
    try:
        ticket = await check.finish(state, query.get("code"), query.get("error"))
        config, connector = _grant_config(gateway, ticket)
        url = await gateway.grants.authorize_url(ticket, config, private_network(connector))
    except BrokerError as exc:
        return pages.refused(exc.message, exc.status_code)
    return _redirect(url)


@router.get("/connect/{link}", include_in_schema=False)
async def consent(request: Request, link: str) -> Response:
    gateway = _gateway(request)
    try:
        ticket = gateway.grants.ticket(link)
        config, connector = _grant_config(gateway, ticket)
    except BrokerError as exc:
        return pages.refused(exc.message, exc.status_code)
    description = str(getattr(getattr(connector, "config", None), "description", "") or "")
    return pages.consent(ticket, config, description)


@router.post("/connect/{link}", include_in_schema=False)
async def decide(request: Request, link: str) -> Response:
    gateway = _gateway(request)
    origin = request.headers.get("origin")
    if origin is not None and origin != _origin(gateway.grants.public_url):
        return pages.refused("this form was sent from another site; open the link in your browser", 403)
    try:
        ticket = gateway.grants.ticket(link)
        config, connector = _grant_config(gateway, ticket)
        form = await request.form()
        if form.get("decision") != "allow":
            return pages.page("Not connected", "<p>You denied access; nothing was stored.</p>")
        check = SignIn.of(gateway.grants, gateway.oauth, gateway.settings)
        if check is not None:  # first: is the one who opened the link the link's user?
            url = await check.start(ticket)
        else:
            url = await gateway.grants.authorize_url(ticket, config, private_network(connector))
    except BrokerError as exc:
        return pages.refused(exc.message, exc.status_code)
    return _redirect(url)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(
        url, status_code=303, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@router.get("/connections", summary="The signed-in user's connections to upstreams (never a token)")
async def my_connections(request: Request) -> JSONResponse:
    user = await _signed_in(request)
    listed = await _gateway(request).grants.connections(end_user=user.end_user)
    return JSONResponse({"connections": [_public(item) for item in listed]})


@router.post("/connections/{connector}", summary="A link where the signed-in user connects this upstream")
async def connect_link(request: Request, connector: str = ConnectorPath) -> JSONResponse:
    user = await _signed_in(request)
    gateway = _gateway(request)
    assert user.end_user is not None
    ticket = Ticket(user.end_user, user.name, connector)
    _grant_config(gateway, ticket)
    return JSONResponse({"connector": connector, "connect_url": gateway.grants.connect_url(ticket)})


@router.delete("/connections/{connector}", summary="Revoke the signed-in user's grant at this upstream")
async def revoke_mine(request: Request, connector: str = ConnectorPath) -> Response:
    user = await _signed_in(request)
    assert user.end_user is not None
    if not await revoke(_gateway(request), connector, user.end_user):
        raise NotFound(f"you have no connection to '{connector}'")
    return Response(status_code=204)


async def revoke(gateway: Gateway, connector: str, end_user: str) -> bool:
    """Forget the grant everywhere: this instance at once, the others on the revision bump.
    Cached answers of the connector go too (keys name no user, so all of its entries)."""
    found = _connector(gateway, connector)
    if not await gateway.grants.revoke(connector, end_user, user_oauth_of(found), private_network(found)):
        return False
    snapshot = await gateway.state.refresh()
    await gateway.bus.publish_revision(snapshot.revision)
    if gateway.cache is not None:
        labels = [tool.name for tool in snapshot.tools.values() if tool.connector == connector]
        for label in [*labels, resource_label(connector)]:
            await gateway.cache.purge(tool=label)
    return True


async def _signed_in(request: Request) -> AgentIdentity:
    token = bearer(request.scope)
    if token is None:
        raise Unauthorized("send your OAuth access token as 'Authorization: Bearer <token>'")
    caller = await _gateway(request).identity.caller(token)
    if caller.end_user is None:
        raise Forbidden("connections belong to a signed-in user; an agent key has none (sign in with OAuth)")
    return caller


def _grant_config(gateway: Gateway, ticket: Ticket) -> tuple[Any, object]:
    connector = _connector(gateway, ticket.connector)
    config = user_oauth_of(connector)
    if config is None:
        raise GrantRefused(
            f"connector '{ticket.connector}' does not take per-user grants (or no longer exists)"
        )
    return config, connector


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in item.items()}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
