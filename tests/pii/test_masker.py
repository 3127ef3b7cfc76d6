"""The masking engine: operators, structure-aware JSON, tokens and their resolution, MCP content."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from broker import offload, shared_text
from broker.pii import Masker, MemoryVault, UnknownToken, resolve_tokens, scrub
from broker.pii.issuing import Known
from broker.pii.operators import agent_mac, token_for, tokens_for
from policies.masking import MaskingPolicy

SALT = b"test-salt-0123456789abcdef"
TOKEN = re.compile(r"<([A-Z_]+)_([0-9a-f]{8})>")


def policy(**section: Any) -> MaskingPolicy:
    return MaskingPolicy.model_validate(section)


def masker(vault: MemoryVault | None = None, **section: Any) -> Masker:
    return Masker(policy(**section), SALT, vault if vault is not None else MemoryVault())


async def test_default_policy_replaces_every_entity_by_its_type() -> None:
    text, counts = await masker().mask_text(
        "a", "Mail ann@example.com or call +44 20 7946 0958 (SSN 536-22-8891)."
    )
    assert text == "Mail <EMAIL_ADDRESS> or call <PHONE_NUMBER> (SSN <US_SSN>)."
    assert counts == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1, "US_SSN": 1}


async def test_a_json_string_holding_nul_is_masked_with_its_key() -> None:
    """A NUL inside a value (JSON "\\u0000") is scanned alone, under its key, and masked."""
    document = json.dumps(
        {
            "notes": "mail ann@example.com\u0000 call +44 20 7946 0958",
            "phone": "4155550143\u0000",
            "ok": "b@c.org",
        }
    )
    text, counts = await masker().mask_text("a", document)
    assert json.loads(text) == {
        "notes": "mail <EMAIL_ADDRESS>\u0000 call <PHONE_NUMBER>",
        "phone": "<PHONE_NUMBER>\u0000",
        "ok": "<EMAIL_ADDRESS>",
    }
    assert counts == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 2}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("redact", "card: , ok"),
        ("replace", "card: <CREDIT_CARD>, ok"),
        ({"operator": "replace", "value": "[card]"}, "card: [card], ok"),
        ("mask", "card: ***************1111, ok"),
        ({"operator": "mask", "keep_last": 2, "char": "#"}, "card: #################11, ok"),
        ("keep", "card: 4111 1111 1111 1111, ok"),
    ],
)
async def test_presidio_operators(spec: object, expected: str) -> None:
    text, _ = await masker(entities={"CREDIT_CARD": spec}).mask_text("a", "card: 4111 1111 1111 1111, ok")
    assert text == expected


async def test_mask_hides_at_least_half_of_short_values() -> None:
    m = masker(fields=[{"match": "code", "operator": {"operator": "mask", "keep_last": 4}}])
    masked, _ = await m.mask_json("a", {"code": "Bob"})
    assert masked == {"code": "**b"}


async def test_keyed_hash_is_stable_across_calls_and_agents_and_depends_on_the_salt() -> None:
    section = {"entities": {"EMAIL_ADDRESS": {"operator": "hash", "length": 20}}}
    m = masker(**section)
    one, _ = await m.mask_text("a", "ann@example.com")
    two, _ = await m.mask_text("b", "ann@example.com")
    other_salt, _ = await Masker(policy(**section), b"another-salt-0123456789").mask_text(
        "a", "ann@example.com"
    )
    assert one == two and re.fullmatch(r"[0-9a-f]{20}", one)
    assert other_salt != one


async def test_tokens_are_stable_per_agent_and_differ_between_agents() -> None:
    vault = MemoryVault()
    m = masker(vault, entities={"EMAIL_ADDRESS": "token"})
    first, counts = await m.mask_text("agent-a", "ann@example.com, ann@example.com, bob@example.com")
    again, _ = await m.mask_text("agent-a", "write to ann@example.com")
    theirs, _ = await m.mask_text("agent-b", "ann@example.com")
    tokens = TOKEN.findall(first)
    assert counts == {"EMAIL_ADDRESS": 3}
    assert tokens[0] == tokens[1] != tokens[2]
    assert again == f"write to <EMAIL_ADDRESS_{tokens[0][1]}>"
    assert theirs != first.split(",")[0]
    assert await vault.get("agent-a", first.split(",")[0]) == "ann@example.com"
    assert await vault.get("agent-b", first.split(",")[0]) is None


async def test_resolution_puts_values_back_for_allowed_tools_only() -> None:
    vault = MemoryVault()
    m = masker(vault, entities={"EMAIL_ADDRESS": "token"}, resolve_tokens_for=["mail.*"])
    masked, _ = await m.mask_json("agent-a", {"contact": {"email": "ann@example.com"}})
    token = masked["contact"]["email"]
    arguments = {"to": token, "cc": [f"Ann <{token}>"], "count": 1, "nested": {"x": None}}
    resolved = await m.resolve_arguments("agent-a", "mail.send", arguments)
    assert resolved == {
        "to": "ann@example.com",
        "cc": ["Ann <ann@example.com>"],
        "count": 1,
        "nested": {"x": None},
    }
    assert arguments["to"] == token  # the input is not changed
    assert await m.resolve_arguments("agent-a", "crm.update", arguments) == arguments
    assert m.may_resolve("mail.send") and not m.may_resolve("crm.update")


async def test_another_agents_unknown_or_expired_tokens_are_refused() -> None:
    now = [1000.0]
    vault = MemoryVault(clock=lambda: now[0])
    m = masker(vault, entities={"EMAIL_ADDRESS": "token"}, resolve_tokens_for=["*"], token_ttl_seconds=60)
    text, _ = await m.mask_text("agent-a", "ann@example.com")
    with pytest.raises(UnknownToken) as refused:
        await m.resolve_arguments("agent-b", "mail.send", {"to": text})
    assert refused.value.tokens == [text]
    assert refused.value.outcome == "unknown_token"
    assert "ann@example.com" not in str(refused.value)
    with pytest.raises(UnknownToken):
        await m.resolve_arguments("agent-a", "mail.send", {"to": "<EMAIL_ADDRESS_0123abcd>"})
    now[0] += 61
    with pytest.raises(UnknownToken):
        await m.resolve_arguments("agent-a", "mail.send", {"to": text})
    assert await resolve_tokens("agent-a", {"to": "no tokens here"}, vault) == {"to": "no tokens here"}


async def test_tokens_are_refreshed_in_the_vault_after_half_their_ttl() -> None:
    now = [0.0]
    vault = MemoryVault(clock=lambda: now[0])
    m = masker(vault, entities={"EMAIL_ADDRESS": "token"}, token_ttl_seconds=60)
    token, _ = await m.mask_text("a", "ann@example.com")
    tokens = m._tokens
    assert tokens is not None
    tokens._known.age(time.monotonic() + 1e9)  # age the memo past its lifetime: the vault is asked again
    now[0] = 50.0
    await m.mask_text("a", "ann@example.com")
    now[0] = 100.0  # past the first expiry, within the refreshed one
    assert await vault.get("a", token) == "ann@example.com"


def test_the_memo_of_stored_tokens_forgets_them_within_its_lifetime() -> None:
    known = Known(100.0)
    known.age(0.0)
    known.add("a", [{"<T_1>": "one"}])
    known.age(49.0)
    assert known.of("a") == ({"<T_1>": "one"}, {}) and known.of("b") == ({}, {})
    known.age(50.0)  # a new generation; the first is kept until 100 s after it began
    known.add("a", [{"<T_2>": "two"}])
    assert known.of("a") == ({"<T_2>": "two"}, {"<T_1>": "one"})
    known.age(100.0)
    assert known.of("a") == ({}, {"<T_2>": "two"})
    known.age(1000.0)  # no call for long: both generations are past their lifetime
    assert known.of("a") == ({}, {})
    known.add("a", [{"<T_3>": "three"}])
    known.age(1060.0)  # the generation of 1000 s is the old one from now on...
    known.age(1099.0)
    assert known.of("a") == ({}, {"<T_3>": "three"})
    known.age(1100.0)  # ...until 1100 s, though the young one began only 40 s ago
    assert known.of("a") == ({}, {})


async def test_colliding_token_ids_get_longer() -> None:
    vault = MemoryVault()
    mac = agent_mac(SALT, "a")
    short = token_for(mac, "EMAIL_ADDRESS", "ann@example.com")
    await vault.put("a", short, "someone-else@example.com", 3600)  # another value holds the id
    m = masker(vault, entities={"EMAIL_ADDRESS": "token"}, resolve_tokens_for=["*"])
    text, _ = await m.mask_text("a", "ann@example.com")
    assert text == token_for(mac, "EMAIL_ADDRESS", "ann@example.com", 12)
    assert await m.resolve_arguments("a", "x.y", {"to": text}) == {"to": "ann@example.com"}


async def test_a_taken_id_in_a_json_result_is_lengthened_where_its_token_is_written() -> None:
    """A JSON result masked on the loop (from its scan where the native module is built) gets the
    longer token in every place the value was, and the same text as its parsed document masked."""
    vault = MemoryVault()
    mac = agent_mac(SALT, "a")
    short = token_for(mac, "EMAIL_ADDRESS", "ann@example.com")
    await vault.put("a", short, "someone-else@example.com", 3600)
    m = masker(vault, entities={"EMAIL_ADDRESS": "token"}, resolve_tokens_for=["*"])
    rows = [{"to": "ann@example.com", "cc": "bob@example.com"}, {"note": "write to ann@example.com"}]
    text = json.dumps({"rows": rows})

    masked, counts = await m.mask_text("a", text)

    longer = token_for(mac, "EMAIL_ADDRESS", "ann@example.com", 12)
    assert json.loads(masked)["rows"] == [
        {"to": longer, "cc": token_for(mac, "EMAIL_ADDRESS", "bob@example.com")},
        {"note": f"write to {longer}"},
    ]
    assert counts == {"EMAIL_ADDRESS": 3}
    assert masked == json.dumps((await m.mask_json("a", {"rows": rows}))[0], separators=(",", ":"))


async def test_a_json_result_holding_a_proposed_token_as_text_keeps_it() -> None:
    """The upstream's text holds the very token first proposed for a value whose id is taken: the
    longer token goes where the value was, and the upstream's text stays as it came."""
    vault = MemoryVault()
    mac = agent_mac(SALT, "a")
    short = token_for(mac, "EMAIL_ADDRESS", "ann@example.com")
    await vault.put("a", short, "someone-else@example.com", 3600)
    m = masker(vault, entities={"EMAIL_ADDRESS": "token"}, resolve_tokens_for=["*"])
    text = json.dumps({"to": "ann@example.com", "note": f"forwarded to {short}"})

    masked, _ = await m.mask_text("a", text)

    assert json.loads(masked) == {
        "to": token_for(mac, "EMAIL_ADDRESS", "ann@example.com", 12),
        "note": f"forwarded to {short}",
    }
    assert await m.resolve_arguments("a", "x.y", {"to": short}) == {"to": "someone-else@example.com"}


