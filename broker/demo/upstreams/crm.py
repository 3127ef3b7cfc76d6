"""A small demo CRM shaped like HubSpot's CRM v3 objects API.

Build a fresh app with `create_crm_app()`: each app owns its own copy of the fixed records
(`app.state.dataset`, a `CrmDataset`) and the notes written to it. With `api_token` set,
every route but /healthz and /openapi.json wants `Authorization: Bearer <token>`.

The rest of HubSpot's API that the `hubspot` preset calls is served too: the `properties`
parameter of object reads, `GET /crm/v3/objects/{companies,deals}/{id}` and
`POST /crm/v3/objects/{companies,deals}/search` (broker/demo/upstreams/crm_search.py). Those
routes stay out of /openapi.json, which the demo imports as its `crm` tools.
"""

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from broker.demo.upstreams.crm_data import CrmDataset, build_dataset
from broker.demo.upstreams.crm_models import (
    CompanyList,
    Contact,
    ContactList,
    CrmErrorResponse,
    CrmObject,
    DealList,
    DealStage,
    HealthResponse,
    Note,
    NoteCreateRequest,
    TopCustomer,
    TopCustomersReport,
)
from broker.demo.upstreams.crm_search import SearchRequest, SearchResult, page, project, search

CONTACT_TEXT = ("firstname", "lastname", "email", "company")
CONTACT_ALWAYS = ("hs_object_id", "createdate", "lastmodifieddate")
OTHER_ALWAYS = ("hs_object_id", "createdate", "hs_lastmodifieddate")
SEARCH_TEXT = {"companies": ("name", "domain"), "deals": ("dealname", "pipeline", "dealstage")}

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)

LimitParam = Annotated[int, Query(ge=1, le=100, description="Maximum number of results per page")]
AfterParam = Annotated[
    str | None, Query(pattern=r"^\d{1,12}$", description="Paging cursor from the previous page's paging.next")
]


