"""Secrets: API keys and tokens by their published formats, private keys, credential assignments.

Formats with a fixed prefix (AWS `AKIA`, GitHub `ghp_`/`github_pat_`, Slack `xox*`, Stripe
`sk_live_`, OpenAI/Anthropic `sk-`, Google `AIza`, JWT `eyJ..`, our agent keys `tbk_`) are
found by one alternation. `Bearer`/`Basic` credentials, URL passwords and `key=value`
assignments whose key names a credential are found by context; a value that is not a
password must then look random (length, mixed character classes, entropy).

`secrets` below is the reference; where it is built, the native finder (broker/pii/native/src/
secrets.rs) gives the same findings in one pass over the text, leaving to Python only the checks
of values beyond ASCII (Unicode's letter cases). On pii_path's CRM records (which hold no secret)
that took the finder from ~1.95 to ~0.8 ms per MB of JSON, the Aho-Corasick pass alone having
cost ~1.3 (tests/pii/test_native_secrets.py holds the two to the same findings).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable

import ahocorasick_rs

from broker.pii.context import SEPARATOR, Found, Scan
from connectors.literals import literal_matches

ENTITY = "SECRET"

_TOKENS = re.compile(
    r"""
    (?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}   # AWS key ids
  | gh[pousr]_[A-Za-z0-9]{36,251}                                  # GitHub classic tokens
  | github_pat_[A-Za-z0-9_]{22,255}                                # GitHub fine-grained tokens
  | xox[abposre]-[A-Za-z0-9-]{10,250}                              # Slack tokens
  | xapp-\d-[A-Za-z0-9-]{10,250}                                   # Slack app tokens
  | (?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,247}                    # Stripe secret / restricted
  | whsec_[A-Za-z0-9+/=]{24,}                                      # Stripe webhook secrets
  | sk-(?:proj-|svcacct-|admin-|ant-[a-z]{3,5}\d\d-)?[A-Za-z0-9_-]{20,250}   # OpenAI, Anthropic
  | AIza[0-9A-Za-z_-]{35}                                          # Google API keys
  | ya29\.[0-9A-Za-z_-]{20,}                                       # Google OAuth access tokens
  | glpat-[0-9A-Za-z_-]{20}                                        # GitLab
  | npm_[A-Za-z0-9]{36}                                            # npm
  | hf_[A-Za-z0-9]{34}                                             # Hugging Face
  | SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}                       # SendGrid
  | tbk_[A-Za-z0-9]{40}                                            # our agent keys
  | eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*     # JWT (signature may be empty)
  | https://hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+
    """,
    re.VERBOSE,
)
_WORD = re.compile(r"[\w-]")

# Where a token may be: the end of one of its prefixes, found with the other literals of this
# module in one Aho-Corasick pass over the text (see `_LITERALS`), so the full alternation runs
# only near the few places found.
_TOKEN_PREFIXES = (
    *(f"gh{kind}_" for kind in "pousr"),
    *("github_pat_", "sk_", "rk_", "whsec_", "npm_", "hf_", "tbk_"),
    *(f"xox{chr(letter)}-" for letter in range(ord("a"), ord("z") + 1)),
    *("xapp-", "sk-", "glpat-", "ya29.", "SG.", "hooks.", "eyJ", "AIz"),
    *("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA"),
)
_LONGEST_PREFIX = len("https://hooks.")
_TOKEN_START = re.compile(r"(?<![\w-])[AgxsrwynhSte]")
# PEM private keys, whole: BEGIN and END lines are found separately so a text full of BEGIN lines
# without an END costs one pass, not one long scan per line.
_PEM_BEGIN = re.compile(r"-----BEGIN[A-Z ]{0,20}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END[A-Z ]{0,20}PRIVATE KEY(?: BLOCK)?-----")
_PEM_MAX_BODY = 16_000
_AUTH = re.compile(r"[BbTt](?:earer|EARER|asic|ASIC|oken|OKEN)[ \t]+([A-Za-z0-9\-._~+/]{12,}=*)")
# Where an `_AUTH` match may start: each of its words after each of its first letters.
_AUTH_WORDS = tuple(
    first + word for first in "BbTt" for word in ("earer", "EARER", "asic", "ASIC", "oken", "OKEN")
)
_URL, _PEM = "://", "PRIVATE KEY"
# All of them found in one pass (~1.5 ms per MB), where a regex or `in` per literal cost ~0.2-1 ms
# per MB each (16 passes: ~4.5 ms). What each pattern index is: a token prefix, an auth word, else
# a URL or PEM hint.
_LITERALS = ahocorasick_rs.AhoCorasick([*_TOKEN_PREFIXES, *_AUTH_WORDS, _URL, _PEM])
_FIRST_AUTH = len(_TOKEN_PREFIXES)
_FIRST_OTHER = _FIRST_AUTH + len(_AUTH_WORDS)
_URL_PASSWORD = re.compile(r"://([^\s:@/\x00]{1,64}):([^\s@/\x00]{1,128})@")

# `<name> = value`: find the operator, then look at the name. '=' and ':' are found apart, each a
# literal first (fast search; `=>?|:=?(?![\d/])` cost a test per character, 4 ms per MB). The '='
# of a ':=' is then found alone too, and finds nothing: the name before it ends in ':'.
_EQUALS = re.compile(r"=>?")
_COLON = re.compile(r":=?(?![\d/])")
_NAME_ENDINGS = ("key", "pwd", "ret", "ken", "swd", "ord", "ase", "ial", "als", "uth", "ass")
_NAME = re.compile(
    r"(?i)(?:^|[^a-z0-9_.-])([a-z0-9_.-]{0,40}(?:key|pwd|secret|token|passwd|password|passphrase"
    r"|credentials?|auth|pass))([\"']?)[ \t]{0,3}\Z"
)
_VALUE = re.compile(r"[ \t]{0,3}([\"']?)([^\s\"'<>,;&()\[\]{}\x00=]{4,512}={0,2})")
_PASSWORD_NAME = re.compile(r"(?i)(?:(?:^|[_.-])(?:pass|pwd)|passw(?:or)?d|passphrase)$")
_PLACEHOLDERS = frozenset({"null", "none", "true", "false", "undefined", "redacted", "changeme", ""})


def find_secrets(scan: Scan, out: list[Found]) -> None:
    """The secrets in the scan's text: `secrets(text)`, in native code where it is built."""
    text = scan.text
    if _secret_spans is None:
        out.extend(secrets(text))
        return
    for start, end, score, check in _secret_spans(text):
        if check == _FINAL or _CHECKS[check](text[start:end]):
            out.append((start, end, ENTITY, score))


