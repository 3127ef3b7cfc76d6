"""Detection: each entity type on its own, its look-alikes, validators and overlap resolution."""

from __future__ import annotations

import re
import time

import pytest
from presidio_anonymizer.entities import RecognizerResult

from broker.keys import new_key
from broker.pii import analyze
from broker.pii.detector import Detector, resolve
from broker.pii.validators import credit_card_ok, iban_check, ipv6_ok, luhn_ok, ssn_ok

DETECTOR = Detector()


def found(text: str, key: str | None = None) -> list[tuple[str, str]]:
    return [(entity, text[start:end]) for start, end, entity, _ in DETECTOR.find(text, key)]


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "+49 30 901820",
        "+33 1 42 68 53 00",
        "+81 3-1234-5678",
        "(212) 555-0143",
        "0044 20 7946 0958",
        "+44(0)115 4960914",
        "+49 (0) 9141 777631",
        "+1-780-563-6083x7783",
        "206.269.0743",
        "1-800-555-0199",
        "1.800.555.0199",
        "04 15 39 15 00",
        "(0161) 4960066",
        "080-9141-7776",
        "+61.437.406.812",
        "+55 61 9141-7776",
        "+7 (495) 123-45-67",
        "+86 138 0013 8000",
    ],
)
def test_phone_formats_from_many_countries(phone: str) -> None:
    assert found(f"Reach her on {phone} after lunch.") == [("PHONE_NUMBER", phone)]


def test_bare_digits_are_phones_only_with_context() -> None:
    assert found("call me: 4155550143") == [("PHONE_NUMBER", "4155550143")]
    assert found("4155550143", key="mobilePhone") == [("PHONE_NUMBER", "4155550143")]
    assert found("ref 4155550143") == []
    assert found("4155550143", key="order_id") == []


def test_a_key_naming_an_id_does_not_hide_what_the_text_names() -> None:
    assert found("1710498153123", key="timestamp") == []
    assert found("call me on 4155550143", key="order_id") == [("PHONE_NUMBER", "4155550143")]
    assert found("card 4111111111111111", key="id") == [("CREDIT_CARD", "4111111111111111")]


@pytest.mark.parametrize("value", ["1234567.00", "2024-03-15", "15.03.2024", "94107-1234"])
def test_amounts_dates_and_zip_codes_are_no_phones_even_under_a_phone_key(value: str) -> None:
    assert found(value, key="phone") == []


def test_an_ip_address_under_a_phone_key_is_an_ip_address() -> None:
    assert found("10.20.30.40", key="phone") == [("IP_ADDRESS", "10.20.30.40")]


@pytest.mark.parametrize(
    "text",
    [
        "Order ORD-2024-558812 shipped",
        "Total: $1,234.56 or 1 234 567,89 €",
        "due 2024-03-15T10:22:33Z, i.e. 03/15/2024 or 15.03.2024",
        "epoch 1710498153 and 1710498153123 ms",
        "version 10.4.12, build 2.14.1.20240315",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "host 192.168.100.200 port 8080",
        "ZIP 94107-1234, ISBN 0-306-40615-2, ISBN 978-3-16-148410-0",
        "invoice number 0612345678",
        "coordinates 37.7749, -122.4194",
        "part 006-89345-58",
        "8 886 093 80 65 items",
    ],
)
def test_numbers_that_are_not_phones(text: str) -> None:
    assert [entity for entity, _ in found(text) if entity == "PHONE_NUMBER"] == []


def test_a_list_of_phones_splits_only_when_every_part_is_one() -> None:
    assert found("phones: 0612345678 0698765432") == [
        ("PHONE_NUMBER", "0612345678"),
        ("PHONE_NUMBER", "0698765432"),
    ]


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",  # Visa
        "4111-1111-1111-1111",
        "4222222222222",  # Visa 13
        "5555 5555 5555 4444",  # Mastercard
        "2223 0031 2200 3222",  # Mastercard 2-series
        "3782 822463 10005",  # Amex
        "3056 930902 5904",  # Diners 14
        "6011 1111 1111 1117",  # Discover
        "3530 1113 3330 0000",  # JCB
        "6212 3456 7890 1234 569",  # UnionPay 19
        "6759 6498 2643 8453",  # Maestro
        "2200 0000 0000 0004",  # Mir
    ],
)
def test_cards_of_every_brand(card: str) -> None:
    assert found(f"paid with {card} today") == [("CREDIT_CARD", card)]


