from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from broker.demo.upstreams.serve import BackgroundServer
from connectors.mcp import McpConnector, McpConnectorConfig, prepare_mcp
from tests.connectors.mcp.upstream import Catalog, create_app


@dataclass
class Upstream:
    """A running test upstream: its catalog, its base URL and MCP endpoint, and its era."""

    catalog: Catalog
    base_url: str
    era: str

    @property
    def url(self) -> str:
        return f"{self.base_url}/mcp"

    def config(self, **overrides: Any) -> McpConnectorConfig:
        return McpConnectorConfig.model_validate(
            {
                "kind": "mcp",
                "name": "up",
                "transport": "http",
                "url": self.url,
                "allow_private_network": True,  # the test upstream runs on loopback
                "recheck_seconds": 0,  # re-list before every call: a change upstream shows at the next call
                **overrides,
            }
        )

    async def prepared(self, **overrides: Any) -> McpConnectorConfig:
        return await prepare_mcp(self.config(**overrides))


@pytest.fixture(params=["modern", "legacy"])
def upstream(request: pytest.FixtureRequest) -> Iterator[Upstream]:
    """The test upstream over Streamable HTTP, both as a 2026-07-28 server and a 2025-era one."""
    catalog = Catalog()
    with BackgroundServer(create_app(catalog, legacy_only=request.param == "legacy")) as server:
        yield Upstream(catalog, server.url, request.param)


@pytest.fixture
def modern() -> Iterator[Upstream]:
    """The test upstream as a 2026-07-28 server only, for tests that do not depend on the era."""
    catalog = Catalog()
    with BackgroundServer(create_app(catalog)) as server:
        yield Upstream(catalog, server.url, "modern")


@pytest.fixture
async def connector(upstream: Upstream) -> AsyncIterator[McpConnector]:
    """A connector built from the upstream's registration (prepare), closed afterwards."""
    async with McpConnector(await upstream.prepared()) as built:
        yield built