def secrets(text: str) -> list[Found]:
    """The secrets in `text`, in the order the finders below give them: tokens, PEM blocks,
    `Bearer`/`Basic`/`Token` credentials, URL passwords, ':' then '=' assignments.

    This is the reference for the native finder (broker/pii/native/src/secrets.rs), which gives
    the same findings, each with the check left to Python when it needs Unicode's letter cases."""
    out: list[Found] = []
    anchors: set[int] = set()
    auth_starts: set[int] = set()
    url = pem = False
    for index, start, end in literal_matches(_LITERALS, text, overlapping=True):
        if index < _FIRST_AUTH:
            anchors.add(end - 1)  # the last character of a token prefix
        elif index < _FIRST_OTHER:
            auth_starts.add(start)
        elif end - start == len(_URL):
            url = True
        else:
            pem = True
    if anchors:
        _find_tokens(text, sorted(anchors), out)
    if pem:
        _find_pems(text, out)
    for match in _auth_matches(text, sorted(auth_starts)):
        start = match.start()
        if not (start and _WORD.match(text, start - 1)) and _looks_random(match.group(1), 12):
            out.append((match.start(1), match.end(1), ENTITY, 0.9))
    if url:
        for match in _URL_PASSWORD.finditer(text):
            out.append((match.start(2), match.end(2), ENTITY, 0.9))
    for pattern in (_COLON, _EQUALS):
        for match in pattern.finditer(text):
            found = _assigned_secret(text, match.start(), match.end(), match.group())
            if found is not None:
                out.append(found)
    return out


