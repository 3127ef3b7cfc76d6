"""JSON text masked from its scan (`_native.scan_json`, `emit_json`) is masked exactly as parsed.

`Masker.mask_text_as_proposed` masks a big JSON text without its Python document where the native
module is built, and parses it (the reference: `json.loads`, `collect`, the write-back, orjson)
where the scan declines it. Generated hostile texts (random nesting and layout, every escape,
surrogate pairs and lone surrogates, numbers of every form, duplicate keys, keys holding e-mails
that are masked and renamed, clashing, invalid JSON) are masked both ways by two maskers of the
same policy: where the scan takes a text, the masked text, counts, token requests and repeated
tokens are the reference's, and the two maskers' memos end up alike.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from broker.pii.issuing import unpacked
from broker.pii.masker import Masker
from broker.pii.vault import MemoryVault
from policies.masking import MaskingPolicy
from tests.pii.test_native_walk import KEYS, POLICIES, STRINGS

_native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

SALT = b"scan-test-salt-0123456789"
TOKENS = {"entities": {"EMAIL_ADDRESS": "token", "PHONE_NUMBER": "token"}}
RENAMING = {"entities": {"EMAIL_ADDRESS": "replace", "PHONE_NUMBER": "token", "IP_ADDRESS": "redact"}}
SCAN_POLICIES = {
    "tokens": TOKENS,
    "renaming": RENAMING,
    "bench": {
        **TOKENS,
        "fields": [{"match": "latitude", "entity": "LOCATION"}, {"match": "longitude", "entity": "LOCATION"}],
    },
    **{name: {**TOKENS, **policy} for name, policy in POLICIES.items()},
}
E_MAIL_KEYS = ["ann@example.com", "bob@mail.example.com", "<EMAIL_ADDRESS>", "<EMAIL_ADDRESS> #2", "10.1.2.3"]
NUMBERS = [
    *("0", "-0", "1", "-1", "7", "999999", "1000000", "-1000000", "4155550143", "-4155550143"),
    *("123456789012345678", "-123456789012345678", "1234567890123456789", "99999999999999999999999"),
    *("0.0", "-0.0", "0.00", "1.5", "-1.5", "1.50", "0.1", "0.30000000000000004", "100.0", "48.85"),
    *("0.0001", "0.00001", "0.001", "9999999999999998.0", "1234567890123456.0", "12345678901234567.0"),
    *("1e5", "1E+5", "1.0e-3", "-2.5E-5", "1e400", "1.7976931348623157e308", "3.141592653589793"),
    *("NaN", "Infinity", "-Infinity", "01", "1.", ".5", "-", "+1", "0x10"),
]
TAKEN = [*NUMBERS[:3], *NUMBERS[4:14], "0.0", "1.5", "-1.5", "0.1", "0.30000000000000004", "100.0", "0.0001"]
ODD = ["a/b", 'say "hi"', "back\\slash", "\x7f\u2028\u00e9", "\b\f\x1f\x01"]
SPACE = ["", "", "", " ", "\n", "  ", "\t", "\r\n  "]


def escaped(text: str, rng: random.Random, rate: float) -> str:
    """`text` as a JSON string's content: what must be escaped escaped, the rest sometimes."""
    out = []
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    for char in text:
        if char in short and (char in '"\\' or rng.random() < 0.5):
            out.append(short[char])
        elif char == "/" and rng.random() < 0.5:
            out.append("\\/")
        elif ord(char) < 0x20 or (rng.random() < rate):
            code = ord(char)
            units = [code] if code < 0x10000 else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + (code & 0x3FF)]
            out.extend((f"\\u{unit:04x}" if rng.random() < 0.5 else f"\\u{unit:04X}") for unit in units)
        else:
            out.append(char)
    return "".join(out)


def string(rng: random.Random, rate: float, hostile: bool) -> str:
    roll = rng.random() if hostile else 1.0
    if roll < 0.02:
        return (
            '"' + rng.choice(["\\ud800", "\\udc00", "a\\ud83dz", "\\ud83d\\u0041"]) + '"'
        )  # lone surrogates
    if roll < 0.03:
        return '"' + rng.choice(["\ud800", "x\udfff"]) + '"'  # raw ones (a str may hold them)
    if roll < 0.05:
        return '"' + rng.choice(["\\x41", "\\u12", "\\u12G4", "a\x01b", "tab\there"]) + '"'  # invalid
    text = rng.choice([*STRINGS, *E_MAIL_KEYS, *ODD])
    return '"' + escaped(text, rng, rate) + '"'


def value(rng: random.Random, depth: int, rate: float, hostile: bool = True) -> str:
    roll = rng.random()
    space = rng.choice(SPACE)
    if depth < 5 and roll < 0.25:
        keys = [rng.choice(KEYS + E_MAIL_KEYS) for _ in range(rng.randint(0, 6))]
        if rng.random() > (0.03 if hostile else 0.01):
            keys = list(dict.fromkeys(keys))  # (mostly no duplicates: those are declined)
        items = [
            f'{space}"{escaped(k, rng, rate)}"{space}:{space}{value(rng, depth + 1, rate, hostile)}'
            for k in keys
        ]
        return "{" + ",".join(items) + space + "}"
    if depth < 5 and roll < 0.4:
        return (
            "["
            + ",".join(space + value(rng, depth + 1, rate, hostile) for _ in range(rng.randint(0, 5)))
            + space
            + "]"
        )
    if roll < 0.65:
        return string(rng, rate, hostile)
    if roll < 0.75:
        return rng.choice(["true", "false", "null"])
    if roll < 0.85:
        small = hostile and rng.random() < 0.5
        return repr(rng.random() / 10 ** rng.randint(0, 6) if small else rng.uniform(-1e6, 1e6))
    return rng.choice(NUMBERS if hostile else TAKEN)


