"""`broker login` / `broker logout`: operators sign in with their identity provider (OAuth 2.0
device authorization grant, RFC 8628, through authlib) instead of sharing the admin token.

The tokens are kept in a file only its owner can read (BROKER_LOGIN_FILE, default
~/.config/tool-broker/login.json), per gateway URL; the CLI uses them when no admin token
is given, refreshing them when they have expired.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx2  # authlib's httpx integration is built on it (the mcp SDK's httpx fork)
from authlib.integrations.base_client.errors import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]

from broker.cli.context import Context, Subcommands, command
from broker.cli.errors import CliError

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
EXPIRY_MARGIN = 30


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    parser = command(commands, leaf, "login", login, "sign in with your identity provider (device code)")
    parser.add_argument("--client-id", help="the OAuth client to sign in with (default: the gateway's)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for you to approve")
    command(commands, leaf, "logout", logout, "forget the tokens `broker login` stored for this gateway")


def login_file() -> Path:
    from broker.cli.client import CliSettings

    configured = CliSettings().login_file
    return configured or Path.home() / ".config" / "tool-broker" / "login.json"


def login(ctx: Context) -> int:
    from broker.cli.client import AdminClient, CliSettings

    url = (ctx.args.url or CliSettings().admin_url).rstrip("/")
    with AdminClient(url, None) as anonymous:
        config = anonymous.get("/admin/sign-in")
    if not config.get("enabled"):
        raise CliError(
            f"the gateway at {url} has no sign-in configured (BROKER_OAUTH_ISSUERS); use its admin token"
        )
    client_id = ctx.args.client_id or config.get("client_id")
    device_endpoint, token_endpoint = (
        config.get("device_authorization_endpoint"),
        config.get("token_endpoint"),
    )
    if not client_id:
        raise CliError("the gateway names no sign-in client (BROKER_ADMIN_CLI_CLIENT_ID); pass --client-id")
    if not device_endpoint or not token_endpoint:
        raise CliError(f"the identity provider {config.get('issuer')} offers no device sign-in")
    scope = " ".join(config.get("scopes") or [])
    with OAuth2Client(client_id=client_id, scope=scope, token_endpoint=token_endpoint, timeout=30) as oauth:
        started = _post_form(
            oauth, device_endpoint, {"client_id": client_id, "scope": scope, "resource": config["audience"]}
        )
        link = started.get("verification_uri_complete") or started.get("verification_uri")
        ctx.out.note(f"To sign in, open {link} and confirm the code {started.get('user_code')}")
        token = _poll(oauth, token_endpoint, started, deadline=time.monotonic() + ctx.args.timeout)
    store(url, {**token, "token_endpoint": token_endpoint, "client_id": client_id})
    ctx.out.note(f"signed in to {url}")
    return 0


def logout(ctx: Context) -> int:
    from broker.cli.client import CliSettings

    url = (ctx.args.url or CliSettings().admin_url).rstrip("/")
    saved = _read()
    if saved.pop(url, None) is not None:
        _write(saved)
    ctx.out.note(f"signed out of {url}")
    return 0


def stored_token(url: str) -> str | None:
    """The stored access token for this gateway, refreshed when it has expired; None if there is none."""
    saved = _read()
    entry = saved.get(url.rstrip("/"))
    if not isinstance(entry, dict):
        return None
    if float(entry.get("expires_at") or 0) - EXPIRY_MARGIN > time.time():
        return str(entry["access_token"])
    if not entry.get("refresh_token"):
        return None
    with OAuth2Client(
        client_id=entry["client_id"], token_endpoint=entry["token_endpoint"], timeout=30
    ) as oauth:
        try:
            token = oauth.refresh_token(entry["token_endpoint"], refresh_token=entry["refresh_token"])
        except (OAuthError, httpx2.HTTPError):
            return None
    store(url, {**entry, **token})
    return str(token["access_token"])


def store(url: str, token: dict[str, Any]) -> None:
    saved = _read()
    kept = {
        k: token[k]
        for k in ("access_token", "refresh_token", "expires_at", "token_endpoint", "client_id")
        if k in token
    }
    if "expires_at" not in kept and token.get("expires_in"):
        kept["expires_at"] = int(time.time()) + int(token["expires_in"])
    saved[url.rstrip("/")] = kept
    _write(saved)


def _post_form(oauth: OAuth2Client, url: str, data: dict[str, str]) -> dict[str, Any]:
    try:
        response = oauth.request("POST", url, withhold_token=True, data=data)
    except httpx2.HTTPError as exc:
        raise CliError(f"cannot reach the identity provider: {exc}") from None
    if response.status_code != 200:
        raise CliError(f"the identity provider refused to start a sign-in: {response.text[:200]}")
    answer: dict[str, Any] = response.json()
    return answer


def _poll(
    oauth: OAuth2Client, token_endpoint: str, started: dict[str, Any], deadline: float
) -> dict[str, Any]:
    interval = float(started.get("interval") or 5)
    while time.monotonic() < deadline:
        time.sleep(interval)
        try:
            token: dict[str, Any] = oauth.fetch_token(
                token_endpoint, grant_type=DEVICE_GRANT, device_code=started["device_code"]
            )
            return token
        except OAuthError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += 5
                continue
            raise CliError(f"sign-in failed: {exc.error} {exc.description or ''}".strip()) from None
        except httpx2.HTTPError as exc:
            raise CliError(f"cannot reach the identity provider: {exc}") from None
    raise CliError("sign-in timed out: the code was not approved in time")


def _read() -> dict[str, Any]:
    try:
        saved = json.loads(login_file().read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _write(saved: dict[str, Any]) -> None:
    path = login_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(saved, handle)