def test_card_look_alikes_are_rejected() -> None:
    assert found("card 4111 1111 1111 1112") == []  # Luhn fails
    assert found("EAN 4006381333931") == []  # a barcode, named as one
    assert not credit_card_ok("4111 1111-1111 1111")  # mixed separators
    assert not credit_card_ok("1234567812345670")  # Luhn ok, no brand
    assert luhn_ok("79927398713")


def test_ssn_rules() -> None:
    assert found("SSN 536-22-8891") == [("US_SSN", "536-22-8891")]
    assert found("SSN: 536228891") == [("US_SSN", "536228891")]
    assert found("536228891") == []  # nine bare digits without context
    for invalid in ("000-12-3456", "666-12-3456", "912-12-3456", "536-00-8891", "536-22-0000"):
        assert not ssn_ok(invalid)
        assert found(f"SSN {invalid}") == []
    # Published samples are structurally valid: masked, at a lower score.
    samples = DETECTOR.find("SSN 078-05-1120 or 123-45-6789")
    assert [(e, s) for _, _, e, s in samples] == [("US_SSN", 0.5), ("US_SSN", 0.5)]


def test_iban_checksum_and_lengths() -> None:
    assert found("IBAN DE89 3704 0044 0532 0130 00") == [("IBAN_CODE", "DE89 3704 0044 0532 0130 00")]
    assert found("to GB82WEST12345698765432.") == [("IBAN_CODE", "GB82WEST12345698765432")]
    assert found("IBAN DE89 3704 0044 0532 0130 01") == []
    assert iban_check("DE89370400440532013000") == 1.0
    assert iban_check("DE00370400440532013000") == 0.0  # check digits 00 never occur


def test_ip_addresses() -> None:
    text = (
        "from 10.0.0.1, 2001:db8::1, ::ffff:192.0.2.1 and fe80::1%eth0; not 10:22:33, 00:1a:2b:3c:4d:5e, 1.2"
    )
    assert [value for _, value in found(text)] == [
        "10.0.0.1",
        "2001:db8::1",
        "::ffff:192.0.2.1",
        "fe80::1%eth0",
    ]
    assert found("http://192.168.1.1/admin and [2001:db8::2]:443") == [
        ("IP_ADDRESS", "192.168.1.1"),
        ("IP_ADDRESS", "2001:db8::2"),
    ]
    assert not ipv6_ok("10:22:33")
    assert found("999.1.1.1 and 1.2.3.4.5, version 1.2.3.4") == []


def test_emails() -> None:
    text = "Mail Ann.Lee+crm@mail.example.co.uk, 'bob@example.org' or müller@exämple.de."
    assert [value for _, value in found(text)] == [
        "Ann.Lee+crm@mail.example.co.uk",
        "bob@example.org",
        "müller@exämple.de",
    ]
    assert found("@mention, user@localhost, a..b@example.com") == []


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        ("ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", None),
        ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", None),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("rk_live_4eC39HqLyjWDarjtT1zdp7dc", None),
        ("OPENAI_API_KEY=sk-proj-abcDEF1234567890ghijKLMNopq", "sk-proj-abcDEF1234567890ghijKLMNopq"),
        ("AIzaSyA-1234567890abcdefghijklmnopqrstu", None),
        ("Authorization: Bearer abcDEF123456ghiJKL789", "abcDEF123456ghiJKL789"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            None,
        ),
        ("password=hunter22", "hunter22"),
        ('"client_secret": "Zx8Qm2Lp9Rt4Vb7Nc1Kd3Fg6"', "Zx8Qm2Lp9Rt4Vb7Nc1Kd3Fg6"),
        ("postgres://app:s3cr3tPw@db.internal:5432/crm", "s3cr3tPw"),
    ],
)
def test_secrets(text: str, secret: str | None) -> None:
    assert found(text) == [("SECRET", secret or text)]


def test_private_keys_and_our_own_agent_keys() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234\nabcd==\n-----END RSA PRIVATE KEY-----"
    assert found(f"key:\n{pem}\nend") == [("SECRET", pem)]
    key = new_key()
    assert found(f"use {key} here") == [("SECRET", key)]


def test_secret_look_alikes_are_rejected() -> None:
    assert found("we use sk-learn-style-words-for-everything here") == []
    assert found("password: see the wiki") == []
    assert found("token: expired, api_key=<redacted>, secret=null") == []


def test_values_under_credential_keys_are_secrets_whole() -> None:
    assert found("correct horse battery staple", key="password") == [
        ("SECRET", "correct horse battery staple")
    ]
    assert found("***", key="api_key") == []
    assert found("hello", key="next_page_token") == []