def test_tokens_for_makes_the_tokens_token_for_does() -> None:
    """The worker's batch of first tokens (`tokens_for`) is `token_for`'s, value for value."""
    mac = agent_mac(SALT, "a")
    requests = [("EMAIL_ADDRESS", "ann@example.com"), ("PHONE_NUMBER", "+1 415 555 0143"), ("X", "é\x00日")]
    assert tokens_for(mac, requests) == {request: token_for(mac, *request) for request in requests}


def test_a_token_policy_needs_a_vault_and_a_real_salt() -> None:
    with pytest.raises(ValueError, match="TokenVault"):
        Masker(policy(default_operator="token"), SALT)
    with pytest.raises(ValueError, match="16 bytes"):
        Masker(policy(), b"short")


CRM = {
    "results": [
        {
            "id": "1001",
            "properties": {
                "firstname": "Ann",
                "lastname": "Lee",
                "email": "ann@example.com",
                "phone": "4155550143",
                "address": {"street": "1 Main St", "zip": 94107, "geo": [37.77, -122.41]},
                "notes": "Prefers bob@example.org; paid with 4111 1111 1111 1111.",
                "score": 87,
                "active": True,
                "created": "2024-03-15T10:22:33Z",
            },
            "contacts": [{"name": "Bob Roe", "email": "bob@example.org"}],
        }
    ],
    "ann@example.com": "an e-mail as a key",
    "total": 1,
}


