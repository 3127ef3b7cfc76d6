"""Wire models of the demo CRM, shaped like HubSpot's CRM v3 objects API.

As in HubSpot, object properties are strings (amounts and revenues too); the custom report
is the one answer that uses numbers.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LifecycleStage = Literal[
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
]
DealStage = Literal[
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
]

_NUMERIC_ID = r"^\d{1,12}$"


class CrmObject(BaseModel):
    """Fields every CRM object carries."""

    id: str = Field(description="Object id (numeric string)")
    createdAt: str = Field(description="ISO 8601 UTC timestamp")
    updatedAt: str = Field(description="ISO 8601 UTC timestamp")
    archived: bool = False


class ContactProperties(BaseModel):
    """A contact's properties."""

    firstname: str
    lastname: str
    email: str
    phone: str = Field(description="International format, e.g. +33 1 42 68 53 00")
    company: str = Field(description="Company name")
    associatedcompanyid: str = Field(description="Id of the contact's primary company")
    country: str = Field(description="ISO 3166-1 alpha-2 country code")
    lifecyclestage: LifecycleStage
    hs_object_id: str
    createdate: str
    lastmodifieddate: str


class Contact(CrmObject):
    """A person."""

    properties: ContactProperties


class CompanyProperties(BaseModel):
    """A company's properties."""

    name: str
    domain: str
    country: str = Field(description="ISO 3166-1 alpha-2 country code")
    city: str
    industry: str
    annualrevenue: str = Field(description="Annual revenue in USD, as a decimal string")
    hs_object_id: str
    createdate: str
    hs_lastmodifieddate: str


class Company(CrmObject):
    """An organisation."""

    properties: CompanyProperties


class DealProperties(BaseModel):
    """A deal's properties."""

    dealname: str
    amount: str = Field(description="Amount as a decimal string, in deal_currency_code")
    deal_currency_code: str = "USD"
    dealstage: DealStage
    pipeline: str = "default"
    closedate: str = Field(description="Expected or actual close, ISO 8601 UTC timestamp")
    company_id: str = Field(description="Id of the associated company")
    hs_object_id: str
    createdate: str
    hs_lastmodifieddate: str


class Deal(CrmObject):
    """A sales opportunity with one company."""

    properties: DealProperties


class NoteProperties(BaseModel):
    """A note's properties."""

    hs_note_body: str
    hs_timestamp: str
    contact_id: str = Field(description="Id of the contact the note is attached to")


class Note(CrmObject):
    """A free-text note attached to a contact."""

    properties: NoteProperties


class NextPage(BaseModel):
    """Cursor of the following page."""

    after: str = Field(description="Pass as `after` to fetch the next page")


class Paging(BaseModel):
    """Present only when more results follow."""

    next: NextPage


class ContactList(BaseModel):
    """One page of contacts."""

    results: list[Contact]
    paging: Paging | None = None


class CompanyList(BaseModel):
    """One page of companies."""

    results: list[Company]
    paging: Paging | None = None


class DealList(BaseModel):
    """One page of deals."""

    results: list[Deal]
    paging: Paging | None = None


class NoteCreateRequest(BaseModel):
    """A note to attach to a contact."""

    model_config = ConfigDict(extra="forbid")

    contact_id: str = Field(pattern=_NUMERIC_ID, description="Id of an existing contact")
    body: str = Field(min_length=1, max_length=10_000, description="Note text")


class TopCustomer(BaseModel):
    """A company's closed-won business."""

    company_id: str
    name: str
    domain: str
    country: str
    closed_won_amount: float = Field(description="Sum of closed-won deal amounts")
    closed_won_deals: int = Field(description="Number of closed-won deals")
    currency: str = "USD"


class TopCustomersReport(BaseModel):
    """Companies ordered by total closed-won deal amount, largest first."""

    results: list[TopCustomer]


class CrmErrorResponse(BaseModel):
    """HubSpot-style error body."""

    status: Literal["error"] = "error"
    message: str
    category: str = Field(examples=["OBJECT_NOT_FOUND", "INVALID_AUTHENTICATION"])


class HealthResponse(BaseModel):
    """Liveness answer."""

    status: Literal["ok"] = "ok"
    service: str = "demo-crm"
