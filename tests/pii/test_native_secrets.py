"""The native secrets finder (`secret_spans`, through `find_secrets`) finds exactly what its Python
reference (`secrets`) finds.

The reference is `_LITERALS`' anchors and `_TOKENS` tried near them, the PEM lines, `_AUTH`,
`_URL_PASSWORD` and the ':' / '=' assignments (`_NAME` read back from the operator, `_VALUE`,
placeholders, `_looks_random`). Generated text aims at their edges: every token prefix, with
bodies one short of, at and one past each count; '=' '=>' ':=' ':' after names that do and do
not name a credential (in every case, quoted, with 0-4 blanks, 40-odd characters long, with the
letters `re` folds to 'i', 's' and 'k'), values of 3-5 and 511-513 characters, placeholders,
Bearer/Basic/Token in every case, URL users and passwords at their limits, PEM BEGIN lines
without an END and with long bodies, letters and digits of other scripts, astral characters, NUL
and newlines.
"""

from __future__ import annotations

import json
import random

import pytest

from broker.pii.context import SEPARATOR, Scan
from broker.pii.recognizers_secret import _TOKEN_PREFIXES, find_secrets, secrets
from tests.pii.labelled import labelled_set

native = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
)

OTHER_SCRIPTS = [
    "é",
    "ß",
    "\u0661",  # Arabic-Indic one: \w and \d
    "\U0001d7ce",  # mathematical bold zero: a digit outside the BMP
    "\u00b2",  # superscript two: isdigit, not \d
    "\u0130",  # capital I with dot: `re` folds it to 'i'; lower() gives two characters
    "\u0131",  # dotless i: folded to 'i'
    "\u017f",  # long s: folded to 's'
    "\u212a",  # Kelvin sign: folded to 'k', lower() gives 'k'
    "\u01c5",  # a title-case letter
    "\U00010400",  # Deseret capital long I: an upper-case letter outside the BMP
    "\U0001f600",
    "\u3000",  # ideographic space: \s
    "\ud800",  # a lone surrogate (JSON "\\ud800" decodes to one): no UTF-8 for it
    "\udfff",
]
NAMES = [
    "password",
    "PASSWORD",
    "Passwd",
    "pwd",
    "db_pass",
    "pass",
    "xpass",
    "my.pwd",
    "passphrase",
    "api_key",
    "apikey",
    "AWS_SECRET_ACCESS_KEY",
    "token",
    "auth",
    "credentials",
    "credential",
    "client-secret",
    "monkey",
    "keys",
    "secretary",
    "ord",
    "ase",
    "pa\u017f\u017f",
    "pa\u017fsword",
    "\u212aey",
    "api_\u212a\u212a\u212a",
    "cr\u0130dential",
    "cred\u0131ntial",
    "a" * 37 + "key",
    "a" * 38 + "key",
    "b" * 40 + "pass",
    "c" * 41 + "pass",
    "d" * 45 + "key",
    "x key",
    "user name",
]
OPERATORS = ["=", "=>", ":=", ":", "==", "=>=", ":/", ":1", ":\u0661", ":=1", ":=/"]
VALUES = [
    "hunter2",
    "hunter",
    "Hunter",
    "aB3$xY9!kL2@",
    "AbC123xyzQWE456rtyZZ",
    "abcdefghijklmnopqrstuvwxyz",
    "null",
    "None",
    "***",
    "xxxx",
    "X.x*",
    "CHANGEME",
    "<secret>",
    "abc",
    "abcd",
    "abcde",
    "a=b",
    "http://x",
    "Zz9" * 170 + "Q",
    "Zz9" * 171,
    "Zz9" * 171 + "Q",
    "Qw3" * 6 + "==",
    "Qw3" * 6 + "===",
    "pässwörd",
    "PÄSSWÖRD",
    "\u01c5abcdef",
    "\U00010400" * 5,
    "aB1\U0001d7ce\u00b2xYz9876Kq",
    "K\u212aey1",
]
TOKENS = [
    "AKIA" + "ABCDEFGHIJ012345",
    "ASIA" + "ABCDEFGHIJ01234",
    "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6",
    "gho_" + "x" * 35,
    "ghs_" + "Ab1" * 84,
    "github_pat_" + "aB_3" * 6,
    "github_pat_" + "a" * 21,
    "xoxb-" + "1234567890",
    "xoxz-" + "1234567890",
    "xapp-1-" + "A1-b2-C3-d4",
    "xapp-\u0661-" + "A1-b2-C3-d4",
    "sk_live_" + "aB3dE6gH9j",
    "rk_test_" + "a" * 9,
    "whsec_" + "aB3+/=" * 4,
    "sk-" + "aB3dE6gH9jK2mN5pQ8sT",
    "sk-proj-" + "aB3dE6gH9jK2mN5pQ8sT",
    "sk-svcacct-" + "aB3dE6gH9jK2mN5pQ8",
    "sk-admin-" + "Z9y8X7w6V5u4T3s2R1q0",
    "sk-ant-api03-" + "aB3dE6gH9jK2mN5pQ8sT1vW",
    "sk-ant-abcdef03-" + "aB3dE6gH9jK2mN5pQ8sT1vW",
    "sk-ant-ab03-" + "aB3dE6gH9jK2mN5pQ8sT1vW",
    "sk-ant-api\u0660\u0663-" + "aB3dE6gH9jK2mN5pQ8sT1vW",
    "sk-learn-style-words-here-and-more",
    "AIza" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3h-",
    "ya29." + "aB3dE6gH9jK2mN5pQ8sT",
    "glpat-" + "aB3dE6gH9jK2mN5pQ8sT",
    "npm_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6",
    "hf_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3",
    "SG." + "aB3dE6gH9jK2mN5pQ8sT1v" + "." + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kL9mN2p",
    "tbk_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kL9m",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig_-",
    "eyJhbGciOiJ.eyJzdWIiOiI.",
    "eyJhbGci.eyJzdWIi.x",
    "https://hooks.slack.com/services/T0123/B4567/abcXYZ",
    "https://hooks.slack.com/services/T/B4567/abc",
]
AUTH = ["Bearer", "bearer", "BEARER", "Basic", "basic", "BASIC", "Token", "token", "TOKEN"]
AUTH += ["BeArEr", "xBearer", "tOKEN"]
AUTH_VALUES = ["aB3dE6gH9jK2", "aB3dE6gH9jK", "abc.DEF_123~+/xyz==", "aaaaaaaaaaaaaaa", "aB3dE6gH9jK\u00e92"]
URL_PARTS = ["://", "https://", "u", "user", "a" * 64, "a" * 65, ":", "p@ss", "pa:ss", "x" * 128, "y" * 129]
URL_PARTS += ["@", "/", " ", "\u3000", "host", SEPARATOR]
PEM_PARTS = [
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY BLOCK-----",
    "-----BEGIN ABCDEFGHIJKLMNOPQR PRIVATE KEY-----",  # 20 of [A-Z ] before PRIVATE: the most
    "-----BEGIN ABCDEFGHIJKLMNOPQRS PRIVATE KEY-----",
    "-----BEGINABCDEFGHIJKLMNOPQRST PRIVATE KEY BLOCK-----",
    "-----END ABCDEFGHIJKLMNOPQR PRIVATE KEY-----",
    "-----END ABCDEFGHIJKLMNOPQRS PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY PRIVATE KEY-----",
    "------BEGIN PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY----",
    "-----END PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "-----END PRIVATE KEY BLOCK-----",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "\n",
]
PIECES = [
    *"aAzZ09_-.=:;'\" \t\n/@<>,&()[]{}*x!#",
    *OTHER_SCRIPTS,
    *_TOKEN_PREFIXES,
    SEPARATOR,
    "==",
    "=>",
    ":=",
    "://",
    "  ",
    "    ",
    "PRIVATE KEY",
    "https://hooks.",
    "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kL9m",
    "0123456789",
    "key",
    "pass",
    "Bearer ",
]