async def test_structure_aware_json() -> None:
    m = masker(
        entities={"EMAIL_ADDRESS": "token", "PHONE_NUMBER": "mask"},
        fields=[
            {"match": "first_name", "entity": "PERSON", "operator": "token"},
            {"match": "lastName", "entity": "PERSON"},
            {"match": "$.results[*].properties.address", "entity": "LOCATION", "operator": "redact"},
            {"match": "$..contacts[*].name", "entity": "PERSON"},
        ],
    )
    original = copy.deepcopy(CRM)
    masked, counts = await m.mask_json("agent-a", CRM)
    assert original == CRM  # never changed in place
    props = masked["results"][0]["properties"]
    assert TOKEN.fullmatch(props["firstname"]).group(1) == "PERSON"  # type: ignore[union-attr]
    assert props["lastname"] == "<PERSON>"
    assert props["address"] == {"street": "", "zip": "", "geo": ["", ""]}
    assert TOKEN.fullmatch(props["email"]).group(1) == "EMAIL_ADDRESS"  # type: ignore[union-attr]
    assert props["phone"] == "******0143"  # a phone by its key
    assert props["notes"].startswith("Prefers <EMAIL_ADDRESS_") and props["notes"].endswith(
        "paid with <CREDIT_CARD>."
    )
    assert (props["score"], props["active"], props["created"]) == (87, True, "2024-03-15T10:22:33Z")
    assert masked["results"][0]["contacts"][0]["name"] == "<PERSON>"
    assert masked["results"][0]["id"] == "1001" and masked["total"] == 1
    assert [k for k in masked if k.startswith("<EMAIL_ADDRESS_")]  # the key is masked too
    assert counts == {"PERSON": 3, "LOCATION": 4, "EMAIL_ADDRESS": 4, "PHONE_NUMBER": 1, "CREDIT_CARD": 1}


