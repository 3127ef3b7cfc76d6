"""The demo's SQL database: the demo CRM's records as a small SQLite schema
(customers, contacts, deals) for the SQL connector to serve read-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from broker.demo.upstreams.crm_data import build_dataset

SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    domain TEXT NOT NULL,
    country TEXT NOT NULL,
    city TEXT NOT NULL,
    industry TEXT NOT NULL,
    annual_revenue NUMERIC NOT NULL
);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    country TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL
);
CREATE TABLE deals (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    name TEXT NOT NULL,
    amount NUMERIC NOT NULL,
    currency TEXT NOT NULL,
    stage TEXT NOT NULL,
    close_date TEXT NOT NULL
);
"""


def create_crm_database(path: Path) -> Path:
    """Write a fresh database file with the demo records; returns its path."""
    path.unlink(missing_ok=True)
    data = build_dataset()
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (int(c.id), p.name, p.domain, p.country, p.city, p.industry, p.annualrevenue)
                for c in data.companies
                for p in [c.properties]
            ],
        )
        db.executemany(
            "INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    int(c.id),
                    int(p.associatedcompanyid),
                    p.firstname,
                    p.lastname,
                    p.email,
                    p.phone,
                    p.country,
                    p.lifecyclestage,
                )
                for c in data.contacts
                for p in [c.properties]
            ],
        )
        db.executemany(
            "INSERT INTO deals VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    int(d.id),
                    int(p.company_id),
                    p.dealname,
                    p.amount,
                    p.deal_currency_code,
                    p.dealstage,
                    p.closedate,
                )
                for d in data.deals
                for p in [d.properties]
            ],
        )
    db.close()
    return path