def _auth_matches(text: str, starts: list[int]) -> list[re.Match[str]]:
    """`_AUTH.finditer(text)`: tried only at `starts`, where a word of it follows one of its first letters."""
    matches: list[re.Match[str]] = []
    done = 0
    for start in starts:
        if start >= done and (match := _AUTH.match(text, start)) is not None:
            matches.append(match)
            done = match.end()
    return matches


def _find_pems(text: str, out: list[Found]) -> None:
    position = 0
    end_line: re.Match[str] | None = None
    while (begin := _PEM_BEGIN.search(text, position)) is not None:
        if end_line is None or end_line.start() < begin.end():
            end_line = _PEM_END.search(text, begin.end())
            if end_line is None:
                return
        body = (begin.end(), end_line.start())
        if body[1] - body[0] <= _PEM_MAX_BODY and text.find(SEPARATOR, *body) < 0:
            out.append((begin.start(), end_line.end(), ENTITY, 0.95))
            position = end_line.end()
        else:
            position = begin.end()


def _find_tokens(text: str, anchors: list[int], out: list[Found]) -> None:
    done = 0
    for anchor in anchors:
        if anchor < done:
            continue
        match = None
        for first in _TOKEN_START.finditer(text, max(done, anchor - _LONGEST_PREFIX), anchor + 1):
            match = _TOKENS.match(text, first.start())
            if match is not None and match.end() > anchor:
                break
        if match is None or match.end() <= anchor:
            continue
        start, end = match.span()
        done = end
        if (start and _WORD.match(text, start - 1)) or _WORD.match(text, end):
            continue  # part of a longer identifier
        value = match.group()
        if value.startswith("sk-") and not _looks_random(value[3:], 20):
            continue  # 'sk-learn-style-words', not a key
        out.append((start, end, ENTITY, 0.95))


def _assigned_secret(text: str, op_start: int, op_end: int, operator: str) -> Found | None:
    """`<name> <op> value` where the name ends in a credential word (db_password, AWS_SECRET_ACCESS_KEY)."""
    window = text[max(0, op_start - 48) : op_start]
    if not window.rstrip(" \t\"'")[-3:].lower().endswith(_NAME_ENDINGS):
        return None
    name_match = _NAME.search(window)
    value_match = _VALUE.match(text, op_end)
    if name_match is None or value_match is None:
        return None
    name, value = name_match.group(1), value_match.group(2)
    if "://" in value or "=" in value:
        return None  # a URL or a nested assignment: their own rules find the secret inside
    plain = value.lower().strip("*x.")
    if plain in _PLACEHOLDERS or value.lower() in _PLACEHOLDERS or value[0] == "<":
        return None
    if _PASSWORD_NAME.search(name):
        # In prose ('password: see below') only a value that does not read as a word counts.
        quoted_or_config = bool(name_match.group(2) or value_match.group(1)) or operator != ":"
        if not (quoted_or_config or not value.isalpha() or not value.islower()):
            return None
    elif not _looks_random(value, 16):
        return None
    return (value_match.start(2), value_match.end(2), ENTITY, 0.8)


def keyed_secret(value: str) -> bool:
    """Whether a value held under a credential key (`password`, `api_key`, ...) is a real secret."""
    plain = value.strip()
    return len(plain) >= 4 and plain.lower().strip("*x.") not in _PLACEHOLDERS and not plain.startswith("<")


def _looks_random(value: str, min_length: int) -> bool:
    """Long enough, at least two of lower/upper/digit, and over 3 bits of entropy per character."""
    if len(value) < min_length:
        return False
    classes = (
        any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)
    )
    if classes < 2:
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy > 3.0


# The checks the native finder leaves to Python (src/secrets.rs, `CHECK_*`): a value holding a
# character beyond ASCII, whose letter cases and digits are Unicode's.
_FINAL = 0
_CHECKS: tuple[Callable[[str], bool], ...] = (
    lambda value: True,
    lambda value: _looks_random(value, 12),
    lambda value: _looks_random(value[3:], 20),
    lambda value: _looks_random(value, 16),
    lambda value: not (value.isalpha() and value.islower()),
)

_secret_spans: Callable[[str], list[tuple[int, int, float, int]]] | None
try:
    from broker.pii._native import secret_spans as _secret_spans
except ImportError:  # not built: `secrets` in Python
    _secret_spans = None
