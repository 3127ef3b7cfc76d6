"""The shipped example policy files validate and mean what their comments say."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import policies
from policies import PolicyDocument, PolicySet, Subject

EXAMPLES = sorted((Path(policies.__file__).parent / "examples").glob("*.yaml"))


def load(path: Path) -> PolicyDocument:
    return PolicyDocument.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"support.yaml", "analyst.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_and_compiles(path: Path) -> None:
    document = load(path)
    assert document.policies
    PolicySet(document.policies)


@pytest.fixture
def examples() -> PolicySet:
    return PolicySet([p for path in EXAMPLES for p in load(path).policies], version=1)


def test_support_example(examples: PolicySet) -> None:
    agent = Subject("helpdesk-bot", "support")
    assert examples.decide(agent, "crm.find_contact", {"limit": 50, "region": "EU"}).allowed
    assert not examples.decide(agent, "crm.find_contact", {"limit": 51}).allowed
    assert not examples.decide(agent, "crm.find_contact", {"region": "US"}).allowed
    assert examples.decide(agent, "crm.delete_contact", {}).policy == "support"
    assert not examples.decide(agent, "crm.get_ticket", {"ticket_id": "TCK-12"}).allowed
    assert examples.decide(agent, "crm.get_ticket", {"ticket_id": "TCK-123456"}).allowed
    assert not examples.visible(agent, "sql.query")
    assert examples.visible(Subject("escalation-bot", "support"), "crm.merge_contacts")


def test_analyst_example(examples: PolicySet) -> None:
    analyst = Subject("ana", "analytics")
    assert examples.decide(analyst, "sql.query", {"sql": "select 1", "limit": 10, "region": "EU"}).allowed
    assert not examples.decide(analyst, "sql.execute", {}).allowed
    assert not examples.decide(analyst, "sql.query", {"sql": "x" * 2001}).allowed
    assert not examples.decide(analyst, "weather.forecast", {"units": "kelvin"}).allowed
    report_bot = Subject("weekly-report-bot")
    assert examples.decide(report_bot, "crm.find_contact", {"country": "FR"}).allowed
    assert not examples.decide(report_bot, "crm.find_contact", {"country": "France"}).allowed
    assert not examples.visible(report_bot, "crm.delete_contact")