def document(rng: random.Random) -> str:
    rate = rng.choice([0.0, 0.0, 0.05, 0.5])
    hostile = rng.random() < 0.5
    roll = rng.random()
    if roll < 0.03:
        text = value(rng, 5, rate, hostile)  # a scalar
    elif roll < 0.5:
        text = (
            "{" + ",".join(f'"{rng.choice(KEYS)}{n}":{value(rng, 1, rate, hostile)}' for n in range(4)) + "}"
        )
    else:
        text = "[" + ",".join(value(rng, 1, rate, hostile) for _ in range(4)) + "]"
    roll = rng.random()
    if roll < 0.03:
        text = text[: rng.randrange(len(text))]  # cut short
    elif roll < 0.05:
        text += rng.choice([" x", ",", "]", "{}", "\u3000"])  # extra data
    elif roll < 0.07:
        text = "[" + text * 2 + "]" if rng.random() < 0.5 else "[" * 300 + "]" * 300  # deep
    return text


def maskers(policy: dict[str, Any]) -> tuple[Masker, Masker]:
    """A masker with the native memo of clean strings, and one with a set of pairs (the reference)."""
    masking = MaskingPolicy.model_validate(policy)
    parsing = Masker(masking, SALT, MemoryVault())
    parsing._strings.clean = parsing._rules.clean = set()
    return Masker(masking, SALT, MemoryVault()), parsing


def assert_masked_alike(texts: list[str], policy: dict[str, Any]) -> int:
    """Each text masked from its scan and parsed, by two maskers: alike where scanned. How many were."""
    scanning, parsing = maskers(policy)
    taken = 0
    for text in texts:
        expected = parsing._as_proposed_parsed("agent", text, None, None)
        scanned = scanning._as_proposed_scanned("agent", text, None, None)
        if scanned is None:
            assert scanning.mask_text_as_proposed("agent", text) == expected
            continue
        taken += 1
        assert scanned == expected, text
        if expected[2]:  # again with the tokens issued, and as UTF-8
            values, proposed = unpacked(expected[3]), unpacked(expected[4])
            issued = dict(zip(zip(expected[2], values, strict=True), proposed, strict=True))
            handed: list[bytes] = []
            again = scanning._as_proposed_scanned("agent", text, issued, handed.append)
            assert again == ("", *parsing._as_proposed_parsed("agent", text, issued, None)[1:]), text
            assert handed[0].decode() == expected[0]
    assert scanning._rules.known_keys == parsing._rules.known_keys
    assert dict(scanning._rules.known_children) == dict(parsing._rules.known_children)
    assert set(scanning._strings.clean) == set(parsing._strings.clean)
    return taken


@pytest.mark.parametrize("name", SCAN_POLICIES)
@pytest.mark.parametrize("seed", [1, 2])
def test_generated_texts_are_masked_as_parsed_or_declined(name: str, seed: int) -> None:
    rng = random.Random(seed)
    texts = [document(rng) for _ in range(400)]
    taken = assert_masked_alike(texts, SCAN_POLICIES[name])
    assert taken > len(texts) // 4  # (most of them are the scan's to mask)


def test_masked_keys_are_renamed_as_parsed_keys_are() -> None:
    texts = [
        '{"ann@example.com": 1, "bob@mail.example.com": 2, "<EMAIL_ADDRESS>": 3, "<EMAIL_ADDRESS> #2": 4}',
        '[{"<EMAIL_ADDRESS>": {"ann@example.com": [1, {"bob@mail.example.com": "x"}]}, "x@y.example": null}]',
        '{"10.1.2.3": "10.1.2.4", "a": {"10.1.2.3": {}}}',
    ]
    assert assert_masked_alike(texts, RENAMING) == len(texts)


def test_what_the_scan_declines() -> None:
    scanning, _ = maskers(TOKENS)
    declined = [
        *('{"a": 1, "a": 2}', '{"a": 1, "\\u0061": 2}', "[-0]", "[1e5]", "[1.50]", "[0.00001]", "[NaN]"),
        *(
            "[1234567890123456789]",
            '["\\ud800"]',
            '["\ud800"]',
            '"text"',
            "[1] x",
            "[1,]",
            "[" * 300 + "]" * 300,
        ),
    ]
    for text in declined:
        assert scanning._as_proposed_scanned("agent", text, None, None) is None, text
    taken = [
        '{"a": 1, "b": [1, 2.5, -0.5, true, null]}',
        '["\\ud83d\\ude00 \\u00e9 \\/ \\n"]',
        "[0.0001, 0.0]",
    ]
    for text in taken:
        assert scanning._as_proposed_scanned("agent", text, None, None) is not None, text


def test_floats_taken_are_written_as_python_and_orjson_write_them() -> None:
    rng = random.Random(5)
    floats = [rng.uniform(-1, 1) * 10 ** rng.randint(-6, 18) for _ in range(3000)]
    texts = ["[" + ", ".join(repr(number) for number in floats[n : n + 50]) + "]" for n in range(0, 3000, 50)]
    texts += ["[" + ", ".join(f"{number:.{rng.randint(1, 20)}f}" for number in floats[:200]) + "]"]
    assert_masked_alike(texts, {**TOKENS, "fields": [{"match": "$..*", "entity": "PII", "operator": "mask"}]})
    assert_masked_alike(texts, TOKENS)


def test_records_like_the_benchmarks_are_masked_as_parsed() -> None:
    from bench._upstreams import crm_records

    compact = json.dumps(crm_records(200, 1), separators=(",", ":"))
    indented = json.dumps(crm_records(100, 2), indent=2, ensure_ascii=False)
    assert assert_masked_alike([compact, indented, compact], SCAN_POLICIES["bench"]) == 3
