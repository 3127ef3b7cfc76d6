"""Connecting to the gateway the way assistants do: the mcp SDK client over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from broker.demo import run

MODES = ["auto", "legacy"]
"""auto negotiates protocol 2026-07-28; legacy speaks 2025-11-25 with the initialize handshake."""


@asynccontextmanager
async def mcp_client(
    url: str, key: str | None, *, mode: str = "auto", headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    all_headers = dict(headers or {})
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    async with (
        httpx2.AsyncClient(headers=all_headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode, cache=None) as client,
    ):
        yield client


def demo_document(weather_url: str, crm_url: str, hubspot_url: str, crm_db: Path) -> dict[str, Any]:
    """The document `broker demo` applies, pointed at the tests' own upstreams."""
    return run.demo_document(weather_url=weather_url, crm_url=crm_url, hubspot_url=hubspot_url, crm_db=crm_db)
