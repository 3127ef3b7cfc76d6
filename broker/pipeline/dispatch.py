from __future__ import annotations

from broker.errors import ToolQuarantined, UpstreamFailure
from broker.pipeline.call import ToolCall
from broker.secrets.errors import CredentialsMissing
from connectors import mcp
from connectors.auth import MissingCredential
from connectors.base import CallContext, ToolOutput
from connectors.errors import ConnectorError
from connectors.scrub import scrubber


async def dispatch(call: ToolCall) -> ToolOutput:
    """The terminal: hand the call to its connector, turning its failures into our tree."""
    assert call.tool is not None, "Authorize resolves the tool first"
    connector = call.snapshot.connectors[call.tool.connector]
    context = CallContext(agent=call.agent.name, secrets=call.secrets, channel=call.channel)
    try:
        return await connector.call(call.tool.spec.name, call.arguments, context)
    except MissingCredential as exc:
        raise CredentialsMissing(exc.message) from exc
    except mcp.ToolQuarantined as exc:  # found on this call, before the catalog caught up
        raise ToolQuarantined(exc.message) from exc
    except ConnectorError as exc:  # connectors clean their own errors; this guards every kind alike
        raise UpstreamFailure(scrubber(*call.secrets.values()).text(exc.message)) from exc
