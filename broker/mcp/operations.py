"""The MCP handlers for resources, prompts and completion, built per caller from the snapshot.

Lists (resources/list, resources/templates/list, prompts/list) are the caller's view of the
snapshot, paginated with opaque cursors. resources/read, prompts/get and completion/complete
each run the one pipeline as their own request value (broker.pipeline.call), so policy,
masking, cache, audit and credentials apply to them as to tool calls. Our error tree maps
to JSON-RPC here: what the caller got wrong (an unknown or hidden resource or prompt, a
denied or invalid argument) is -32602, anything else -32603 with a message fit to show.

URIs in answers are the ones clients read by (`broker://<connector>/...`, broker/uris.py, or
the upstream's own for a connector with `prefix: false`): the contents of a read and the
resources embedded in or linked from prompt messages are mapped from the upstream's URIs, so
a client can read back whatever it was given.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from broker.catalog import Snapshot
from broker.connections import NotConnected
from broker.errors import (
    InvalidArguments,
    InvalidParams,
    ToolCallError,
    ToolDenied,
    UnknownPrompt,
    UnknownResource,
)
from broker.mcp.channel import LogLevels, McpClientChannel
from broker.mcp.connect import connect_error
from broker.mcp.context import LIST_TTL_MS, bypasses_cache, caller, narrowing
from broker.mcp.pages import paginate
from broker.mcp.subscriptions import Subscriptions
from broker.offerings import shown_uri
from broker.pipeline import (
    Completion,
    Next,
    PromptGet,
    Request,
    ResourceRead,
    ResourceUnwatch,
    ResourceWatch,
)
from broker.pipeline.authorize import Authorize
from broker.telemetry.logs import current_request_id
from connectors.base import CompletionOutput, Output, PromptOutput, ResourceOutput

_CALLER_ERRORS = (UnknownResource, UnknownPrompt, ToolDenied, InvalidArguments, InvalidParams)
Handlers = dict[str, Any]


def catalog_handlers(
    snapshot: Callable[[], Snapshot],
    pipeline: Next,
    levels: LogLevels,
    subscriptions: Subscriptions | None = None,
) -> Handlers:
    """The `Server` constructor arguments for resources/*, prompts/* and completion/complete;
    `subscriptions` relays resources/subscribe (without it a subscription is checked only)."""

    async def run(request: Request) -> Output:
        client = request.channel  # MaskPII wraps the request's channel on the way
        try:
            return await pipeline(request)
        except NotConnected as exc:
            raise connect_error(exc, client) from None
        except ToolCallError as exc:
            code = types.INVALID_PARAMS if isinstance(exc, _CALLER_ERRORS) else types.INTERNAL_ERROR
            raise MCPError(code, exc.message) from None

    async def on_list_resources(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        items = snapshot().visible_resources(caller(), narrowing(ctx))
        page, cursor = paginate(items, params.cursor if params else None, "resources")
        return types.ListResourcesResult(
            resources=page, next_cursor=cursor, ttl_ms=LIST_TTL_MS, cache_scope="private"
        )

    async def on_list_resource_templates(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        items = snapshot().visible_templates(caller(), narrowing(ctx))
        page, cursor = paginate(items, params.cursor if params else None, "resources/templates")
        return types.ListResourceTemplatesResult(
            resource_templates=page, next_cursor=cursor, ttl_ms=LIST_TTL_MS, cache_scope="private"
        )

    async def on_read_resource(
        ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        read = ResourceRead(
            request_id=current_request_id() or str(uuid.uuid4()),
            agent=caller(),
            snapshot=snapshot(),
            only_connectors=narrowing(ctx),
            cache_bypass=bypasses_cache(params.meta),
            channel=McpClientChannel(ctx, levels),
            uri=params.uri,
        )
        output = await run(read)
        assert isinstance(output, ResourceOutput) and read.connector is not None
        show = _shown_uri(read.snapshot, read.connector)
        contents = [_namespaced_content(show, item) for item in output.contents]
        return types.ReadResourceResult.model_validate(
            {"contents": contents, **_meta(output.meta), "ttlMs": 0, "cacheScope": "private"}
        )

    def watch(ctx: ServerRequestContext[Any], uri: str, subscribe: bool) -> ResourceWatch:
        kind = ResourceWatch if subscribe else ResourceUnwatch
        return kind(
            request_id=current_request_id() or str(uuid.uuid4()),
            agent=caller(),
            snapshot=snapshot(),
            only_connectors=narrowing(ctx),
            channel=McpClientChannel(ctx, levels),
            uri=uri,
        )

    async def on_subscribe_resource(
        ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        request = watch(ctx, params.uri, True)
        if subscriptions is None or not await subscriptions.subscribe(ctx, request, run):
            _checked(request)
        return types.EmptyResult()

    async def on_unsubscribe_resource(
        ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        request = watch(ctx, params.uri, False)
        _checked(request)
        if subscriptions is not None:
            await subscriptions.unsubscribe(ctx, request, run)
        return types.EmptyResult()

    async def on_list_prompts(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        items = snapshot().visible_prompts(caller(), narrowing(ctx))
        page, cursor = paginate(items, params.cursor if params else None, "prompts")
        return types.ListPromptsResult(
            prompts=page, next_cursor=cursor, ttl_ms=LIST_TTL_MS, cache_scope="private"
        )

    async def on_get_prompt(
        ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        get = PromptGet(
            request_id=current_request_id() or str(uuid.uuid4()),
            agent=caller(),
            snapshot=snapshot(),
            only_connectors=narrowing(ctx),
            channel=McpClientChannel(ctx, levels),
            name=params.name,
            arguments=dict(params.arguments or {}),
        )
        output = await run(get)
        assert isinstance(output, PromptOutput) and get.connector is not None
        show = _shown_uri(get.snapshot, get.connector)
        messages = [
            {**message, "content": _namespaced_block(show, message.get("content") or {})}
            for message in output.messages
        ]
        fields: dict[str, Any] = {"messages": messages, **_meta(output.meta)}
        if output.description is not None:
            fields["description"] = output.description
        return types.GetPromptResult.model_validate(fields)

    async def on_completion(
        ctx: ServerRequestContext[Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        ref = params.ref
        is_prompt = isinstance(ref, types.PromptReference)
        completion = Completion(
            request_id=current_request_id() or str(uuid.uuid4()),
            agent=caller(),
            snapshot=snapshot(),
            only_connectors=narrowing(ctx),
            channel=McpClientChannel(ctx, levels),
            ref_kind="prompt" if is_prompt else "resource",
            ref_name=ref.name if isinstance(ref, types.PromptReference) else ref.uri,
            argument=params.argument.name,
            value=params.argument.value,
            arguments=dict(params.context.arguments or {}) if params.context else {},
        )
        output = await run(completion)
        assert isinstance(output, CompletionOutput)
        return types.CompleteResult.model_validate(
            {
                "completion": {
                    "values": list(output.values)[:100],
                    "total": output.total,
                    "hasMore": output.has_more,
                },
                **_meta(output.meta),
            }
        )

    return {
        "on_list_resources": on_list_resources,
        "on_list_resource_templates": on_list_resource_templates,
        "on_read_resource": on_read_resource,
        "on_subscribe_resource": on_subscribe_resource,
        "on_unsubscribe_resource": on_unsubscribe_resource,
        "on_list_prompts": on_list_prompts,
        "on_get_prompt": on_get_prompt,
        "on_completion": on_completion,
    }


def _checked(read: ResourceRead) -> None:
    """A subscription is allowed exactly when a read would be: Authorize's resource rules."""
    try:
        Authorize.resolve_resource(read)
    except UnknownResource as exc:
        raise MCPError(types.INVALID_PARAMS, exc.message) from None


def _meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The upstream's `_meta`, preserved."""
    return {"_meta": dict(meta)} if meta else {}


def _shown_uri(snapshot: Snapshot, connector: str) -> Callable[[str], str]:
    """How a connector's local URIs are shown: in its namespace, or verbatim (`prefix: false`)."""
    return shown_uri(connector, snapshot.connectors.get(connector))


def _namespaced_content(show: Callable[[str], str], item: Mapping[str, Any]) -> dict[str, Any]:
    uri = item.get("uri")
    return {**item, "uri": show(uri)} if isinstance(uri, str) else dict(item)


def _namespaced_block(show: Callable[[str], str], block: Mapping[str, Any]) -> dict[str, Any]:
    """An embedded resource or a resource link points at the URI the client reads it by."""
    kind = block.get("type")
    if kind == "resource" and isinstance(block.get("resource"), Mapping):
        return {**block, "resource": _namespaced_content(show, block["resource"])}
    if kind == "resource_link":
        return _namespaced_content(show, block)
    return dict(block)