def reference(text: str) -> list[tuple[int, int, str, float]]:
    return secrets(text)


def found(text: str) -> list[tuple[int, int, str, float]]:
    out: list[tuple[int, int, str, float]] = []
    find_secrets(Scan(text), out)
    return out


def pieces(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40)))


def assignment(rng: random.Random) -> str:
    quote = rng.choice(["", "", '"', "'"])
    name = rng.choice(NAMES)
    if rng.random() < 0.3:
        name = "".join(rng.choice([c.upper(), c.lower(), c]) for c in name)
    return (
        rng.choice(["", " ", "\n", "{", ",", "-", "é", "x", SEPARATOR, "\u0130"])
        + quote
        + name
        + rng.choice(["", quote, '"', "'"])
        + rng.choice(["", " ", "\t", "  ", " \t ", "    "])
        + rng.choice(OPERATORS)
        + rng.choice(["", " ", "\t", "   ", "    "])
        + rng.choice(["", quote, '"', "'"])
        + rng.choice(VALUES)
        + rng.choice(["", quote, " ", ",", ";", "=", "==", "é", SEPARATOR, "\n", "}"])
    )


def token(rng: random.Random) -> str:
    body = rng.choice(TOKENS)
    if rng.random() < 0.4:  # one short of, or one past, its count
        body = body[:-1] if rng.random() < 0.5 else body + rng.choice("aZ9_-.é")
    return (
        rng.choice(["", " ", "-", "_", "x", "é", "\u0661", SEPARATOR, "=", "://"])
        + body
        + rng.choice(["", " ", "-", "_", "x", "é", "\u0661", ".", SEPARATOR, "\n", "=="])
    )


