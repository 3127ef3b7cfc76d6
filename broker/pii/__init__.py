"""PII masking: find personal data and secrets in tool results and mask them per policy.

    masker = Masker(masking_for(policies, subject), salt=settings_salt, vault=MemoryVault())
    masked, counts = await masker.mask_json("agent-1", result)           # decoded JSON
    text, counts = await masker.mask_text("agent-1", "mail bob@example.com")
    blocks, counts = await masker.mask_content_blocks("agent-1", content)  # MCP content
    args = await masker.resolve_arguments("agent-1", "mail.send", arguments)
    scrub("error for bob@example.com")  # -> 'error for <EMAIL_ADDRESS>'

Detection (`Detector`) is compiled regexes with validators (Luhn, mod-97, SSA rules,
`phonenumbers`, `ipaddress`, entropy); it yields presidio `RecognizerResult`s through
`Detector.analyze`. Masking uses presidio-anonymizer operators plus a keyed hash and
reversible per-agent tokens kept in a `TokenVault`.
"""

from __future__ import annotations

from presidio_anonymizer.entities import RecognizerResult

from broker.pii.detector import PATTERN_ENTITIES, Detector
from broker.pii.engine import ENGINE_VERSION, Counts
from broker.pii.masker import Masker
from broker.pii.vault import TOKEN, MemoryVault, TokenVault, UnknownToken, resolve_tokens

_SCRUBBER = Detector()


def scrub(text: str) -> str:
    """`text` with every detected entity replaced by its type, e.g. `<EMAIL_ADDRESS>`.

    For error messages, log lines and audit strings: no policy, no vault, no tokens.
    """
    spans = _SCRUBBER.find(text)
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end, entity, _ in spans:
        pieces.append(text[position:start])
        pieces.append(f"<{entity}>")
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def analyze(text: str) -> list[RecognizerResult]:
    """Every pattern entity in `text`, as presidio results (all entity types)."""
    return _SCRUBBER.analyze(text)


__all__ = [
    "ENGINE_VERSION",
    "PATTERN_ENTITIES",
    "TOKEN",
    "Counts",
    "Detector",
    "Masker",
    "MemoryVault",
    "TokenVault",
    "UnknownToken",
    "analyze",
    "resolve_tokens",
    "scrub",
]
