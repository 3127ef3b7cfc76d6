"""The pipeline: the stages in request order, in this one list, for every upstream operation.

A tool call, a resource read, a prompt get and a completion (`broker.pipeline.call`) all
travel through the same stages; each stage knows what it does for each kind. Responses
unwind in reverse. Later stages slot in where DESIGN.md places them:
Audit → Authorize → ValidateArguments → RateLimit → Cache → ServeSampling → MaskPII
→ InjectCredentials → Resilience → dispatch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial
from time import perf_counter

from opentelemetry.trace import SpanKind, Tracer

from broker.metrics import StageClock, StageTimes
from broker.pipeline.audit import Audit
from broker.pipeline.authorize import Authorize
from broker.pipeline.call import (
    Completion,
    Next,
    PromptGet,
    Request,
    ResourceRead,
    ResourceUnwatch,
    ResourceWatch,
    Stage,
    ToolCall,
)
from broker.pipeline.credentials import InjectCredentials
from broker.pipeline.dispatch import dispatch
from broker.pipeline.mask import MaskPII
from broker.pipeline.resilience import Resilience
from broker.pipeline.validate import ValidateArguments
from connectors.base import Output


def request_pipeline(
    audit: Audit,
    mask: MaskPII,
    credentials: InjectCredentials,
    resilience: Resilience,
    cache: Stage | None = None,
    sampling: Stage | None = None,
    stage_seconds: StageTimes | None = None,
    tracer: Tracer | None = None,
) -> Next:
    """The stage order, once. `cache` is the Cache stage (broker.cache), None when it is off;
    `sampling` the ServeSampling stage (broker.pipeline.sampling), None without an LLM proxy."""
    stages: list[Stage] = [
        audit,
        Authorize(),
        ValidateArguments(),
        *([cache] if cache is not None else []),  # after Authorize: a hit is never served to a refused call
        *([sampling] if sampling is not None else []),  # before MaskPII: sampling prompts arrive masked
        mask,  # inside Cache: only masked results are stored; tokens resolved after the cache key
        credentials,  # clear secret values exist only from here to the upstream
        resilience,  # innermost: a breaker per connector; each retry is one upstream call, nothing more
    ]
    if tracer is not None:
        return chain(
            [TracedStage(stage, tracer) for stage in stages], traced_terminal(dispatch, tracer), stage_seconds
        )
    return chain(stages, dispatch, stage_seconds)


def chain(stages: Sequence[Stage], terminal: Next, stage_seconds: StageTimes | None = None) -> Next:
    """Compose stages so that stages[0] runs first and `terminal` last. With `stage_seconds`
    (labelled by stage) each stage's time is observed, the stages inside it included."""
    handler = terminal
    if stage_seconds is not None:
        handler = partial(_timed_terminal, terminal, stage_seconds, stage_seconds.labels("upstream"))
    for stage in reversed(stages):
        if stage_seconds is None:
            handler = partial(_step, stage, handler)
        else:
            clock = stage_seconds.labels(_stage_name(stage))
            handler = partial(_timed, stage, handler, stage_seconds, clock)
    return handler


async def _step(stage: Stage, call_next: Next, request: Request) -> Output:
    return await stage(request, call_next)


async def _timed(
    stage: Stage, call_next: Next, times: StageTimes, clock: StageClock, request: Request
) -> Output:
    started = perf_counter()
    try:
        return await stage(request, call_next)
    finally:
        times.observe(clock, perf_counter() - started)


async def _timed_terminal(terminal: Next, times: StageTimes, clock: StageClock, request: Request) -> Output:
    started = perf_counter()
    try:
        return await terminal(request)
    finally:
        times.observe(clock, perf_counter() - started)


class TracedStage:
    """A stage inside a span of its own (tracing on only): `stage <name>`."""

    def __init__(self, stage: Stage, tracer: Tracer) -> None:
        self.stage = stage
        self.tracer = tracer
        self.span_name = f"stage {_stage_name(stage)}"

    async def __call__(self, request: Request, call_next: Next) -> Output:
        with self.tracer.start_as_current_span(self.span_name) as span:
            span.set_attribute("broker.operation", request.operation)
            return await self.stage(request, call_next)


def traced_terminal(terminal: Next, tracer: Tracer) -> Next:
    async def upstream(request: Request) -> Output:
        with tracer.start_as_current_span("upstream", kind=SpanKind.CLIENT) as span:
            span.set_attribute("broker.connector", request.connector or "")
            return await terminal(request)

    return upstream


def _stage_name(stage: Stage) -> str:
    if isinstance(stage, TracedStage):
        stage = stage.stage
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", type(stage).__name__).lower()  # MaskPII: mask_pii


__all__ = [
    "Completion",
    "Next",
    "PromptGet",
    "Request",
    "ResourceRead",
    "ResourceUnwatch",
    "ResourceWatch",
    "Stage",
    "ToolCall",
    "chain",
    "request_pipeline",
]
