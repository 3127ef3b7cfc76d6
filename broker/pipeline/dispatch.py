"""The terminal stage: hand a request to its connector and turn whatever it raises into our tree.

This is the boundary below which nothing escapes unmapped: connector errors keep their
(scrubbed) message, and any other exception (a library refusing a request that cannot be
built, a bug in a connector) becomes an `UpstreamFailure` naming the upstream, with one log
line and no traceback a client could trigger at will.
"""

from __future__ import annotations

import logging

from broker.connections.errors import NotConnected
from broker.errors import (
    InvalidParams,
    ToolQuarantined,
    UnknownPrompt,
    UnknownResource,
    UpstreamFailure,
)
from broker.pipeline.call import Completion, PromptGet, Request, ResourceRead, ResourceWatch, ToolCall
from broker.secrets.errors import CredentialsMissing
from connectors import errors, mcp
from connectors.auth import MissingCredential
from connectors.base import (
    CallContext,
    CompletionOutput,
    OffersCompletion,
    OffersPrompts,
    OffersResources,
    OffersSubscriptions,
    Output,
    ResourceOutput,
)
from connectors.scrub import scrubber

log = logging.getLogger("broker.dispatch")


async def dispatch(request: Request) -> Output:
    """The terminal: hand the request to its connector, turning its failures into our tree."""
    name = request.connector
    assert name is not None, "Authorize resolves the connector first"
    connector = request.snapshot.connectors[name]
    context = CallContext(
        agent=request.agent.name,
        secrets=request.secrets,
        channel=request.channel,
        assertion=request.assertion,
        subject_token=request.agent.subject_token,
        user_token=request.user_token,
        renew_user_token=request.renew_user_token,
        end_user=request.agent.end_user,
        resume=request.resume if isinstance(request, ToolCall) else None,
        task=request.task if isinstance(request, ToolCall) else None,
        target=request.target,
    )
    try:
        if isinstance(request, ToolCall):
            assert request.tool is not None
            return await connector.call(request.tool.spec.name, request.arguments, context)
        if isinstance(request, ResourceWatch):
            assert request.local_uri is not None
            if isinstance(connector, OffersSubscriptions):
                await connector.watch_resource(request.local_uri, request.subscribe, context)
            return ResourceOutput(contents=[])
        if isinstance(request, ResourceRead):
            assert isinstance(connector, OffersResources) and request.local_uri is not None
            return await connector.read_resource(request.local_uri, context)
        if isinstance(request, PromptGet):
            assert isinstance(connector, OffersPrompts) and request.prompt is not None
            return await connector.get_prompt(request.prompt.spec.name, request.arguments, context)
        assert isinstance(request, Completion) and request.local_ref is not None
        if not isinstance(connector, OffersCompletion):  # nothing to offer is a valid answer
            return CompletionOutput(values=[])
        return await connector.complete(
            request.local_ref, request.argument, request.value, request.arguments, context
        )
    except NotConnected:  # a renewal the upstream asked for could not be made: the user connects again
        raise
    except MissingCredential as exc:
        raise CredentialsMissing(exc.message) from exc
    except mcp.ToolQuarantined as exc:  # found on this call, before the catalog caught up
        raise ToolQuarantined(exc.message) from exc
    except errors.UnknownResource as exc:
        raise UnknownResource(exc.message, audit_message="unknown resource") from exc
    except errors.UnknownPrompt as exc:
        raise UnknownPrompt(exc.message) from exc
    except errors.InvalidRequest as exc:
        raise InvalidParams(exc.message) from exc
    except errors.ConnectorError as exc:  # connectors clean their own errors; this guards every kind alike
        raise UpstreamFailure(scrubber(*request.secrets.values()).text(exc.message)) from exc
    except Exception as exc:  # the boundary: nothing raised below the pipeline reaches a client raw
        kind = type(exc).__name__
        # Its text may carry argument values or injected credentials: neither logged nor shown.
        log.error("request %s: upstream '%s' failed unexpectedly (%s)", request.request_id, name, kind)
        raise UpstreamFailure(
            f"upstream '{name}' could not be called ({kind}); "
            f"the gateway log has request {request.request_id}"
        ) from None
