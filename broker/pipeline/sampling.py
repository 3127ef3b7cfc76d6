"""ServeSampling: the agent's policy may let the gateway answer an upstream's sampling requests.

For a tool call whose agent has a `sampling` policy section covering the tool
(`policies/sampling.py`), the call's client channel is wrapped so that a
`sampling/createMessage` from the upstream is answered by the gateway's LLM proxy
(`broker/llm/sampling.py`) instead of, or when it cannot be, relayed to the client. The stage
sits before MaskPII, whose channel wraps this one: the prompt is masked before the proxy sees it.
Every other call passes untouched (one memoised lookup).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any, Protocol

from broker.memo import Memo
from broker.pipeline.call import Next, Request, ToolCall
from connectors.base import ClientChannel, Output
from policies import PolicySet, SamplingRule, Subject, sampling_for

SAMPLING = "sampling/createMessage"
_MEMO_LIMIT = 4096
_rules: weakref.WeakKeyDictionary[PolicySet, Memo[tuple[str, str | None], SamplingRule | None]] = (
    weakref.WeakKeyDictionary()
)


def sampling_rule(policy_set: PolicySet, subject: Subject) -> SamplingRule | None:
    """The subject's effective sampling setting (a dictionary lookup when warm)."""
    memo = _rules.get(policy_set)
    if memo is None:
        memo = _rules[policy_set] = Memo(_MEMO_LIMIT)
    key = (subject.name, subject.team)
    if key not in memo:
        memo.keep(key, sampling_for(policy_set.policies, subject))
    return memo[key]


class Sampler(Protocol):
    """Answers a sampling request for the agent of `call` (`broker.llm.sampling.SamplingServer`),
    or raises `ClientRequestRefused` naming why not."""

    async def sample(
        self, call: ToolCall, rule: SamplingRule, params: Mapping[str, Any]
    ) -> Mapping[str, Any]: ...


class ServeSampling:
    def __init__(self) -> None:
        self.sampler: Sampler | None = None
        """Set by the LLM runtime once the proxy exists (None: no proxy, relay only)."""

    async def __call__(self, call: Request, call_next: Next) -> Output:
        if self.sampler is not None and isinstance(call, ToolCall):
            rule = sampling_rule(call.snapshot.policy_set, call.agent.subject)
            if rule is not None and rule.covers(call.tool_name):
                call.channel = ServedChannel(call.channel, rule, self, call)
        return await call_next(call)


class ServedChannel:
    """The calling client, with sampling answered by the gateway where the rule says so."""

    def __init__(
        self, inner: ClientChannel, rule: SamplingRule, stage: ServeSampling, call: ToolCall
    ) -> None:
        self._inner = inner
        self._rule = rule
        self._stage = stage
        self._call = call
        self.log_level = inner.log_level
        self.wants_progress = inner.wants_progress
        self.asks_on_stream = inner.asks_on_stream

    def serves(self, method: str) -> bool:
        """Whether the gateway itself answers `method` for this call."""
        if method != SAMPLING:
            return False
        inner = self._inner
        return self._rule.prefer == "gateway" or not (inner.can_ask(method) or inner.defers(method))

    def can_ask(self, method: str) -> bool:
        return method == SAMPLING or self._inner.can_ask(method)

    def defers(self, method: str) -> bool:
        return not self.serves(method) and self._inner.defers(method)

    def capabilities(self) -> Mapping[str, Any]:
        declared = self._inner.capabilities()
        if self.serves(SAMPLING):  # the gateway answers without tools: plain sampling
            return {**declared, "sampling": {}}
        return declared

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        await self._inner.progress(progress, total, message)

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        await self._inner.log(level, data, logger)

    async def ask(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        sampler = self._stage.sampler
        if not self.serves(method) or sampler is None:
            return await self._inner.ask(method, params)
        return await sampler.sample(self._call, self._rule, params)
