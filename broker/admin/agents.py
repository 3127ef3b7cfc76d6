"""/admin/agents: the agents that connect over MCP, and their API keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from broker.admin.runtime import admin_subrouter, read, utc, write
from broker.documents import Slug
from broker.services import agents as agent_service
from broker.services.revision import now
from broker.store.models import Agent, ApiKey

router = admin_subrouter("agents")

KEY_WARNING = "This is the only time the key is shown: store it now. The gateway keeps only its hash."
MAX_GRACE_SECONDS = 30 * 24 * 3600


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Slug = Field(description="Unique agent name; policies and audit records use it.")
    team: Slug | None = Field(
        default=None, description="Team the agent belongs to; policies may grant by team."
    )
    description: str = Field(default="", max_length=2000, description="Free text for operators.")


class AgentUpdate(BaseModel):
    """Fields to change; absent fields stay as they are. `team: null` removes the team."""

    model_config = ConfigDict(extra="forbid")

    team: Slug | None = Field(default=None, description="New team, or null to remove it.")
    description: str | None = Field(default=None, max_length=2000)
    enabled: bool | None = Field(default=None, description="false disables the agent: its keys stop working.")


class KeyInfo(BaseModel):
    """An API key's metadata. The key itself is never shown again after creation."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prefix: str = Field(description="The key's first characters, to tell keys apart (e.g. in audit).")
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    status: Literal["active", "expired", "revoked"]


class IssuedKey(KeyInfo):
    key: str = Field(description="The clear key: shown this once, store it now.")
    warning: str = KEY_WARNING


class RotatedKey(IssuedKey):
    replaced: KeyInfo = Field(description="The old key: revoked now, or expiring after the grace period.")


class AgentInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    team: str | None
    description: str
    enabled: bool
    created_at: datetime
    active_keys: int = Field(description="Keys that are neither revoked nor expired.")


class AgentDetail(AgentInfo):
    keys: list[KeyInfo]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(
        default="", max_length=64, description="What the key is for, e.g. where it is deployed."
    )
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Expire the key after this many days."
    )


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_GRACE_SECONDS,
        description="Keep the old key working this long so clients can switch; 0 revokes it at once.",
    )


def key_info(key: ApiKey) -> KeyInfo:
    expires_at, revoked_at = utc(key.expires_at), utc(key.revoked_at)
    status: Literal["active", "expired", "revoked"] = "active"
    if revoked_at is not None:
        status = "revoked"
    elif expires_at is not None and expires_at <= now():
        status = "expired"
    return KeyInfo(
        id=key.id,
        prefix=key.prefix,
        label=key.label,
        created_at=utc(key.created_at),
        expires_at=expires_at,
        revoked_at=revoked_at,
        status=status,
    )


def agent_info(agent: Agent) -> AgentInfo:
    return AgentInfo(
        name=agent.name,
        team=agent.team,
        description=agent.description,
        enabled=agent.enabled,
        created_at=utc(agent.created_at),
        active_keys=sum(key_info(k).status == "active" for k in agent.keys),
    )


def agent_detail(agent: Agent) -> AgentDetail:
    keys = sorted(agent.keys, key=lambda k: utc(k.created_at))
    return AgentDetail(**agent_info(agent).model_dump(), keys=[key_info(k) for k in keys])


def issued(result: agent_service.IssuedKey) -> IssuedKey:
    return IssuedKey(**key_info(result.record).model_dump(), key=result.key)


@router.get("/agents", summary="List agents")
async def list_agents(request: Request) -> list[AgentInfo]:
    return await read(request, lambda s: [agent_info(a) for a in agent_service.list_agents(s)])


@router.post("/agents", status_code=201, summary="Create an agent")
async def create_agent(request: Request, body: AgentCreate) -> AgentDetail:
    def create(session: Session) -> AgentDetail:
        agent = agent_service.create_agent(session, body.name, team=body.team, description=body.description)
        return agent_detail(agent)

    return await write(request, create)


@router.get("/agents/{name}", summary="Show an agent and its keys")
async def show_agent(request: Request, name: str) -> AgentDetail:
    return await read(request, lambda s: agent_detail(agent_service.get_agent(s, name)))


@router.patch("/agents/{name}", summary="Change an agent's team or description, or disable/enable it")
async def update_agent(request: Request, name: str, body: AgentUpdate) -> AgentDetail:
    def update(session: Session) -> AgentDetail:
        agent = agent_service.update_agent(
            session,
            name,
            team=body.team,
            clear_team="team" in body.model_fields_set and body.team is None,
            description=body.description,
            enabled=body.enabled,
        )
        return agent_detail(agent)

    return await write(request, update)


@router.delete("/agents/{name}", status_code=204, summary="Delete an agent and its keys")
async def delete_agent(request: Request, name: str) -> Response:
    await write(request, lambda s: agent_service.delete_agent(s, name))
    return Response(status_code=204)


@router.post("/agents/{name}/keys", status_code=201, summary="Create an API key (shown once)")
async def create_key(request: Request, name: str, body: KeyCreate | None = None) -> IssuedKey:
    options = body or KeyCreate()
    expires_at = now() + timedelta(days=options.expires_in_days) if options.expires_in_days else None

    def create(session: Session) -> IssuedKey:
        return issued(agent_service.create_key(session, name, label=options.label, expires_at=expires_at))

    return await write(request, create)


@router.get("/agents/{name}/keys", summary="List an agent's keys (never the keys themselves)")
async def list_keys(request: Request, name: str) -> list[KeyInfo]:
    return await read(request, lambda s: [key_info(k) for k in agent_service.list_keys(s, name)])


@router.post("/agents/{name}/keys/{key_id}/revoke", summary="Revoke a key at once")
async def revoke_key(request: Request, name: str, key_id: str) -> KeyInfo:
    return await write(request, lambda s: key_info(agent_service.revoke_key(s, name, key_id)))


@router.post("/agents/{name}/keys/{key_id}/rotate", summary="Replace a key with a new one (shown once)")
async def rotate_key(request: Request, name: str, key_id: str, body: KeyRotate | None = None) -> RotatedKey:
    grace = (body or KeyRotate()).grace_seconds

    def rotate(session: Session) -> RotatedKey:
        result = agent_service.rotate_key(session, name, key_id, grace_seconds=grace)
        session.flush()
        old = agent_service.get_key(session, name, key_id)
        return RotatedKey(**issued(result).model_dump(), replaced=key_info(old))

    return await write(request, rotate)
