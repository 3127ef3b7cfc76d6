"""The demo CRM's records: fixed lists turned into HubSpot-shaped objects, the same every time.

Ids live in separate ranges so they are easy to tell apart in demos: contacts 1001+,
companies 2001+, deals 3001+, notes 4001+. Phone numbers use each country's format (the US,
Canadian and UK ones sit in ranges reserved for fiction).
"""

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from broker.demo.upstreams.crm_models import (
    Company,
    CompanyProperties,
    Contact,
    ContactProperties,
    Deal,
    DealProperties,
    DealStage,
    LifecycleStage,
    Note,
    NoteProperties,
)

# name, domain, country, city, industry, annual revenue (USD), phone pattern ({d} = 10 digits)
_COMPANIES: tuple[tuple[str, str, str, str, str, int, str], ...] = (
    ("Acme Robotics", "acme-robotics.com", "US", "San Francisco", "Machinery", 48_500_000,
     "+1 415 555 01{d[0]}{d[1]}"),
    ("Nordlicht Energie GmbH", "nordlicht-energie.de", "DE", "Berlin", "Renewables", 127_000_000,
     "+49 30 {d[0]}{d[1]}{d[2]}{d[3]}{d[4]}{d[5]}{d[6]}{d[7]}"),
    ("Boulangerie Lumière SAS", "lumiere-boulangerie.fr", "FR", "Paris", "Food & Beverage", 8_200_000,
     "+33 1 {d[0]}{d[1]} {d[2]}{d[3]} {d[4]}{d[5]} {d[6]}{d[7]}"),
    ("Sakura Logistics K.K.", "sakura-logistics.jp", "JP", "Tokyo", "Logistics", 310_000_000,
     "+81 3 {d[0]}{d[1]}{d[2]}{d[3]} {d[4]}{d[5]}{d[6]}{d[7]}"),
    ("Maple Leaf Analytics Inc.", "mapleleaf-analytics.ca", "CA", "Toronto", "Software", 22_750_000,
     "+1 416 555 01{d[0]}{d[1]}"),
    ("Southern Cross Medical Pty Ltd", "southerncross-medical.com.au", "AU", "Sydney", "Healthcare",
     64_000_000, "+61 2 {d[0]}{d[1]}{d[2]}{d[3]} {d[4]}{d[5]}{d[6]}{d[7]}"),
    ("Tierra Verde Agro S.A.", "tierraverde-agro.com.br", "BR", "São Paulo", "Agriculture", 91_300_000,
     "+55 11 9{d[0]}{d[1]}{d[2]}{d[3]}-{d[4]}{d[5]}{d[6]}{d[7]}"),
    ("Thames Fintech Ltd", "thamesfintech.co.uk", "GB", "London", "Financial Services", 35_600_000,
     "+44 20 7946 0{d[0]}{d[1]}{d[2]}"),
    ("Bharat Cloud Systems Pvt Ltd", "bharatcloud.in", "IN", "Mumbai", "IT Services", 142_000_000,
     "+91 22 {d[0]}{d[1]}{d[2]}{d[3]} {d[4]}{d[5]}{d[6]}{d[7]}"),
    ("Fjord Maritime AS", "fjordmaritime.no", "NO", "Bergen", "Shipping", 57_900_000,
     "+47 {d[0]}{d[1]} {d[2]}{d[3]} {d[4]}{d[5]} {d[6]}{d[7]}"),
)  # fmt: skip

# firstname, lastname, index into _COMPANIES, lifecycle stage
_CONTACTS: tuple[tuple[str, str, int, LifecycleStage], ...] = (
    ("Maria", "Gonzalez", 0, "customer"),
    ("James", "O'Connor", 0, "opportunity"),
    ("Priya", "Natarajan", 0, "customer"),
    ("Lukas", "Becker", 1, "customer"),
    ("Sophie", "Müller", 1, "lead"),
    ("Camille", "Dubois", 2, "salesqualifiedlead"),
    ("Théo", "Lefèvre", 2, "subscriber"),
    ("Haruto", "Sato", 3, "customer"),
    ("Yui", "Tanaka", 3, "opportunity"),
    ("Kenji", "Watanabe", 3, "lead"),
    ("Olivia", "Tremblay", 4, "marketingqualifiedlead"),
    ("Liam", "Gagnon", 4, "customer"),
    ("Charlotte", "Nguyen", 5, "opportunity"),
    ("Jack", "Wilson", 5, "customer"),
    ("João", "Silva", 6, "customer"),
    ("Ana Beatriz", "Costa", 6, "lead"),
    ("Oliver", "Hughes", 7, "customer"),
    ("Amelia", "Clarke", 7, "salesqualifiedlead"),
    ("Harry", "Patel", 7, "subscriber"),
    ("Arjun", "Mehta", 8, "customer"),
    ("Ananya", "Iyer", 8, "opportunity"),
    ("Rohan", "Kapoor", 8, "lead"),
    ("Ingrid", "Hansen", 9, "customer"),
    ("Magnus", "Johansen", 9, "marketingqualifiedlead"),
    ("Sofie", "Berg", 9, "evangelist"),
)