def test_overlaps_resolve_longest_then_score_then_priority() -> None:
    # An e-mail holding phone-like digits wins whole; ties go by score, then the fixed priority.
    assert found("4155550143@example.com") == [("EMAIL_ADDRESS", "4155550143@example.com")]
    items = [
        (0, 10, "PHONE_NUMBER", 0.9),
        (0, 10, "US_SSN", 0.9),
        (5, 20, "IBAN_CODE", 0.5),
        (30, 32, "SECRET", 1.0),
    ]
    assert resolve(items) == [(5, 20, "IBAN_CODE", 0.5), (30, 32, "SECRET", 1.0)]
    assert resolve(items[:2]) == [(0, 10, "US_SSN", 0.9)]
    assert resolve(list(reversed(items))) == resolve(items)


def test_presidio_results_and_entity_choice() -> None:
    results = analyze("mail ann@example.com")
    assert results == [RecognizerResult("EMAIL_ADDRESS", 5, 20, 1.0)]
    only_ips = Detector(["IP_ADDRESS"])
    assert only_ips.find("ann@example.com 10.0.0.1") == [(16, 24, "IP_ADDRESS", 0.95)]
    with pytest.raises(ValueError, match="unknown pattern entities: PERSON"):
        Detector(["PERSON"])


def test_many_strings_in_one_pass_match_one_by_one() -> None:
    texts = ["call 4155550143", "ann@example.com", "", "nothing", "IBAN GB82WEST12345698765432", "a\x00b"]
    keys = ["note", "email", None, None, None, None]
    assert DETECTOR.find_many(texts, keys) == [DETECTOR.find(t, k) for t, k in zip(texts, keys, strict=True)]


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN PRIVATE KEY-----\n" * 4000,
        "1:" * 50_000,
        "ab:" * 35_000,
        "password=" * 12_000,
        "ghp_" * 25_000,
        "1 " * 50_000,
        "a@b." * 25_000,
    ],
    ids=["pem-without-end", "colons", "hex-colons", "assignments", "prefixes", "digit-runs", "at-signs"],
)
def test_adversarial_text_is_scanned_in_linear_time(text: str) -> None:
    start = time.process_time()
    DETECTOR.find(text)
    assert time.process_time() - start < 0.5


def test_phone_context_class_holds_every_case_form_of_the_first_letters() -> None:
    """PHONE_CONTEXT starts with a class of its words' first letters: it must hold every character
    that `re`, ignoring case, takes for one of them, or a word written with it would be missed."""
    from broker.pii.context import _PHONE_WORDS, FOLDED_FIRSTS, PHONE_CONTEXT

    firsts = "".join(sorted({word[0] for word in _PHONE_WORDS.split()}))
    every_character = "".join(map(chr, range(0x110000)))
    folded = set(re.findall(f"(?i)[{firsts}]", every_character)) - set(firsts.lower() + firsts.upper())
    assert folded == set(FOLDED_FIRSTS)
    assert (
        PHONE_CONTEXT.search("call me on")
        and PHONE_CONTEXT.search("\u017fms:")
        and PHONE_CONTEXT.search("\u212aontakt")
        and PHONE_CONTEXT.search("\u96fb\u8a71")
    )
    assert not PHONE_CONTEXT.search("recall") and not PHONE_CONTEXT.search("phoned x")


def test_the_look_back_before_an_address_stops_only_where_no_version_word_can_end() -> None:
    """An IPv4 address after 'version' (or 'v', 'build'...) is a version: the regex for it runs only
    where the character before the run of spaces and `.:=#` ends one of those words, so those sets
    must hold every character `re`, ignoring case, takes for those letters and for that run."""
    from broker.pii.recognizers import _VERSION_LAST, _VERSION_TRAILING

    every_character = "".join(map(chr, range(0x110000)))
    assert set(re.findall("(?i)[nredv]", every_character)) == set(_VERSION_LAST)
    trailing = set(re.findall(r"(?i)[\s.:=#]", every_character))
    assert trailing == {c for c in every_character if c.isspace()} | set(_VERSION_TRAILING)
    found = Detector(["IP_ADDRESS"]).find
    for text in ("version 10.0.0.1", "Firmware: 10.2.3.4", "VER 10.0.0.1", "build #=\u2003 1.2.3.4"):
        assert found(text) == [], text
    assert found("REV 10.0.0.1") == [(4, 12, "IP_ADDRESS", 0.95)]  # 'rev' is no version word
    for text in ("from 10.0.0.1", "x" * 30 + " " * 20 + "10.0.0.1", "ver\x00 10.0.0.1", "(10.0.0.1)"):
        assert [f[2] for f in found(text)] == ["IP_ADDRESS"], text
