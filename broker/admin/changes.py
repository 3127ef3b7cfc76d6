"""The admin change log: every change made through /admin, with who made it and the resource
before and after, as the admin API itself shows it (so never a secret's value: no endpoint
returns one). GET /admin/changes reads it; `broker admin-log` prints it.

`ChangeLog` is an ASGI middleware around the app: for a changing request it reads the
resource (an in-process GET of the same path, or the nearest parent that answers), lets the
request run, and reads it again. A POST that creates something named in its answer
(`{"name": ...}`) is read at `<path>/<name>` afterwards. Refused attempts by a signed-in
caller are recorded too (with their status), unauthenticated ones are not.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.admin.auth import INTERNAL_READ
from broker.admin.runtime import admin_subrouter, read, utc
from broker.identity.roles import Actor, changes
from broker.store.models import AdminChange

log = logging.getLogger("broker.admin.changes")
MAX_SNAPSHOT_BYTES = 256 * 1024
MAX_RESPONSE_PEEK = 64 * 1024

router = admin_subrouter("changes")


class ChangeLog:
    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session]) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._watched(scope):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"].rstrip("/")
        target, before = await self._nearest(scope, path)
        status, peek, held = 0, bytearray(), []

        async def hold(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and len(peek) < MAX_RESPONSE_PEEK:
                peek.extend(message.get("body", b""))
            held.append(message)

        await self.app(scope, receive, hold)
        try:
            await self._record(scope, path, target, before, status, peek)
        finally:  # the answer goes out once the change is on record (read-your-writes)
            for message in held:
                await send(message)

    async def _record(
        self, scope: Scope, path: str, target: str | None, before: Any, status: int, peek: bytearray
    ) -> None:
        actor = scope.get("state", {}).get("admin_actor")
        if not isinstance(actor, Actor):
            return  # not signed in: nothing was changed, nobody to name
        after: Any = None
        sent = _content_length(scope)
        if status < 400 and sent > MAX_SNAPSHOT_BYTES:  # what it made is as big: not read back to be cut
            after = {"truncated": True, "bytes": sent}
        elif status < 400:
            created = _created_name(peek) if scope["method"] == "POST" else None
            found = await self._get(scope, f"{path}/{created}") if created else None
            if found is not None:
                before, after = None, found
            elif target is not None:
                after = await self._get(scope, target)
        change = AdminChange(
            ts=datetime.now(UTC),
            actor=actor.who[:300],
            role=actor.role,
            method=scope["method"],
            path=path[:500],
            status=status,
            before=before,
            after=after,
        )
        try:
            await asyncio.to_thread(self._store, change)
        except Exception:
            log.exception("could not record the admin change %s %s", change.method, change.path)

    def _watched(self, scope: Scope) -> bool:
        if scope["type"] != "http" or not scope["path"].startswith("/admin/"):
            return False
        if not changes(scope["method"], scope["path"]):
            return False
        return any(name == b"authorization" for name, _ in scope["headers"])

    def _store(self, change: AdminChange) -> None:
        with self.sessions.begin() as session:
            session.add(change)

    async def _nearest(self, scope: Scope, path: str) -> tuple[str | None, Any]:
        """The resource as it is now: the path itself, else its nearest parent below /admin/<area>."""
        candidate = path
        while candidate.count("/") >= 2:
            found = await self._get(scope, candidate)
            if found is not None:
                return candidate, found
            candidate = candidate.rsplit("/", 1)[0]
        return None, None

    async def _get(self, scope: Scope, path: str) -> Any:
        """An in-process GET through the admin API (authorised as the gateway's own read)."""
        inner: dict[str, Any] = {
            **{k: scope[k] for k in ("app", "server", "client", "scheme", "http_version") if k in scope},
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"gateway.internal")],
            "state": {},
            INTERNAL_READ: True,
        }
        status, body = 0, bytearray()

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(inner, receive, send)
        if status != 200:
            return None
        if len(body) > MAX_SNAPSHOT_BYTES:
            return {"truncated": True, "bytes": len(body)}
        try:
            return json.loads(body)
        except ValueError:
            return None


def _content_length(scope: Scope) -> int:
    value = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
    return int(value) if value.isdigit() else 0


def _created_name(peek: bytearray) -> str | None:
    try:
        answer = json.loads(peek)
    except ValueError:
        return None
    name = answer.get("name") if isinstance(answer, dict) else None
    return name if isinstance(name, str) and "/" not in name else None


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    ts: datetime
    actor: str = Field(description="'admin-token', or the signed-in operator (e-mail and subject).")
    role: str
    method: str
    path: str
    status: int = Field(description="The HTTP status the change got (4xx: refused, nothing changed).")
    before: Any = Field(description="The resource before, as GET showed it (null: it did not exist).")
    after: Any = Field(description="The resource after (null: deleted, or the change was refused).")


@router.get("/changes", summary="The admin change log, newest first")
async def list_changes(
    request: Request,
    limit: int = Query(50, ge=1, le=1000),
    actor: str | None = Query(None, max_length=300, description="Only changes by this actor."),
    path: str | None = Query(None, max_length=500, description="Only changes under this path prefix."),
    after_id: int | None = Query(None, ge=0, description="Only changes newer than this id."),
) -> list[Change]:
    query = select(AdminChange).order_by(AdminChange.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(AdminChange.actor == actor)
    if path is not None:
        query = query.where(AdminChange.path.startswith(path, autoescape=True))
    if after_id is not None:
        query = query.where(AdminChange.id > after_id)

    def fetch(session: Session) -> list[Change]:
        return [
            Change(
                id=row.id,
                ts=utc(row.ts),
                actor=row.actor,
                role=row.role,
                method=row.method,
                path=row.path,
                status=row.status,
                before=row.before,
                after=row.after,
            )
            for row in session.scalars(query)
        ]

    return await read(request, fetch)