class CrmError(Exception):
    """An error answered with a HubSpot-style `CrmErrorResponse` body."""

    def __init__(self, status_code: int, message: str, category: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.category = category


def _property_names(values: list[str] | None) -> list[str]:
    """HubSpot's `properties` parameter: repeated and/or comma-separated names."""
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def _top_customers(dataset: CrmDataset, limit: int) -> list[TopCustomer]:
    totals: dict[str, tuple[float, int]] = {}
    for deal in dataset.deals:
        if deal.properties.dealstage == "closedwon":
            amount, count = totals.get(deal.properties.company_id, (0.0, 0))
            totals[deal.properties.company_id] = (amount + float(deal.properties.amount), count + 1)
    rows = [
        TopCustomer(
            company_id=company.id,
            name=company.properties.name,
            domain=company.properties.domain,
            country=company.properties.country,
            closed_won_amount=totals[company.id][0],
            closed_won_deals=totals[company.id][1],
        )
        for company in dataset.companies
        if company.id in totals
    ]
    rows.sort(key=lambda row: (-row.closed_won_amount, row.company_id))
    return rows[:limit]


def _token_checker(api_token: str) -> Callable[..., Awaitable[None]]:
    """A dependency that rejects requests without `Authorization: Bearer <api_token>`."""
    bearer = HTTPBearer(
        scheme_name="bearerAuth",
        description="Private app access token, sent as `Authorization: Bearer <token>`",
        auto_error=False,
    )
    expected = api_token.encode()

    async def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), expected):
            raise CrmError(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")

    return require_token


def create_crm_app(*, api_token: str | None = None, latency_seconds: float = 0.0) -> FastAPI:
    """Build the demo CRM; `latency_seconds` delays every data call (not /healthz), for benchmarks."""
    if latency_seconds < 0:
        raise ValueError("latency_seconds must be >= 0")
    if api_token is not None and not api_token:
        raise ValueError("api_token must be non-empty (or None for no authentication)")
    dataset = build_dataset()

    app = FastAPI(
        title="Demo CRM",
        version="1.0.0",
        description="A small CRM shaped like HubSpot's CRM v3 objects API: contacts, companies, "
        "deals, a top-customers report and notes.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.dataset = dataset

    @app.exception_handler(CrmError)
    async def crm_error(_: Request, exc: CrmError) -> JSONResponse:
        body = CrmErrorResponse(message=exc.message, category=exc.category)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(status_code=exc.status_code, content=body.model_dump(), headers=headers)

    async def delay() -> None:
        if latency_seconds:
            await asyncio.sleep(latency_seconds)

    dependencies = [Depends(delay)]
    responses: dict[int | str, dict[str, Any]] = {}
    if api_token is not None:
        dependencies.insert(0, Depends(_token_checker(api_token)))
        responses[401] = {"model": CrmErrorResponse, "description": "Missing or invalid access token"}
    router = APIRouter(prefix="/crm/v3", dependencies=dependencies, responses=responses)
    not_found: dict[int | str, dict[str, Any]] = {
        404: {"model": CrmErrorResponse, "description": "No object with this id"}
    }

    @router.get(
        "/objects/contacts",
        operation_id="list_contacts",
        summary="List contacts",
        response_model=ContactList,
        response_model_exclude_none=True,
    )
    async def list_contacts(limit: LimitParam = 10, after: AfterParam = None) -> ContactList:
        """One page of contacts in id order; follow `paging.next.after` for the next page."""
        results, paging = page(dataset.contacts, limit, after)
        return ContactList(results=results, paging=paging)

    @router.get(
        "/objects/contacts/{contact_id}",
        operation_id="get_contact",
        summary="Get a contact by id",
        response_model=Contact,
        responses=not_found,
    )
    async def get_contact(
        contact_id: Annotated[str, Path(max_length=32, description="Contact id, e.g. 1001")],
        properties: Annotated[list[str] | None, Query(include_in_schema=False)] = None,
    ) -> Contact | JSONResponse:
        """One contact with its properties (name, email, phone, company, country, lifecycle stage)."""
        contact = dataset.find_contact(contact_id)
        if contact is None:
            raise CrmError(404, f"Object not found. No contact with id {contact_id!r}.", "OBJECT_NOT_FOUND")
        if properties is None:
            return contact
        return JSONResponse(project(contact, _property_names(properties), CONTACT_ALWAYS).model_dump())

    @router.post(
        "/objects/contacts/search",
        operation_id="search_contacts",
        summary="Search contacts by name, email or company",
        response_model=SearchResult,
        response_model_exclude_none=True,
    )
    async def search_contacts(request: SearchRequest) -> SearchResult:
        """Contacts whose name, email or company contain every word of the query (case-insensitive),
        narrowed by HubSpot filter groups, sorted, with the properties asked for."""
        return search(dataset.contacts, request, CONTACT_TEXT, CONTACT_ALWAYS)

    @router.get(
        "/objects/companies",
        operation_id="list_companies",
        summary="List companies",
        response_model=CompanyList,
        response_model_exclude_none=True,
    )
    async def list_companies(limit: LimitParam = 10, after: AfterParam = None) -> CompanyList:
        """One page of companies (name, domain, country, industry, annual revenue) in id order."""
        results, paging = page(dataset.companies, limit, after)
        return CompanyList(results=results, paging=paging)

    @router.get(
        "/objects/deals",
        operation_id="list_deals",
        summary="List deals, optionally by stage",
        response_model=DealList,
        response_model_exclude_none=True,
    )
    async def list_deals(
        limit: LimitParam = 10,
        after: AfterParam = None,
        stage: Annotated[DealStage | None, Query(description="Only deals in this stage")] = None,
    ) -> DealList:
        """One page of deals (name, amount, stage, close date, company id) in id order."""
        deals = [d for d in dataset.deals if stage is None or d.properties.dealstage == stage]
        results, paging = page(deals, limit, after)
        return DealList(results=results, paging=paging)

    @router.get(
        "/reports/top-customers",
        operation_id="get_top_customers",
        summary="Top customers by closed-won revenue",
        response_model=TopCustomersReport,
    )
    async def top_customers(
        limit: Annotated[int, Query(ge=1, le=100, description="Number of companies")] = 5,
    ) -> TopCustomersReport:
        """Companies ordered by the total amount of their closed-won deals, largest first."""
        return TopCustomersReport(results=_top_customers(dataset, limit))

    @router.post(
        "/objects/notes",
        operation_id="create_note",
        summary="Attach a note to a contact",
        status_code=201,
        response_model=Note,
        responses=not_found,
    )
    async def create_note(request: NoteCreateRequest) -> Note:
        """Create a note on an existing contact; the note is kept in this service's memory."""
        if dataset.find_contact(request.contact_id) is None:
            raise CrmError(
                404, f"Object not found. No contact with id {request.contact_id!r}.", "OBJECT_NOT_FOUND"
            )
        return dataset.add_note(request.contact_id, request.body, datetime.now(UTC))

    def objects(object_type: str) -> Sequence[CrmObject]:
        return dataset.companies if object_type == "companies" else dataset.deals

    @router.get("/objects/{object_type}/{object_id}", include_in_schema=False)
    async def get_object(
        object_type: Literal["companies", "deals"],
        object_id: Annotated[str, Path(max_length=32)],
        properties: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        found = next((o for o in objects(object_type) if o.id == object_id), None)
        if found is None:
            kind = {"companies": "company", "deals": "deal"}[object_type]
            raise CrmError(404, f"Object not found. No {kind} with id {object_id!r}.", "OBJECT_NOT_FOUND")
        if properties is None:
            return found.model_dump()
        return project(found, _property_names(properties), OTHER_ALWAYS).model_dump()

    @router.post("/objects/{object_type}/search", include_in_schema=False)
    async def search_objects(
        object_type: Literal["companies", "deals"], request: SearchRequest
    ) -> SearchResult:
        return search(objects(object_type), request, SEARCH_TEXT[object_type], OTHER_ALWAYS)

    app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> HealthResponse:
        return HealthResponse()

    return app
