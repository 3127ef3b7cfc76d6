"""What a listing costs per tool (dumping, hashing and scanning each definition: seconds for an
upstream of a thousand big tools) runs in a worker thread, never on the event loop's thread."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

from connectors.mcp import McpConnector
from tests.connectors.mcp.conftest import Upstream

PER_TOOL = frozenset({"definition_of", "pin_of", "scan_definition"})


@contextlib.contextmanager
def on_this_thread(names: frozenset[str]) -> Iterator[list[str]]:
    """The calls of `names` made on the calling thread (the test's event loop) meanwhile."""
    seen: list[str] = []

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code.co_name in names:
            seen.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(None)


async def test_registration_pins_and_scans_off_the_loop(modern: Upstream) -> None:
    with on_this_thread(PER_TOOL) as seen:
        prepared = await modern.prepared()
    assert seen == []
    assert prepared.tools and set(prepared.pins) == {tool.name for tool in prepared.tools}


async def test_a_listing_reads_its_definitions_off_the_loop(modern: Upstream) -> None:
    async with McpConnector(await modern.prepared()) as connector:
        with on_this_thread(PER_TOOL) as seen:
            live = await connector.live_tools()
        assert seen == []
        assert [tool.name for tool in live] == sorted(modern.catalog.tools)
        assert connector.drift().clean