async def test_strings_seen_before_are_judged_by_their_key_again() -> None:
    """A string found clean is not scanned again (broker/pii/clean.py), but only under the same key:
    the number that is a reference under 'ref' is still a phone under 'phone', call after call."""
    m = masker()
    for _ in range(2):
        assert await m.mask_json("a", {"ref": "4155550143", "note": "ok"}) == (
            {"ref": "4155550143", "note": "ok"},
            {},
        )
        assert await m.mask_json("a", {"phone": "4155550143", "note": "ok"}) == (
            {"phone": "<PHONE_NUMBER>", "note": "ok"},
            {"PHONE_NUMBER": 1},
        )


async def test_field_rules_strongest_operator_wins_and_tokens_are_not_masked_twice() -> None:
    m = masker(
        fields=[{"match": "name", "operator": "keep"}, {"match": "$.a.name", "operator": "redact"}],
        entities={"EMAIL_ADDRESS": "token"},
    )
    masked, _ = await m.mask_json("x", {"a": {"name": "Ann"}, "b": {"name": "Bob"}})
    assert masked == {"a": {"name": ""}, "b": {"name": "Bob"}}
    tokenised = masker(fields=[{"match": "email", "operator": "token"}])
    once, _ = await tokenised.mask_json("x", {"email": "ann@example.com"})
    twice, counts = await tokenised.mask_json("x", once)
    assert twice == once and counts == {}


async def test_json_held_in_text_is_masked_structurally_and_keeps_its_layout() -> None:
    m = masker(fields=[{"match": "name", "entity": "PERSON"}])
    compact = json.dumps({"name": "Ann", "email": "ann@example.com"}, separators=(",", ":"))
    text, counts = await m.mask_text("a", compact)
    assert text == '{"name":"<PERSON>","email":"<EMAIL_ADDRESS>"}'
    assert counts == {"PERSON": 1, "EMAIL_ADDRESS": 1}
    pretty, _ = await m.mask_text("a", json.dumps([{"name": "Ann"}], indent=2))
    assert pretty == '[\n  {\n    "name": "<PERSON>"\n  }\n]'
    broken, _ = await m.mask_text("a", '{"name": "Ann", mail ann@example.com')
    assert broken == '{"name": "Ann", mail <EMAIL_ADDRESS>'


