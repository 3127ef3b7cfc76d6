"""An upstream's tools/call answer as a `ToolOutput`: bounded in size, echoed secrets blanked;
or the `InputRequired` the call ended with (`relay.call_tool`)."""

from __future__ import annotations

import json

import mcp_types as types

from connectors.base import InputRequired, ToolOutput
from connectors.errors import UpstreamBadResponse
from connectors.mcp.session import size_text
from connectors.scrub import Scrubber


def tool_output(
    result: types.CallToolResult | InputRequired, limit: int, scrub: Scrubber, name: str
) -> ToolOutput:
    if isinstance(result, InputRequired):
        return ToolOutput(content=[], input_required=result)
    content = [block.model_dump(by_alias=True, mode="json", exclude_none=True) for block in result.content]
    structured = result.structured_content
    content_text = json.dumps(content, ensure_ascii=False)
    structured_text = json.dumps(structured, ensure_ascii=False)
    size = len(content_text.encode()) + (len(structured_text.encode()) if structured is not None else 0)
    if size > limit:
        raise UpstreamBadResponse(
            f"upstream '{name}' sent more than the {size_text(limit)} response limit (max_response_bytes)"
        )
    if scrub:  # an upstream that echoes its credentials must not hand them on
        content = scrub.json(content, content_text)
        structured = scrub.json(structured, structured_text)
    meta = dict(result.meta or {})
    return ToolOutput(content=content, structured=structured, is_error=bool(result.is_error), meta=meta)
