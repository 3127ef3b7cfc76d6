"""Arguments found valid are remembered per tool schema: never lent to another schema, and
never standing in for other arguments."""

from __future__ import annotations

from typing import Any

import pytest

from broker.catalog import AgentIdentity, Snapshot, catalog_tool
from broker.errors import InvalidArguments
from broker.pipeline.call import Request, ToolCall
from broker.pipeline.validate import ValidateArguments
from connectors.base import Output, ToolOutput, ToolSpec
from policies import PolicySet

LOOSE = {"type": "object", "properties": {"city": {"type": "string"}}}
STRICT = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 3}}}


TOOLS = {id(schema): catalog_tool("w", ToolSpec("current", "x", schema)) for schema in (LOOSE, STRICT)}


def call(schema: dict[str, Any], arguments: dict[str, Any]) -> ToolCall:
    tool = TOOLS[id(schema)]  # one tool (one compiled validator) per schema, as in a snapshot
    snapshot = Snapshot(1, 1, PolicySet([], version=1), keys={}, tools={tool.name: tool}, connectors={})
    return ToolCall(
        request_id="r",
        agent=AgentIdentity("id-bot", "bot", None),
        tool_name=tool.name,
        arguments=arguments,
        snapshot=snapshot,
        tool=tool,
        connector="w",
    )


async def answer(request: Request) -> Output:
    return ToolOutput(content=[])


async def test_remembered_arguments_are_checked_again_under_another_schema() -> None:
    validate = ValidateArguments()
    for _ in range(2):  # the second time from the memo
        assert await validate(call(LOOSE, {"city": "Lisbon"}), answer) == ToolOutput(content=[])
    with pytest.raises(InvalidArguments, match="city"):
        await validate(call(STRICT, {"city": "Lisbon"}), answer)
    with pytest.raises(InvalidArguments, match="city"):
        await validate(call(LOOSE, {"city": 7}), answer)
    assert await validate(call(STRICT, {"city": "Rio"}), answer) == ToolOutput(content=[])