async def test_mcp_content_blocks_and_results() -> None:
    m = masker()
    image = {"type": "image", "data": "aGVsbG8=", "mimeType": "image/png"}
    blocks = [
        {"type": "text", "text": "call +44 20 7946 0958"},
        image,
        {"type": "resource", "resource": {"uri": "crm://1", "text": "ann@example.com"}},
        {"type": "resource", "resource": {"uri": "crm://2", "blob": "ann@example.com"}},
    ]
    masked, counts = await m.mask_content_blocks("a", blocks)
    assert masked[0] == {"type": "text", "text": "call <PHONE_NUMBER>"}
    assert masked[1] == image
    assert masked[2]["resource"] == {"uri": "crm://1", "text": "<EMAIL_ADDRESS>"}
    assert masked[3]["resource"]["blob"] == "ann@example.com"
    assert counts == {"PHONE_NUMBER": 1, "EMAIL_ADDRESS": 1}
    assert blocks[0]["text"] == "call +44 20 7946 0958"

    structured = {"email": "ann@example.com", "ip": "10.0.0.1"}
    content = [{"type": "text", "text": json.dumps(structured)}]
    out_blocks, out_structured, out_counts = await m.mask_result("a", content, structured)
    assert out_structured == {"email": "<EMAIL_ADDRESS>", "ip": "<IP_ADDRESS>"}
    assert json.loads(out_blocks[0]["text"]) == out_structured
    assert out_counts == {"EMAIL_ADDRESS": 1, "IP_ADDRESS": 1}  # the same data, counted once


def test_scrub_for_errors_and_audit() -> None:
    message = "upstream said: no user ann@example.com (key AKIAIOSFODNN7EXAMPLE) at 10.0.0.1"
    assert scrub(message) == "upstream said: no user <EMAIL_ADDRESS> (key <SECRET>) at <IP_ADDRESS>"
    assert scrub("nothing to see") == "nothing to see"


def test_fingerprint_tells_maskers_apart() -> None:
    a = masker(entities={"EMAIL_ADDRESS": "token"})
    b = masker(entities={"EMAIL_ADDRESS": "token"})
    c = masker()
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.uses_tokens and not c.uses_tokens


async def test_memory_vault_is_bounded() -> None:
    vault = MemoryVault(max_entries=3)
    for index in range(5):
        await vault.put("a", f"t{index}", str(index), ttl=100 + index)
    assert len(vault) == 3
    assert await vault.get("a", "t0") is None and await vault.get("a", "t4") == "4"
    await vault.put_many("b", {"x": "1", "y": "2"}, 1000)  # the entries closest to expiry make room
    assert await vault.get_many("b", ["x", "y", "z"]) == ["1", "2", None]
    assert await vault.get_many("a", ["t2", "t3", "t4"]) == [None, None, "4"]


async def test_concurrent_calls_issue_consistent_tokens() -> None:
    vault = MemoryVault()
    m = masker(vault, entities={"EMAIL_ADDRESS": "token"}, resolve_tokens_for=["*"])
    emails = [f"user{index}@example.com" for index in range(40)]
    masked = await asyncio.gather(*(m.mask_text("a", f"mail {email}") for email in emails))
    again = await asyncio.gather(*(m.mask_text("a", f"mail {email}") for email in emails))
    assert [text for text, _ in masked] == [text for text, _ in again]
    for email, (text, _) in zip(emails, masked, strict=True):
        assert await m.resolve_arguments("a", "x.y", {"body": text}) == {"body": f"mail {email}"}


@pytest.fixture
def workers() -> Iterator[None]:
    """The worker processes a big result is masked in, stopped after the test (as the gateway does)."""
    yield
    offload.shutdown()


def big_result(rows: int = 6000) -> tuple[list[dict[str, Any]], str]:
    records = [
        {"id": n, "email": f"user{n}@example.com", "note": f"call +44 20 7946 {n % 10_000:04d}"}
        for n in range(rows)
    ]
    return records, json.dumps({"rows": records}, separators=(",", ":"))


async def test_a_large_result_is_masked_in_a_worker_process_like_a_small_one(workers: None) -> None:
    from broker.pii.masker import IN_PROCESS_CHARS

    rows, text = big_result()
    assert len(text) > IN_PROCESS_CHARS
    engine = masker(entities={"EMAIL_ADDRESS": "token"}, resolve_tokens_for=["*"])
    loop_ticks = 0

    async def ticker() -> None:
        nonlocal loop_ticks
        while True:
            await asyncio.sleep(0)
            loop_ticks += 1

    ticking = asyncio.create_task(ticker())
    big, big_counts = await engine.mask_text("a", text)
    ticking.cancel()
    small, _ = await engine.mask_text("a", json.dumps({"rows": rows[:3]}, separators=(",", ":")))

    assert loop_ticks > 100, loop_ticks  # the loop ran other work while the result was being masked
    assert big_counts == {"EMAIL_ADDRESS": 6000, "PHONE_NUMBER": 6000}
    assert json.loads(big)["rows"][:3] == json.loads(small)["rows"]
    assert "example.com" not in big
    resolved = await engine.resolve_arguments("a", "x.y", {"to": json.loads(big)["rows"][5999]["email"]})
    assert resolved == {"to": "user5999@example.com"}  # the tokens the worker wrote are in the vault