def auth(rng: random.Random) -> str:
    return (
        rng.choice(["", " ", "-", "x", "é", "Authorization: ", SEPARATOR])
        + rng.choice(AUTH)
        + rng.choice(["", " ", "\t", " \t ", "\n"])
        + rng.choice(AUTH_VALUES)
        + rng.choice(["", "=", "==", " ", "é", "-"])
    )


def url(rng: random.Random) -> str:
    return "".join(rng.choice(URL_PARTS) for _ in range(rng.randint(1, 8)))


def pem(rng: random.Random) -> str:
    parts = [rng.choice(PEM_PARTS) for _ in range(rng.randint(1, 6))]
    if rng.random() < 0.2:
        parts.insert(rng.randrange(len(parts) + 1), "A" * rng.choice([15_990, 16_000, 16_010]))
    if rng.random() < 0.2:
        parts.insert(rng.randrange(len(parts) + 1), SEPARATOR)
    return "".join(parts)


GENERATORS = [pieces, assignment, token, auth, url]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_secrets_match_the_reference_on_generated_text(seed: int) -> None:
    rng = random.Random(seed)
    texts = ["".join(rng.choice(GENERATORS)(rng) for _ in range(rng.randint(1, 4))) for _ in range(40_000)]
    differ = [text for text in texts if found(text) != reference(text)]
    assert not differ, f"{len(differ)} texts differ, first: {differ[0]!r}"
    assert sum(1 for text in texts if reference(text)) > 5_000  # plenty of secrets among them


def test_secrets_match_the_reference_on_pem_blocks() -> None:
    rng = random.Random(4)
    texts = [pem(rng) + rng.choice(["", "x", SEPARATOR]) + pem(rng) for _ in range(600)]
    differ = [text for text in texts if found(text) != reference(text)]
    assert not differ, f"{len(differ)} texts differ, first: {differ[0][:200]!r}"
    assert sum(1 for text in texts if reference(text)) > 100


def test_secrets_match_the_reference_on_realistic_text() -> None:
    samples = labelled_set(seed=11, texts=1500, records=300)
    joined = SEPARATOR.join(sample.text for sample in samples)
    assert found(joined) == reference(joined)
    records = json.dumps([sample.text for sample in samples], ensure_ascii=False)
    assert found(records) == reference(records)
    assert len(reference(joined)) > 100  # the text holds plenty of secrets to find


def test_secrets_read_every_string_width() -> None:
    """Python stores a string in 1, 2 or 4 bytes a character: the offsets are its indices in each."""
    for extra in ("", "é", "€", "\U0001f600"):
        text = (
            extra
            + ' password: "Zx9!aQ" token=AbC123xyzQWE456rtyZZ Bearer aB3dE6gH9jK2 ghp_'
            + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6 https://u:p4ss@h"
            + extra
        )
        assert found(text) == reference(text)
        assert [text[start:end] for start, end, _, _ in found(text)] == [
            "ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6",
            "aB3dE6gH9jK2",
            "p4ss",
            "Zx9!aQ",
            "AbC123xyzQWE456rtyZZ",
        ]


def test_values_beyond_ascii_are_checked_in_python() -> None:
    """The native finder leaves Unicode's letter cases to Python: a password in prose that is one
    lower-case word of another script is no secret; one with an upper-case letter is."""
    assert found("password: pässwörd") == []
    assert found("password: pässwÖrd") == [(10, 18, "SECRET", 0.8)]
    key = "sk-ant-api\u0660\u0663-aB3dE6gH9jK2mN5pQ8sT1vW"  # Arabic-Indic digits: `\d` to `re`
    assert found(key) == reference(key) == [(0, len(key), "SECRET", 0.95)]
    assert [check for _, _, _, check in native.secret_spans(key)] == [2]
