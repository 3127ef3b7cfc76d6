"""/admin/secrets: credentials the gateway injects into upstream calls. Values are
write-only: no response ever carries a value or its ciphertext."""

from __future__ import annotations

from datetime import datetime

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from broker.admin.auth import gateway_of
from broker.admin.runtime import admin_subrouter, read, utc, write
from broker.errors import Conflict
from broker.secrets import service as secret_service
from broker.secrets.kinds import SecretKind
from broker.store.models import Secret
from connectors.auth import SECRET_NAME

router = admin_subrouter("secrets")

SecretPath = Path(
    pattern=SECRET_NAME.pattern,
    description="Secret name: letters, digits, '_', '.', '-', starting with a letter or digit.",
)


class SecretPut(BaseModel):
    """A secret's value (write-only) and what it is."""

    model_config = ConfigDict(extra="forbid")

    value: SecretStr = Field(description="The credential. Stored encrypted; never shown again.")
    kind: SecretKind | None = Field(
        default=None, description="What the value is (informational); default: unchanged, or generic."
    )
    description: str | None = Field(
        default=None, max_length=2000, description="Free text for operators; default: unchanged."
    )


class SecretInfo(BaseModel):
    """A secret as the API shows it: never its value."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str
    description: str
    created_at: datetime
    updated_at: datetime = Field(description="When the value was last set.")
    last_used_at: datetime | None = Field(
        description="When a call last used it (written about once a minute)."
    )
    used_by: list[str] = Field(description="Connectors whose config references this secret.")


class RotateResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rotated: int = Field(description="Secrets re-encrypted with the primary (first) key.")
    keys: int = Field(description="Keys configured; once rotated, only the first is needed.")


def users(request: Request) -> dict[str, list[str]]:
    """Secret name -> connectors in the live catalog that reference it."""
    found: dict[str, list[str]] = {}
    for name, connector in sorted(gateway_of(request).state.snapshot.connectors.items()):
        for ref in connector.secret_refs():
            found.setdefault(ref, []).append(name)
    return found


def secret_info(record: Secret, used_by: dict[str, list[str]]) -> SecretInfo:
    return SecretInfo(
        name=record.name,
        kind=record.kind,
        description=record.description,
        created_at=utc(record.created_at),
        updated_at=utc(record.updated_at),
        last_used_at=utc(record.last_used_at),
        used_by=used_by.get(record.name, []),
    )


@router.get("/secrets", summary="List secrets (never their values)")
async def list_secrets(request: Request) -> list[SecretInfo]:
    await gateway_of(request).vault.flush_last_used()
    used_by = users(request)
    return await read(request, lambda s: [secret_info(r, used_by) for r in secret_service.list_secrets(s)])


@router.put(
    "/secrets/{name}",
    summary="Add a secret or replace its value",
    description="201 when created, 200 when replaced. The value is encrypted with the gateway's key and "
    "never returned; calls use the new value at once.",
)
async def put_secret(
    request: Request, response: Response, body: SecretPut, name: str = SecretPath
) -> SecretInfo:
    vault = gateway_of(request).vault
    cipher = vault.cipher  # 503 with a hint when no key is configured
    value = body.value.get_secret_value()
    used_by = users(request)

    def put(session: Session) -> tuple[SecretInfo, bool]:
        record, created = secret_service.put_secret(
            session, cipher, name, value, kind=body.kind, description=body.description
        )
        return secret_info(record, used_by), created

    info, created = await write(request, put)
    vault.invalidate()
    if created:
        response.status_code = 201
    return info


@router.delete("/secrets/{name}", status_code=204, summary="Delete a secret")
async def delete_secret(
    request: Request,
    name: str = SecretPath,
    force: bool = Query(False, description="Delete even when connectors reference it (their calls fail)."),
) -> Response:
    await read(request, lambda s: secret_service.get_secret(s, name))  # 404 first
    used_by = users(request).get(name, [])
    if used_by and not force:
        raise Conflict(
            f"secret '{name}' is used by connector(s) {', '.join(used_by)}; their calls would fail. "
            "Change them first, or pass force=true"
        )
    await write(request, lambda s: secret_service.delete_secret(s, name))
    gateway_of(request).vault.invalidate()
    return Response(status_code=204)


@router.post(
    "/secrets/rotate-key",
    summary="Re-encrypt every secret with the primary key",
    description="After putting a new key first in BROKER_SECRET_KEYS (old keys after it) and restarting, "
    "this re-encrypts all secrets with the new key; then the old keys can be removed. All or nothing.",
)
async def rotate_key(request: Request) -> RotateResult:
    vault = gateway_of(request).vault
    cipher = vault.cipher

    def rotate(session: Session) -> int:
        return secret_service.rotate_all(session, cipher)

    count = await write(request, rotate)
    vault.invalidate()
    return RotateResult(rotated=count, keys=cipher.key_count)