async def test_a_token_id_taken_in_the_vault_is_lengthened_for_a_large_result_too(workers: None) -> None:
    vault = MemoryVault()
    taken = token_for(agent_mac(SALT, "a"), "EMAIL_ADDRESS", "user7@example.com")
    await vault.put("a", taken, "somebody.else@example.com", 600)
    engine = masker(vault, entities={"EMAIL_ADDRESS": "token"}, resolve_tokens_for=["*"])
    _, text = big_result()
    jobs = offload.finished

    masked, _ = await engine.mask_text("a", text)

    assert offload.finished - jobs == 1  # the longer token written into the worker's text, not masked again
    token = json.loads(masked)["rows"][7]["email"]
    assert token != taken and token.startswith(taken[:-1]) and len(token) == len(taken) + 4
    assert await engine.resolve_arguments("a", "x.y", {"to": token}) == {"to": "user7@example.com"}
    assert await engine.resolve_arguments("a", "x.y", {"to": taken}) == {"to": "somebody.else@example.com"}
    in_place, _ = await engine.mask_json("a", json.loads(text))  # masked here, not in a worker
    assert json.loads(masked) == in_place


async def test_a_lengthened_token_the_result_also_holds_as_text_is_masked_again(workers: None) -> None:
    """The upstream's text holds the token the worker proposed (here the other value's): a plain
    replacement would change it too, so the worker masks the result again with the issued tokens."""
    vault = MemoryVault()
    taken = token_for(agent_mac(SALT, "a"), "EMAIL_ADDRESS", "user7@example.com")
    await vault.put("a", taken, "somebody.else@example.com", 600)
    engine = masker(vault, entities={"EMAIL_ADDRESS": "token"}, resolve_tokens_for=["*"])
    rows, _ = big_result()
    rows[0]["note"] = f"forwarded to {taken}"
    text = json.dumps({"rows": rows}, separators=(",", ":"))
    jobs = offload.finished

    masked, _ = await engine.mask_text("a", text)

    assert offload.finished - jobs == 2
    assert json.loads(masked)["rows"][0]["note"] == f"forwarded to {taken}"
    assert json.loads(masked)["rows"][7]["email"] != taken
    assert json.loads(masked) == (await engine.mask_json("a", json.loads(text)))[0]


