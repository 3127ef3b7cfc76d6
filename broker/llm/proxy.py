"""The /v1 face of the gateway: an OpenAI-compatible API (and Anthropic's Messages API).

A plain ASGI app, mounted before MCP, so a call pays for no framework routing or validation
it does not need. Every model call runs the same short chain:

    authenticate (agent key from the in-memory snapshot, or an OAuth token: broker/identity)
    → resolve the model name and check the model policy
    → admit: budgets and rate limits reserve the worst case
    → upstream: the route's targets with retries and fallbacks
    → relay the answer (a stream chunk by chunk) while metering it
    → settle, ledger, metrics

The endpoint modules (openai_api, anthropic_api) supply the body rewriting and usage reading.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from broker import jsonbody
from broker.catalog import AgentIdentity, Snapshot
from broker.errors import BrokerError, Unauthorized
from broker.guard import classifier
from broker.guard.engine import Guard, plan_of
from broker.identity import Authenticator
from broker.llm import anthropic_api, openai_api, responses_api
from broker.llm.accounts import Rules
from broker.llm.asgi import (
    ClientDisconnected,
    Dialect,
    Exchange,
    header_map,
    read_body,
    send_error,
    send_json,
)
from broker.llm.bodies import BodyBudget
from broker.llm.catalog import Route, Target
from broker.llm.errors import (
    BadRequest,
    GuardrailBlocked,
    GuardrailUnavailable,
    InternalError,
    ModelDenied,
    ModelNotFound,
    UpstreamError,
)
from broker.llm.metering import Metering, ModelCall
from broker.llm.semantic.cache import SemanticCache
from broker.llm.state import LlmState
from broker.llm.toolloop import GatewayTools
from broker.llm.upstream import Opened, RetryPolicy, open_upstream
from broker.resilience import Breakers
from broker.telemetry.logs import current_request_id
from policies import ModelGrants, PolicySet
from policies.guardrails import ClassifierRule

GUARDED = frozenset({"chat", "messages", "responses"})
"""Endpoints whose prompts and answers the guardrails see (embeddings carry no conversation)."""

log = logging.getLogger("broker.llm.proxy")

CallHandler = Callable[["LlmProxy", Exchange, ModelCall, dict[str, Any], int], Awaitable[None]]


class ProxyFirst:
    """ASGI middleware, in the gateway's front (broker/app.py): /v1/ requests go straight to the
    proxy, before the framework (its routing, matching dozens of admin routes, would cost more
    than the proxy itself; its telemetry, error and body-limit layers ~4% of a model call's
    instructions) and before the MCP fast path's screening."""

    def __init__(self, app: ASGIApp, proxy: LlmProxy) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            await self.proxy(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class LlmProxy:
    def __init__(
        self,
        *,
        tool_snapshot: Callable[[], Snapshot],
        identity: Authenticator,
        state: LlmState,
        metering: Metering,
        retry: RetryPolicy,
        breakers: Breakers,
        max_request_bytes: int,
        max_inflight_bytes: int,
        guard: Guard | None = None,
        gateway_tools: GatewayTools | None = None,
        semantic: SemanticCache | None = None,
    ) -> None:
        self.semantic = semantic
        self.guard = guard
        self.gateway_tools = gateway_tools
        self.tool_snapshot = tool_snapshot
        self.identity = identity
        self.state = state
        self.metering = metering
        self.retry = retry
        self.breakers = breakers
        self.max_request_bytes = max_request_bytes
        self.bodies = BodyBudget(max_inflight_bytes)
        self._grants: ModelGrants | None = None
        self._calls: dict[str, tuple[CallHandler, str, Dialect]] = {
            "/v1/chat/completions": (openai_api.chat_completions, "chat", "openai"),
            "/v1/embeddings": (openai_api.embeddings, "embeddings", "openai"),
            "/v1/messages": (anthropic_api.messages, "messages", "anthropic"),
            "/v1/responses": (responses_api.responses, "responses", "openai"),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        found = self._calls.get(path)
        exchange = Exchange(scope, receive, send, header_map(scope), found[2] if found else "openai")
        try:
            if found is not None and method == "POST":
                await self._model_call(exchange, *found)
            elif method == "GET" and (path == "/v1/models" or path.startswith("/v1/models/")):
                await self._models(exchange, path.removeprefix("/v1/models").lstrip("/"))
            elif found is not None:
                raise BadRequest(f"{path} takes POST")
            else:
                raise ModelNotFound(f"no endpoint {method} {path}; this gateway serves /v1/chat/completions, "
                                    "/v1/embeddings, /v1/responses, /v1/models and /v1/messages")  # fmt: skip
        except BrokerError as exc:
            if not exchange.started:
                await send_error(exchange.send, exc, exchange.dialect, challenge=self.identity.challenge(exc))
        except Exception:  # /v1 comes before the framework's error middleware: this is its 500
            log.exception("unexpected error on %s %s", method, path)
            if not exchange.started:
                failed = InternalError("the gateway failed unexpectedly; its log has the request id")
                await send_error(exchange.send, failed, exchange.dialect)

    # --- the chain -------------------------------------------------------------------------

    async def authenticate(self, headers: dict[str, str]) -> AgentIdentity:
        """An agent key or OAuth access token from `Authorization: Bearer` or `x-api-key`."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            token = headers.get("x-api-key", "")
        if not token:
            raise Unauthorized("send an agent key as 'Authorization: Bearer tbk_...' (or in x-api-key)")
        agent = self.identity.agent_key(token)  # the common case, without a coroutine
        return agent if agent is not None else await self.identity.caller(token)

    def grants(self) -> ModelGrants:
        policy_set: PolicySet = self.tool_snapshot().policy_set
        if self._grants is None or self._grants.policy_set is not policy_set:
            self._grants = ModelGrants(policy_set)
        return self._grants

    def authorize(self, call: ModelCall, model: Any) -> Route:
        if not isinstance(model, str) or not model:
            raise BadRequest("'model' is required: a model name from GET /v1/models")
        call.model = model
        route = self.state.snapshot.resolve(model)
        if route is None:
            raise ModelNotFound(f"model '{model[:200]}' is not served here; GET /v1/models lists your models")
        call.route = route
        decision = self.grants().decide(call.agent.subject, route.names)
        if not decision.allowed:
            raise ModelDenied(decision.reason)
        return route

    def rules_for(self, agent: AgentIdentity) -> Rules:
        return self.state.snapshot.rules_for(agent)

    async def open(
        self,
        call: ModelCall,
        route: Route,
        body_for: Callable[[Target], bytes],
        headers: dict[str, str],
        endpoint: str | None = None,
    ) -> Opened:
        """The route's first target that answers; `endpoint` is the upstream API when it is not
        the call's own (a sampling request is a chat completion upstream)."""
        try:
            opened = await open_upstream(
                route.targets, endpoint or call.endpoint, body_for, headers, self.retry, self.breakers
            )
        except UpstreamError as exc:
            call.attempts = exc.attempts
            raise
        call.target, call.attempts = opened.target, opened.attempts
        return opened

    async def _model_call(self, exchange: Exchange, handler: CallHandler, endpoint: str, _: Dialect) -> None:
        agent = await self.authenticate(exchange.headers)
        call = ModelCall(
            current_request_id() or uuid.uuid4().hex, agent, endpoint, time.perf_counter(), datetime.now(UTC)
        )
        body = b""
        try:
            body = await read_body(exchange.receive, exchange.headers, self.max_request_bytes, self.bodies)
            payload = jsonbody.loads(body)
            if not isinstance(payload, dict):
                raise BadRequest("the request body must be a JSON object")
            call.stream = payload.get("stream") is True
            self.authorize(call, payload.get("model"))
            if endpoint in GUARDED and self.guard is not None:
                await self.guard_prompt(call, payload, exchange.headers)
            await handler(self, exchange, call, payload, len(body))
        except BrokerError as exc:
            call.failed(exc)
            if not exchange.started:
                challenge = self.identity.challenge(exc)
                await send_error(exchange.send, exc, exchange.dialect, call.request_id, challenge)
        except ClientDisconnected:
            call.status, call.http_status = "client_closed", 499
        except asyncio.CancelledError:
            call.status, call.http_status = "client_closed", 499
            raise
        finally:
            self.bodies.give_back(len(body))
            if call.output is not None:
                call.guardrails.extend(verdict.as_dict() for verdict in call.output.verdicts)
            await self.metering.finish(call)

    async def guard_prompt(
        self, call: ModelCall, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        """The agent's guardrails on the prompt (masking it in place); a block ends the call here,
        before any reservation or upstream request."""
        assert self.guard is not None
        policy_set = self.tool_snapshot().policy_set
        plan = plan_of(policy_set, call.agent)
        if plan is None:
            return

        async def classify(rule: ClassifierRule, text: str) -> float:
            return await classifier.classify(self, call, rule, text, headers or {})

        try:
            inspection = await self.guard.inspect(plan, policy_set, call.agent, payload, classify)
        except (GuardrailBlocked, GuardrailUnavailable) as exc:
            call.guardrails.append(exc.guardrail)
            raise
        call.guardrails.extend(verdict.as_dict() for verdict in inspection.verdicts)
        if inspection.output.active:
            call.output = inspection.output

    async def _models(self, exchange: Exchange, wanted: str) -> None:
        agent = await self.authenticate(exchange.headers)
        grants, snapshot = self.grants(), self.state.snapshot
        subject = agent.subject
        data = [
            {"id": route.names[0], "object": "model", "created": 0, "owned_by": route.owned_by}
            for route in snapshot.listed
            if grants.decide(subject, route.names).allowed
        ]
        if not wanted:
            await send_json(exchange.send, 200, {"object": "list", "data": data})
            return
        route = snapshot.resolve(wanted)
        if route is None or not grants.decide(subject, route.names).allowed:
            raise ModelNotFound(f"model '{wanted[:200]}' is not one of yours; GET /v1/models lists them")
        owned = route.owned_by
        await send_json(
            exchange.send, 200, {"id": wanted, "object": "model", "created": 0, "owned_by": owned}
        )
