"""/admin/cache: what the tool-result cache holds, and dropping entries.

With the in-process store each instance has its own cache, and these answer for the instance
that serves the request; with Redis (BROKER_REDIS_URL) they act on the cache all share.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from broker.admin.auth import gateway_of
from broker.admin.runtime import admin_subrouter, read
from broker.services import agents as agent_service

router = admin_subrouter("cache")


class CacheStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: str = Field(description="memory, redis, or off.")
    entries: int = Field(description="Entries held now (live ones).")
    bytes: int = Field(description="Their size as stored (compact JSON).")
    by_tool: dict[str, int] = Field(description="Entries per tool.")
    max_entries: int | None = Field(default=None, description="In-process bound on entries.")
    max_bytes: int | None = Field(default=None, description="In-process bound on bytes.")
    lookups: dict[str, int] = Field(
        default_factory=dict,
        description="Calls by cache status on this instance since it started: hit, miss, bypass, "
        "uncacheable, coalesced.",
    )
    evictions: int = Field(default=0, description="Live entries evicted to stay within the bounds.")


class PurgeRequest(BaseModel):
    """Which entries to drop: a tool's, an agent's own (not shared ones), both, or (empty) all."""

    model_config = ConfigDict(extra="forbid")

    tool: str | None = Field(default=None, max_length=200, description="A tool's qualified name.")
    agent: str | None = Field(default=None, max_length=64, description="An agent's name.")


class PurgeResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purged: int = Field(description="Entries dropped.")


@router.get("/cache", summary="Tool-result cache statistics")
async def stats(request: Request) -> CacheStats:
    cache = gateway_of(request).cache
    if cache is None:
        return CacheStats(backend="off", entries=0, bytes=0, by_tool={})
    return CacheStats(**await cache.stats())


@router.post("/cache/purge", summary="Drop cached tool results")
async def purge(request: Request, body: PurgeRequest) -> PurgeResult:
    agent_id = None
    if body.agent is not None:
        name = body.agent
        agent_id = await read(request, lambda session: agent_service.get_agent(session, name).id)
    cache = gateway_of(request).cache
    if cache is None:
        return PurgeResult(purged=0)
    return PurgeResult(purged=await cache.purge(tool=body.tool, agent_id=agent_id))