class _Misdirected(shared_text.SharedText):
    """A memory file whose inode the worker will not find: as a worker that may not open it."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.sent = self.sent._replace(inode=self.sent.inode + 1)


@pytest.mark.skipif(not shared_text.available(), reason="no memfd_create here")
async def test_a_large_result_goes_by_pipe_where_a_worker_cannot_read_the_memory_file(
    workers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, text = big_result()
    engine = masker(entities={"EMAIL_ADDRESS": "token"})
    through_file, counts = await engine.mask_text("a", text)
    monkeypatch.setitem(shared_text._state, "available", True)
    monkeypatch.setattr(shared_text, "SharedText", _Misdirected)
    jobs = offload.finished

    by_pipe, again = await engine.mask_text("a", text)

    assert offload.finished - jobs == 2  # the refused job, then the text pickled
    assert not shared_text.available()
    assert (by_pipe, again) == (through_file, counts)
    assert await engine.mask_text("a", text) == (through_file, counts)  # by pipe from now on


def test_a_token_is_written_into_the_text_only_where_that_is_exact() -> None:
    from broker.pii.offloaded import retokened

    proposed = ["<EMAIL_ADDRESS_0000000a>", "<EMAIL_ADDRESS_0000000b>"]  # for a@x.io and b@x.io
    issued = ["<EMAIL_ADDRESS_0000000a1234>", proposed[1]]
    text = '{"<EMAIL_ADDRESS_0000000a>":["<EMAIL_ADDRESS_0000000a>","<EMAIL_ADDRESS_0000000b>"]}'

    assert retokened(text, proposed, issued, {"<EMAIL_ADDRESS_0000000a>": 2}) == (
        '{"<EMAIL_ADDRESS_0000000a1234>":["<EMAIL_ADDRESS_0000000a1234>","<EMAIL_ADDRESS_0000000b>"]}'
    )
    assert retokened(text, proposed, issued, {}) is None  # written once, found twice: one is not ours
    clash = text.replace("0000000b", "0000000a1234")
    assert (
        retokened(clash, proposed, issued, {"<EMAIL_ADDRESS_0000000a>": 2}) is None
    )  # the issued one is there
    shared = [proposed[0], proposed[0]]  # two values proposed one token
    assert retokened(text, shared, [issued[0], proposed[0]], {"<EMAIL_ADDRESS_0000000a>": 2}) is None


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, {}, [], None, True], "b": {"é": "ünïcode ✓", "n": -0.0, "big": 1e16}},
        [12345678901234567890, "x"],  # beyond 64 bits: json writes it
        {"deep": [[[["x"]]]], "tab": 'a\tb"c\\d\u2028'},
    ],
)
def test_serialise_writes_what_json_writes(value: Any) -> None:
    from broker.pii.jsontext import serialise

    assert serialise(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert serialise(value, 2) == json.dumps(value, ensure_ascii=False, indent=2)


async def test_json_text_with_nan_and_infinity_keeps_them() -> None:
    text, counts = await masker().mask_text("a", '{"v": NaN, "w": [Infinity, 1e999], "m": "ann@example.com"}')
    assert text == '{"v":NaN,"w":[Infinity,Infinity],"m":"<EMAIL_ADDRESS>"}'
    assert counts == {"EMAIL_ADDRESS": 1}


@pytest.mark.parametrize(
    "text",
    [
        '{"to":"ann@example.com","n":[1,2.5,null,true]}',
        '{\n  "to": "ann@example.com",\n  "note": "é日\U0001f600"\n}',
        '{"to":"ann@example.com","x":NaN,"y":-Infinity}',  # json.dumps writes these, not orjson
        '{"to":"ann@example.com","big":123456789012345678901234567890}',  # past 64 bits: json
        "[]",
    ],
)
def test_the_masked_text_handed_over_as_utf8_is_the_masked_text(text: str) -> None:
    engine = masker(entities={"EMAIL_ADDRESS": "token"})
    plain = engine.mask_text_as_proposed("a", text)
    handed: list[bytes] = []
    outcome = engine.mask_text_as_proposed("a", text, utf8_to=handed.append)
    assert plain is not None and outcome == ("", *plain[1:])
    assert [data.decode("utf-8", shared_text.ERRORS) for data in handed] == [plain[0]]
    issued = {("EMAIL_ADDRESS", "ann@example.com"): "<EMAIL_ADDRESS_1234abcd5678>"}
    again = engine.mask_text_as_proposed("a", text, issued)
    handed.clear()
    assert engine.mask_text_as_proposed("a", text, issued, utf8_to=handed.append) == ("", *again[1:])  # type: ignore[index]
    assert [data.decode("utf-8", shared_text.ERRORS) for data in handed] == [again[0]]  # type: ignore[index]


@pytest.mark.parametrize("rows", [3, 6000], ids=["on the loop", "in a worker process"])
async def test_lone_surrogates_under_hash_and_token_rules_are_masked_and_resolve(
    rows: int, workers: None
) -> None:
    """JSON's "\\ud800" (any upstream can send it) in a value a field rule hashes or tokenises: the
    result is masked, not a failed call, and the token resolves to the value as it came."""
    engine = masker(
        fields=[
            {"match": "code", "operator": {"operator": "hash"}},
            {"match": "ref", "operator": "token"},
        ],
        resolve_tokens_for=["*"],
    )
    from broker.pii.masker import IN_PROCESS_CHARS

    records = [{"code": f"a\ud800{n}", "ref": f"r\udfff{n}", "ok": n} for n in range(rows)]
    text = json.dumps({"rows": records})
    assert (len(text) > IN_PROCESS_CHARS) == (rows > 3)
    masked, counts = await engine.mask_text("a", text)

    out = json.loads(masked)["rows"]
    assert counts == {"PII": 2 * rows}
    assert [row["ok"] for row in out] == list(range(rows))
    assert len({row["code"] for row in out}) == rows and not any("\ud800" in row["code"] for row in out)
    assert all(TOKEN.fullmatch(row["ref"]) for row in out)
    resolved = await engine.resolve_arguments("a", "x.y", {"to": out[-1]["ref"]})
    assert resolved == {"to": f"r\udfff{rows - 1}"}
