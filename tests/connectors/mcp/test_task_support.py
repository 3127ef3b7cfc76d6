"""A tool's task support is known from registration on, not only after the connector's first
listing: a task-augmented call right after a connector is registered must not be refused."""

from __future__ import annotations

from broker.demo.upstreams.serve import BackgroundServer
from connectors.mcp import McpConnector, McpConnectorConfig, prepare_mcp
from tests.e2e.tasks_upstream import Upstream, create_app


async def test_task_support_is_recorded_at_registration_and_offered_before_any_listing() -> None:
    async with BackgroundServer(create_app(Upstream())) as server:
        config = await prepare_mcp(
            McpConnectorConfig.model_validate(
                {
                    "kind": "mcp",
                    "name": "up",
                    "transport": "http",
                    "url": f"{server.url}/mcp",
                    "allow_private_network": True,
                }
            )
        )
        stored = McpConnectorConfig.model_validate(config.model_dump(mode="json"))  # as saved and read back

        async with McpConnector(stored) as connector:
            support = {tool.name: tool.execution for tool in connector.tools()}

    assert support == {"quick": None, "report": {"taskSupport": "optional"}}
