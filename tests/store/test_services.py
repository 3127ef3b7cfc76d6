"""The stored-state operations, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from broker import keys
from broker.errors import Conflict, InvalidInput, NotFound
from broker.services import agents, connectors, policies, revision
from broker.store.models import ApiKey
from policies import Policy


def test_keys_are_stored_only_as_hashes_and_shown_once(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        agents.create_agent(session, "support-bot", team="support")
        issued = agents.create_key(session, "support-bot", label="laptop")
    assert issued.key.startswith(keys.KEY_PREFIX) and keys.looks_like_key(issued.key)
    with sessions() as session:
        stored = session.scalars(select(ApiKey)).one()
        assert stored.key_hash == keys.hash_key(issued.key)
        assert issued.key not in (stored.key_hash, stored.prefix, stored.label)
        assert issued.key.startswith(stored.prefix)


def test_agent_names_are_unique_and_lookups_say_what_is_missing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        agents.create_agent(session, "a1")
    with sessions.begin() as session, pytest.raises(Conflict, match="already exists"):
        agents.create_agent(session, "a1")
    with sessions() as session, pytest.raises(NotFound, match="no agent named 'ghost'"):
        agents.create_key(session, "ghost")


def test_revoke_rotate_and_delete(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        agents.create_agent(session, "bot")
        first = agents.create_key(session, "bot")
    with sessions.begin() as session:
        rotated = agents.rotate_key(session, "bot", first.record.id, grace_seconds=60)
    with sessions() as session:
        listed = {k.id: k for k in agents.list_keys(session, "bot")}
        assert listed[first.record.id].revoked_at is None and listed[first.record.id].expires_at is not None
        assert rotated.record.id in listed
    with sessions.begin() as session:
        agents.revoke_key(session, "bot", rotated.record.prefix)
    with sessions.begin() as session, pytest.raises(Conflict, match="already revoked"):
        agents.rotate_key(session, "bot", rotated.record.id)
    with sessions.begin() as session:
        agents.delete_agent(session, "bot")
    with sessions() as session:
        assert session.scalars(select(ApiKey)).all() == []


def test_every_change_bumps_the_state_revision(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        start = revision.current(session)
    with sessions.begin() as session:
        agents.create_agent(session, "bot")
    with sessions.begin() as session:
        connectors.put_connector(session, "weather", "http", {"kind": "http"}, replace=False)
    with sessions() as session:
        assert revision.current(session) == start + 2


def test_policies_are_versioned_and_reapplying_changes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        agents.create_agent(session, "bot")
        connectors.put_connector(session, "crm", "http", {"kind": "http"}, replace=False)
    support = Policy(name="support", agents=["bot"], allow=["crm.*"])
    with sessions.begin() as session:
        first = policies.apply(session, [support], source="test")
    with sessions.begin() as session:
        again = policies.apply(session, [support], source="test")
    assert (first.changed, again.changed, again.revision) == (["support"], [], first.revision)
    with sessions.begin() as session:
        changed = policies.apply(session, [Policy(name="support", agents=["bot"], allow=["crm.find*"])])
    assert changed.revision == first.revision + 1
    with sessions() as session:
        assert policies.get_revision(session, first.revision).policies[0]["allow"] == ["crm.*"]
        number, current = policies.current_policies(session)
        assert number == changed.revision and current[0].allow == ["crm.find*"]


def test_policies_naming_unknown_agents_or_connectors_are_refused(sessions: sessionmaker[Session]) -> None:
    typo = Policy(name="p", agents=["nobody"], allow=["crmm.*", "*"])
    with sessions.begin() as session, pytest.raises(InvalidInput) as caught:
        policies.apply(session, [typo])
    messages = [str(p) for p in caught.value.problems]
    assert any("policies[0].agents[0]" in m and "nobody" in m for m in messages)
    assert any("policies[0].allow[0]" in m and "crmm" in m for m in messages)
    assert len(messages) == 2  # "*" names no connector and is fine
    with sessions() as session:
        assert policies.current_policies(session) == (0, [])


def test_an_update_that_changes_nothing_does_not_bump_the_revision(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        agents.create_agent(session, "bot", team="support")
    with sessions() as session:
        start = revision.current(session)
    with sessions.begin() as session:
        agents.update_agent(session, "bot", team="support", enabled=True)
    with sessions() as session:
        assert revision.current(session) == start
    with sessions.begin() as session:
        agents.update_agent(session, "bot", enabled=False)
    with sessions() as session:
        assert revision.current(session) == start + 1
