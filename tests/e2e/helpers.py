"""Connecting to the gateway the way assistants do: the mcp SDK client over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from string import Template
from typing import Any

import httpx2
import yaml
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from broker.demo.run import DEMO_DOCUMENT

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


def demo_document(weather_url: str, crm_url: str) -> dict[str, Any]:
    text = Template(Path(DEMO_DOCUMENT).read_text()).substitute(WEATHER_URL=weather_url, CRM_URL=crm_url)
    document: dict[str, Any] = yaml.safe_load(text)
    return document