# index into _COMPANIES, product, amount (USD), stage, close date
_DEALS: tuple[tuple[int, str, int, DealStage, str], ...] = (
    (0, "Warehouse automation pilot", 120_000, "closedwon", "2024-03-28"),
    (0, "Fleet telemetry add-on", 45_000, "contractsent", "2025-02-14"),
    (1, "Grid forecasting platform", 310_000, "closedwon", "2024-06-30"),
    (1, "Annual support renewal", 60_000, "closedwon", "2024-12-16"),
    (2, "Point-of-sale integration", 18_500, "closedlost", "2024-05-10"),
    (2, "Loyalty app", 27_000, "qualifiedtobuy", "2025-04-01"),
    (3, "Route optimisation suite", 540_000, "closedwon", "2024-09-20"),
    (3, "Customs API connector", 76_000, "presentationscheduled", "2025-03-14"),
    (4, "Data warehouse migration", 98_000, "closedwon", "2024-04-18"),
    (4, "BI seats expansion", 22_000, "appointmentscheduled", "2025-05-05"),
    (5, "Patient scheduling module", 150_000, "decisionmakerboughtin", "2025-02-28"),
    (5, "Compliance audit package", 38_000, "closedwon", "2024-08-08"),
    (6, "Harvest yield analytics", 205_000, "closedwon", "2024-10-31"),
    (6, "Satellite imagery feed", 64_000, "closedlost", "2024-07-12"),
    (7, "Fraud detection API", 275_000, "closedwon", "2024-11-22"),
    (7, "KYC workflow automation", 89_000, "contractsent", "2025-01-31"),
    (8, "Multi-region failover", 132_000, "closedwon", "2024-02-29"),
    (8, "Managed Kubernetes tier", 210_000, "qualifiedtobuy", "2025-06-30"),
    (9, "Vessel tracking dashboard", 57_000, "closedwon", "2024-05-27"),
    (9, "Crew rostering system", 83_000, "presentationscheduled", "2025-03-31"),
)

_EPOCH = datetime(2023, 1, 9, 9, 0, tzinfo=UTC)


def iso_timestamp(moment: datetime) -> str:
    """HubSpot's timestamp format: 2024-01-15T09:30:00.000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _stamps(kind: int, index: int) -> tuple[str, str]:
    """(created, updated) timestamps for the index-th object of a kind, spread over 2023-2024."""
    created = _EPOCH + timedelta(days=kind * 5 + index * 11, hours=index % 8, minutes=index * 7 % 60)
    updated = created + timedelta(days=(index * 37) % 90 + 1, hours=3)
    return iso_timestamp(created), iso_timestamp(updated)


def _ascii(text: str) -> str:
    """Lower-case ASCII for email local parts: 'Théo' -> 'theo', "O'Connor" -> 'oconnor'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in plain.lower() if c.isalnum())


def _digits(seed: str) -> str:
    """Ten stable digits, the first non-zero, derived from `seed`."""
    value = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    return str(value % 9_000_000_000 + 1_000_000_000)


def _companies() -> list[Company]:
    companies = []
    for index, (name, domain, country, city, industry, revenue, _) in enumerate(_COMPANIES):
        object_id = str(2001 + index)
        created, updated = _stamps(2, index)
        properties = CompanyProperties(
            name=name,
            domain=domain,
            country=country,
            city=city,
            industry=industry,
            annualrevenue=str(revenue),
            hs_object_id=object_id,
            createdate=created,
            hs_lastmodifieddate=updated,
        )
        companies.append(Company(id=object_id, properties=properties, createdAt=created, updatedAt=updated))
    return companies


def _contacts() -> list[Contact]:
    contacts = []
    for index, (first, last, company_index, stage) in enumerate(_CONTACTS):
        name, domain, country, *_, phone_pattern = _COMPANIES[company_index]
        object_id = str(1001 + index)
        created, updated = _stamps(1, index)
        email = f"{_ascii(first.split()[0])}.{_ascii(last)}@{domain}"
        properties = ContactProperties(
            firstname=first,
            lastname=last,
            email=email,
            phone=phone_pattern.format(d=_digits(email)),
            company=name,
            associatedcompanyid=str(2001 + company_index),
            country=country,
            lifecyclestage=stage,
            hs_object_id=object_id,
            createdate=created,
            lastmodifieddate=updated,
        )
        contacts.append(Contact(id=object_id, properties=properties, createdAt=created, updatedAt=updated))
    return contacts


def _deals() -> list[Deal]:
    deals = []
    for index, (company_index, product, amount, stage, close_date) in enumerate(_DEALS):
        object_id = str(3001 + index)
        created, updated = _stamps(3, index)
        properties = DealProperties(
            dealname=f"{_COMPANIES[company_index][0]} - {product}",
            amount=f"{amount:.2f}",
            dealstage=stage,
            closedate=f"{close_date}T00:00:00.000Z",
            company_id=str(2001 + company_index),
            hs_object_id=object_id,
            createdate=created,
            hs_lastmodifieddate=updated,
        )
        deals.append(Deal(id=object_id, properties=properties, createdAt=created, updatedAt=updated))
    return deals


@dataclass
class CrmDataset:
    """One app's records: the fixed contacts, companies and deals, plus notes written at run time."""

    contacts: list[Contact]
    companies: list[Company]
    deals: list[Deal]
    notes: list[Note] = field(default_factory=list)

    def find_contact(self, contact_id: str) -> Contact | None:
        """The contact with this id, or None."""
        return next((c for c in self.contacts if c.id == contact_id), None)

    def add_note(self, contact_id: str, body: str, now: datetime) -> Note:
        """Store and return a new note on `contact_id` (the caller checks the contact exists)."""
        stamp = iso_timestamp(now)
        note = Note(
            id=str(4001 + len(self.notes)),
            properties=NoteProperties(hs_note_body=body, hs_timestamp=stamp, contact_id=contact_id),
            createdAt=stamp,
            updatedAt=stamp,
        )
        self.notes.append(note)
        return note


def build_dataset() -> CrmDataset:
    """A fresh copy of the demo records (identical on every call)."""
    return CrmDataset(contacts=_contacts(), companies=_companies(), deals=_deals())
