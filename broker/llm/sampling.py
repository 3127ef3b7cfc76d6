"""Sampling requests of upstream MCP tools, answered by the gateway's own LLM proxy.

When an agent's policy has a `sampling` section (`policies/sampling.py`), an upstream tool's
`sampling/createMessage` becomes a chat completion of the agent, through the proxy's own chain:
the model policy decides the section's model for the agent, the guardrails check (and mask)
the prompt, budgets and rate limits admit it, the route's targets answer it with retries and
fallbacks, the output guardrails filter the answer, and the call is settled and written to the
ledger as the agent's usage (`endpoint` "sampling", with the `connector` and `tool` that
asked). The prompt arrives already masked by the tool path's MaskPII, like everything the
gateway sends towards a client.

Whatever stops it (no such model, denied, blocked, over budget, provider down) becomes a
`ClientRequestRefused` naming why, which the upstream receives as its request's error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from broker.errors import BrokerError
from broker.guard.answers import guard_render
from broker.llm.errors import BadRequest
from broker.llm.metering import ModelCall
from broker.llm.whole import complete_whole
from broker.pipeline.call import ToolCall
from connectors.base import ClientRequestRefused
from policies import SamplingRule

if TYPE_CHECKING:
    from broker.llm.proxy import LlmProxy

_STOP_REASONS = {"stop": "endTurn", "length": "maxTokens", "tool_calls": "toolUse"}


class SamplingServer:
    def __init__(self, proxy: LlmProxy) -> None:
        self.proxy = proxy

    async def sample(
        self, asker: ToolCall, rule: SamplingRule, params: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """The `CreateMessageResult` (as JSON) for the sampling request of the upstream that
        `asker` (the tool call running) reached."""
        proxy = self.proxy
        call = ModelCall(asker.request_id, asker.agent, "sampling", time.perf_counter(), datetime.now(UTC))
        call.connector, call.tool = asker.connector, asker.tool_name
        try:
            body, max_tokens = chat_request(params, rule.max_tokens)
            proxy.authorize(call, rule.serve_with)
            if proxy.guard is not None:
                await proxy.guard_prompt(call, body)
            answer = await complete_whole(proxy, call, body, {}, max_tokens)
            render = guard_render(call.output, "openai")
            if render is not None:
                answer = render(answer)
            return sampling_result(answer, rule.serve_with)
        except BrokerError as exc:
            call.failed(exc)
            raise ClientRequestRefused(
                f"the gateway did not answer this sampling request for agent '{asker.agent.name}' "
                f"with model '{rule.serve_with}' (policy '{rule.policy}'): {exc.message}"
            ) from None
        except asyncio.CancelledError:
            call.status, call.http_status = "client_closed", 499
            raise
        finally:
            if call.output is not None:
                call.guardrails.extend(verdict.as_dict() for verdict in call.output.verdicts)
            await proxy.metering.finish(call)


def chat_request(params: Mapping[str, Any], cap: int) -> tuple[dict[str, Any], int]:
    """A chat completion body for MCP `CreateMessageRequestParams` (JSON), and its max tokens."""
    if params.get("tools") or params.get("toolChoice"):
        raise BadRequest("the gateway answers sampling requests without tools; ask without 'tools'")
    messages: list[dict[str, Any]] = []
    system = params.get("systemPrompt")
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    raw = params.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("a sampling request needs at least one message")
    for index, message in enumerate(raw):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise BadRequest(f"messages[{index}]: the role must be 'user' or 'assistant'")
        messages.append({"role": role, "content": _content(message.get("content"), index)})
    asked = params.get("maxTokens")
    max_tokens = min(asked, cap) if isinstance(asked, int) and asked > 0 else cap
    body: dict[str, Any] = {"messages": messages, "max_tokens": max_tokens}
    temperature = params.get("temperature")
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
        body["temperature"] = temperature
    stop = params.get("stopSequences")
    if isinstance(stop, list) and stop:
        body["stop"] = [str(s) for s in stop]
    return body, max_tokens


def _content(content: Any, index: int) -> str | list[dict[str, Any]]:
    blocks = content if isinstance(content, list) else [content]
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            url = f"data:{block.get('mimeType', 'image/png')};base64,{block.get('data', '')}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            raise BadRequest(
                f"messages[{index}]: the gateway answers text and image content only, not {kind or 'this'}"
            )
    if len(parts) == 1 and parts[0]["type"] == "text":
        text: str = parts[0]["text"]
        return text
    return parts


def sampling_result(answer: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The chat completion's first choice as an MCP `CreateMessageResult`."""
    choices = answer.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        text = ""
    reason = choice.get("finish_reason")
    result: dict[str, Any] = {
        "role": "assistant",
        "content": {"type": "text", "text": text},
        "model": model,
    }
    if isinstance(reason, str):
        result["stopReason"] = _STOP_REASONS.get(reason, reason)
    return result
