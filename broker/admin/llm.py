"""/admin/llm: the LLM proxy's providers, model routes, prices, budgets and rate limits.

Every kind has the same four endpoints (list, add or replace, show, remove), and one
document applies them all at once. A change is in force on /v1 before the answer is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from broker.admin.bodies import openapi_body, read_model, read_with
from broker.admin.runtime import admin_subrouter, read, utc, write
from broker.documents import Document, relocate
from broker.errors import InvalidInput
from broker.llm import services
from broker.llm.config import KINDS, AnyConfig, LlmDocument, name_of
from broker.llm.runtime import LlmRuntime
from broker.store.models import LlmConfigRecord
from broker.yamlsource import Located

T = TypeVar("T")
router = admin_subrouter("llm")
PATHS = {"providers": "providers", "models": "models", "prices": "prices", "budgets": "budgets",
         "rate_limits": "rate-limits"}  # fmt: skip


class ConfigEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    config: dict[str, Any] = Field(description="As stored; provider keys never appear, only secret names.")
    created_at: datetime
    updated_at: datetime
    status: dict[str, Any] | None = Field(
        default=None, description="Providers: whether the key was found; routes: the targets in service."
    )


class ConfigChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    name: str
    result: services.PutResult


class ApplyReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changed: bool
    report: dict[str, dict[str, list[str]]] = Field(description="created/updated/unchanged names by kind.")


def runtime_of(request: Request) -> LlmRuntime:
    llm: LlmRuntime = request.app.state.llm
    return llm


async def llm_write(request: Request, operation: Callable[[Session], T]) -> T:
    """Write, then refresh the LLM snapshot so the change is live on /v1 at once."""
    result = await write(request, operation)
    await runtime_of(request).state.refresh()
    return result


def _status(request: Request, kind: str, name: str) -> dict[str, Any] | None:
    snapshot = runtime_of(request).state.snapshot
    if kind == "providers":
        provider = snapshot.providers.get(name)
        if provider is None:
            return {"loaded": False}
        return {
            "loaded": True,
            "key": "missing" if provider.missing_secret else "unsendable" if provider.problem else "ok",
        }
    if kind == "models":
        route = snapshot.resolve(name)
        return {"targets_in_service": [t.qualified for t in route.targets] if route else []}
    return None


def _entry(request: Request, record: LlmConfigRecord) -> ConfigEntry:
    return ConfigEntry(
        name=record.name,
        config=record.config,
        created_at=utc(record.created_at),
        updated_at=utc(record.updated_at),
        status=_status(request, record.kind, record.name),
    )


def _add_routes(kind: str, path: str) -> None:
    model = KINDS[kind]
    singular = services.SINGULAR[kind]

    async def list_items(request: Request) -> list[ConfigEntry]:
        records = await read(request, lambda s: services.list_configs(s, kind))
        return [_entry(request, r) for r in records]

    async def put_item(
        request: Request,
        response: Response,
        replace: bool = Query(False, description=f"Replace an existing {singular} of the same name."),
    ) -> ConfigChange:
        config, located = await read_with(request, model.model_validate)
        assert isinstance(config, AnyConfig)
        document = LlmDocument.model_validate({kind: [config.model_dump(mode="json")]})

        def put(session: Session) -> services.PutResult:
            try:
                services.check_references(session, document)
            except InvalidInput as exc:
                problems = [p.__class__(p.loc[2:], p.message) for p in exc.problems]
                raise InvalidInput(exc.message, problems=relocate(problems, located)) from None
            return services.put_config(session, kind, config, replace=replace)

        result = await llm_write(request, put)
        if result == "created":
            response.status_code = 201
        return ConfigChange(kind=kind, name=name_of(config), result=result)

    async def show_item(request: Request, name: str) -> ConfigEntry:
        return _entry(request, await read(request, lambda s: services.get_config(s, kind, name)))

    async def delete_item(request: Request, name: str) -> Response:
        await llm_write(request, lambda s: services.delete_config(s, kind, name))
        return Response(status_code=204)

    base = f"/llm/{path}"
    router.add_api_route(base, list_items, methods=["GET"], summary=f"List {kind.replace('_', ' ')}")
    router.add_api_route(
        base,
        put_item,
        methods=["POST"],
        summary=f"Add a {singular}",
        description=f"Adds (or with replace, replaces) a {singular}; JSON or YAML. 201 when created.",
        openapi_extra=openapi_body(model.model_json_schema(), f"A {singular}."),
    )
    router.add_api_route(f"{base}/{{name:path}}", show_item, methods=["GET"], summary=f"Show a {singular}")
    router.add_api_route(
        f"{base}/{{name:path}}",
        delete_item,
        methods=["DELETE"],
        status_code=204,
        summary=f"Remove a {singular}",
    )


def _apply_routes(target: APIRouter) -> None:
    @target.post(
        "/llm/apply",
        summary="Apply an LLM document",
        description="Upserts providers, model routes, prices, budgets and rate limits by name, all or "
        "nothing.",
        openapi_extra=openapi_body(LlmDocument.model_json_schema(), "The LLM document, as JSON or YAML."),
    )
    async def apply(request: Request) -> ApplyReport:
        document, origin = await read_model(request, LlmDocument)

        def run(session: Session) -> dict[str, dict[str, list[str]]]:
            try:
                return services.apply_document(session, document)
            except InvalidInput as exc:
                raise InvalidInput(exc.message, problems=relocate(exc.problems, origin.located())) from None

        report = await llm_write(request, run)
        changed = any(b["created"] or b["updated"] for b in report.values())
        return ApplyReport(changed=changed, report=report)


_apply_routes(router)  # before the per-kind routes: /llm/apply is not a kind
for _kind, _path in PATHS.items():
    _add_routes(_kind, _path)


def apply_llm_section(
    session: Session, document: Document, located: Callable[[], Located]
) -> dict[str, dict[str, list[str]]]:
    """The `llm:` section of a combined document (/admin/apply); budgets may name its agents."""
    if document.llm is None:
        return {}
    agents = [agent.name for agent in document.agents]
    try:
        return services.apply_document(session, document.llm, extra_agents=agents, loc=("llm",))
    except InvalidInput as exc:
        raise InvalidInput(exc.message, problems=relocate(exc.problems, located())) from None
