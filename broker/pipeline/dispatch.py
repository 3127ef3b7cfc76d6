"""The terminal stage: hand the call to its connector and turn whatever it raises into our tree.

This is the boundary below which nothing may escape unmapped: a connector's own errors keep
their message (connectors mask the values they injected), and any other exception (a library
refusing a request that cannot be built, a bug in a connector) becomes an `UpstreamFailure`
naming the upstream, with one log line and no traceback an agent could trigger at will.
"""

from __future__ import annotations

import logging

from broker.errors import ToolQuarantined, UpstreamFailure
from broker.pipeline.call import ToolCall
from broker.secrets.errors import CredentialsMissing
from connectors import mcp
from connectors.auth import MissingCredential
from connectors.base import CallContext, ToolOutput
from connectors.errors import ConnectorError
from connectors.scrub import scrubber

log = logging.getLogger("broker.dispatch")


async def dispatch(call: ToolCall) -> ToolOutput:
    """The terminal: hand the call to its connector, turning its failures into our tree."""
    assert call.tool is not None, "Authorize resolves the tool first"
    upstream = call.tool.connector
    connector = call.snapshot.connectors[upstream]
    context = CallContext(agent=call.agent.name, secrets=call.secrets)
    try:
        return await connector.call(call.tool.spec.name, call.arguments, context)
    except MissingCredential as exc:
        raise CredentialsMissing(exc.message) from exc
    except mcp.ToolQuarantined as exc:  # found on this call, before the catalog caught up
        raise ToolQuarantined(exc.message) from exc
    except ConnectorError as exc:  # connectors clean their own errors; this guards every kind alike
        raise UpstreamFailure(scrubber(*call.secrets.values()).text(exc.message)) from exc
    except Exception as exc:
        kind = type(exc).__name__
        # The exception's text may carry argument values or injected credentials: not logged, not shown.
        log.error("call %s: upstream '%s' failed unexpectedly (%s)", call.request_id, upstream, kind)
        raise UpstreamFailure(
            f"upstream '{upstream}' could not be called ({kind}); the gateway log has request "
            f"{call.request_id}"
        ) from None
