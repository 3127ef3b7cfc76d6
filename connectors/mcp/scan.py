"""The hidden-instruction scanner for upstream tool definitions.

Tool poisoning hides instructions for the model where a human reviewer does not look: in
the description, in schema descriptions and property names, in invisible Unicode. The
scanner reads every string of a definition (keys too) and reports, for the operator:

- `instruction-block`: markup aimed at the model (`<IMPORTANT>`, `<system>`, `[INST]`,
  `<|im_start|>`, HTML comments);
- `override`: "ignore previous instructions" and kin, orders addressed to the assistant;
- `concealment`: "do not tell the user", "keep this secret from the user";
- `cross-tool`: "before using this tool, you must first ...";
- `sensitive-path`: credential locations (`~/.ssh`, `id_rsa`, `.aws/credentials`, ...);
- `invisible-unicode`, `bidi-control`, `tag-characters` (the last decoded, since tag
  characters smuggle ASCII text that no one sees).

Findings are advice for a review, never a verdict: they do not block a tool.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

_ZERO_WIDTH = frozenset([*range(0x200B, 0x2010), *range(0x2060, 0x2065), 0xFEFF, 0x00AD, 0x180E, 0x034F])
_BIDI = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x061C])
_TAGS = range(0xE0000, 0xE0080)

_FLAGS = re.IGNORECASE | re.DOTALL
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "instruction-block",
        re.compile(
            r"<\s*/?\s*(important|system|system[_-]?prompt|instructions?|hidden|assistant)\b[^<>]{0,80}>"
            r"|\[/?\s*(inst|system|sys)\s*\]|<\|[a-z_]{2,20}\|>|<<\s*/?sys\s*>>|<!--",
            _FLAGS,
        ),
    ),
    (
        "override",
        re.compile(
            r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}?\b(previous|prior|above|earlier|"
            r"preceding|all|system|safety|original)\b.{0,20}?\b(instructions?|prompts?|rules|"
            r"directions|guidelines|directives)\b"
            r"|\b(the|you,? the) (assistant|ai|llm) (must|should|shall|has to|needs to)\b"
            r"|\byou are now\b|\bnew (system )?instructions?\s*:",
            _FLAGS,
        ),
    ),
    (
        "concealment",
        re.compile(
            r"\b(do not|don't|dont|never|must not|mustn't|should not|shouldn't|without)\s+"
            r"(tell|telling|inform|informing|mention|mentioning|reveal|revealing|notify|notifying|"
            r"alert|alerting|disclose|disclosing|warn|warning)\b(\s+\w+){0,3}?\s+the users?\b"
            r"|\b(keep|kept) (this|it|that|these) (secret|hidden|private) from\b"
            r"|\b(hide|conceal) (this|it|that|these)\b(\s+\w+){0,3}?\s+from the users?\b"
            r"|\bthe users? (must|should|shall) (not|never) (know|see|be told|find out|notice)\b",
            _FLAGS,
        ),
    ),
    (
        "cross-tool",
        re.compile(
            r"\bbefore (using|calling|invoking|running|executing|you use|you call) (this|the|any|other)\b"
            r".{0,40}?\b(tools?|functions?)\b.{0,40}?\b(must|always|first|need to|have to|required to|"
            r"read|open|cat|send|upload|pass|include)\b",
            _FLAGS,
        ),
    ),
    (
        "sensitive-path",
        re.compile(
            r"(~|\$home|%userprofile%)?/?\.ssh\b|(?<![a-z0-9])id_(rsa|dsa|ecdsa|ed25519)\b|\.aws/credentials\b"
            r"|/etc/(passwd|shadow|sudoers)\b|\.netrc\b|\.pgpass\b|\.git-credentials\b|\.kube/config\b"
            r"|\.docker/config\.json\b|\bmcp\.json\b|\bclaude_desktop_config\.json\b|\.cursor/",
            _FLAGS,
        ),
    ),
)
_EXCERPT = 60

_NEEDS: dict[str, tuple[str, ...]] = {
    "instruction-block": ("<", "["),
    "concealment": ("user", "from"),
    "cross-tool": ("before",),
    "sensitive-path": (
        ".ssh", "id_", ".aws/credentials", "/etc/", ".netrc", ".pgpass", ".git-credentials",
        ".kube/config", ".docker/config.json", "mcp.json", "claude_desktop_config.json", ".cursor/",
    ),
}  # fmt: skip
"""Substrings every match of a pattern contains (in `_folded` text): a text with none of them
is not searched. A search holds the GIL for its whole run, tens of milliseconds for a few KB of
schema prose, and an upstream's definitions are scanned by the thousand."""


def _may_match(category: str, text: str) -> bool:
    return _needs_met(category, _folded(text))


def _needs_met(category: str, folded: str) -> bool:
    """`_may_match` of the text that `_folded` made `folded` (a text is folded once, not per category)."""
    needs = _NEEDS.get(category)
    return needs is None or any(need in folded for need in needs)


def _folded(text: str) -> str:
    """Lower case as IGNORECASE matches ASCII letters: dotless and dotted capital I count as i."""
    return text.lower().replace("i\u0307", "i").replace("\u0131", "i")


def scan_definition(definition: Mapping[str, Any]) -> list[str]:
    """Findings for one MCP tool definition: description, schemas, annotations, name."""
    findings: list[str] = []
    for where, text in _strings(definition, ""):
        for finding in scan_text(text):
            findings.append(f"{finding} (at {where})")
    return list(dict.fromkeys(findings))


def scan_text(text: str) -> list[str]:
    """Findings for one string, each `<category>: <what>`."""
    findings: list[str] = []
    invisible = sorted({ch for ch in text if ord(ch) in _ZERO_WIDTH})
    if invisible:
        findings.append(f"invisible-unicode: {_names(invisible)}")
    bidi = sorted({ch for ch in text if ord(ch) in _BIDI})
    if bidi:
        findings.append(f"bidi-control: {_names(bidi)}")
    tagged = "".join(chr(ord(ch) - 0xE0000) for ch in text if ord(ch) in _TAGS)
    if tagged:
        findings.append(f"tag-characters: hidden text {_excerpt(tagged)}")
    sources = [(source, _folded(source)) for source in dict.fromkeys((_visible(text), _visible(tagged)))]
    for category, pattern in _PATTERNS:
        for source, folded in sources:
            if not _needs_met(category, folded):
                continue
            match = pattern.search(source)
            if match:
                findings.append(f"{category}: {_excerpt(match.group(0))}")
                break
    return findings


def _visible(text: str) -> str:
    """The text as a model reads it: compatibility forms folded, invisible characters dropped."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(
        ch for ch in folded if ord(ch) not in _ZERO_WIDTH and ord(ch) not in _BIDI and ord(ch) not in _TAGS
    )


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value, keys included, with a dotted location."""
    if isinstance(value, str):
        yield where or "value", value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            yield f"{path} (key)", str(key)
            yield from _strings(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def _names(chars: list[str]) -> str:
    return ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}" for ch in chars)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…")
