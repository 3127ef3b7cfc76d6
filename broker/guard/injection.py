"""Prompt injection and jailbreak heuristics: a score from 0 to 1 and the signals behind it.

Each signal is a pattern of what an injection does (overrides earlier instructions, asks for
the hidden prompt, swaps the model's role, fakes a chat delimiter, hides instructions for the
model in data, smuggles an exfiltration link) with a weight; a text's score is
1 - prod(1 - weight) over the signals it shows, so one strong signal fires alone and weak
ones add up. The patterns want the object of the verb as well ("ignore ... instructions",
not "ignore whitespace"), which keeps look-alike benign prompts under the threshold.

Text is normalised first (case, runs of white space, zero-width and bidirectional marks,
full-width letters), so spacing tricks do not hide a phrase. Linear in the text: every
pattern is bounded and none nests quantifiers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import ahocorasick_rs

_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u202a\u202b\u202c\u202d\u202e",
    ),
    None,
)
_SPACE = re.compile(r"\s+")

_EARLIER = (
    r"(?:previous|prior|preceding|above|earlier|foregoing|original|initial|all|any|every|the|your|my|"
    r"these|those|its)"
)
_RULES = (
    r"(?:instructions?|prompts?|rules?|directions?|directives?|guidelines?|guardrails?|constraints?|"
    r"restrictions?|polic(?:y|ies)|programming|system messages?|context|orders|commands)"
)


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    weight: float
    pattern: re.Pattern[str]


def _signal(name: str, weight: float, pattern: str) -> Signal:
    return Signal(name, weight, re.compile(pattern))


SIGNALS: tuple[Signal, ...] = (
    _signal(
        "override",
        0.8,
        rf"\b(?:ignore|disregard|forget|override|overrule|bypass|drop|abandon|discard|skip|stop following|"
        rf"do not follow|don't follow|never mind)\b(?:\W+\w+){{0,4}}?\W+{_EARLIER}\b"
        rf"(?:\W+\w+){{0,3}}?\W+{_RULES}",
    ),
    _signal(
        "override_short",
        0.7,
        rf"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+)?{_RULES}\b",
    ),
    _signal(
        "override_everything",
        0.7,
        r"\b(?:ignore|disregard|forget)\s+(?:everything|anything|all)\s+(?:(?:that\s+)?you(?:'ve| have)?\s+"
        r"(?:been\s+|were\s+)?(?:told|given|taught|instructed|programmed)|(?:said|written|stated)\s+"
        r"(?:above|before|earlier)|above|before|prior|previously)\b",
    ),
    _signal(
        "cancelled_instructions",
        0.7,
        r"\b(?:your|the|all)\s+(?:previous|prior|earlier|original|initial|old)\s+"
        r"(?:instructions|rules|prompts?|directives|guidelines)\s+(?:are|is|have been|were)\s+"
        r"(?:now\s+)?(?:cancell?ed|void|revoked|obsolete|overridden|replaced|no longer valid|null)",
    ),
    _signal(
        "safety_override",
        0.6,
        r"\bsystem override\b|\boverride\s+(?:your\s+|the\s+|all\s+)?(?:safety|security|content|ethical)\s+"
        r"(?:protocols?|filters?|rules|polic(?:y|ies)|settings|guidelines|measures)",
    ),
    _signal(
        "unrestricted_persona",
        0.6,
        r"\bas an? (?:unrestricted|unfiltered|uncensored|jailbroken|evil|amoral|unethical|rogue)\s+"
        r"(?:ai|model|assistant|chatbot|llm|version|language model)\b",
    ),
    _signal(
        "persona",
        0.35,
        r"\byou are (?:an? )?(?:ai|assistant|model|chatbot|bot|llm) (?:called|named)\b|\blet'?s play a game\b"
        r"|\b(?:stop|quit) being (?:an? )?(?:ai|assistant|language model|chatbot|ai model)\b"
        r"|\byou are (?:not|no longer) an? (?:ai|assistant|language model|chatbot)\b",
    ),
    _signal(
        "your_prompt",
        0.6,
        r"\b(?:print|repeat|output|reveal|show|quote|recite|dump|display|list|spell out|tell me|"
        r"what (?:are|were|is))"
        r"\b(?:\W+\w+){0,6}?\W+your (?:instructions|prompt|system prompt|initial prompt|rules|directives|"
        r"configuration|pre-?prompt|guidelines)\b",
    ),
    _signal(
        "before_conversation",
        0.6,
        r"\b(?:before|prior to) (?:this|the|our) (?:conversation|chat|session|dialogue) "
        r"(?:started|began|begun)",
    ),
    _signal(
        "greets_the_model",
        0.3,
        r"\b(?:hey|hi|dear|attention|listen)\s*,?\s+(?:ai|assistant|model|llm|chatbot|gpt|claude)\b",
    ),
    _signal(
        "prompt_leak",
        0.65,
        r"\b(?:reveal|show|print|repeat|output|display|tell me|give me|what (?:is|are|were)|leak|dump|"
        r"recite|spell out|copy)\b(?:\W+\w+){0,5}?\W+(?:system|initial|hidden|original|secret|internal|"
        r"developer|pre-?prompt(?:ed)?)\s+(?:prompt|instructions?|message|rules|directives?|configuration)",
    ),
    _signal(
        "prompt_leak_verbatim",
        0.5,
        r"\b(?:everything|all(?: the)? text|the text|words?)\s+(?:above|before)\s+(?:this|here)\b"
        r"|\bverbatim\b(?:\W+\w+){0,6}?\W+(?:instructions?|prompt)",
    ),
    _signal(
        "prompt_leak_dump",
        0.65,
        r"\b(?:output|print|repeat|show|write|copy|return|reproduce)\s+(?:\w+\s+){0,2}?"
        r"(?:everything|all(?: of)?(?: the)? text|all (?:the )?words)\s+(?:above|before|preceding)\b",
    ),
    _signal(
        "role_swap",
        0.55,
        r"\byou are (?:now|no longer|free|henceforth)\b|\bfrom now on,? you (?:are|will|must|shall)\b"
        r"|\b(?:act|behave|respond|pretend|roleplay|role-play)\s+(?:as|like|to be)\b(?:\W+\w+){0,5}?\W+"
        r"(?:unrestricted|unfiltered|uncensored|jailbroken|evil|amoral|unethical|without (?:any )?"
        r"(?:rules|restrictions|limits|filters|guidelines))",
    ),
    _signal("dan", 0.75, r"\bdo anything now\b|\bdan mode\b|\b(?:you are|you're|act as) dan\b|\bstan mode\b"),
    _signal(
        "mode_switch",
        0.6,
        r"\b(?:jailbreak|jailbroken|unrestricted|unfiltered|uncensored|god|dan|evil|chaos)\s+mode\b",
    ),
    _signal(
        "developer_mode",
        0.35,
        r"\b(?:developer|debug|sudo|admin|maintenance)\s+mode\s+(?:is\s+(?:now\s+)?)?(?:enabled|activated|on|engaged)\b",
    ),
    _signal(
        "no_limits",
        0.5,
        r"\b(?:no longer|not) (?:bound|restricted|limited|constrained) by\b"
        r"|\b(?:without (?:any )?|(?:with|has|have|had) no )(?:restrictions|filters|limitations|censorship|"
        r"safety|guidelines|rules|limits|morals|ethics|content polic(?:y|ies)|polic(?:y|ies))\b"
        r"|\bignore (?:your|all|any) (?:safety|ethical|content) (?:guidelines|filters|rules|policies)\b",
    ),
    _signal(
        "fake_delimiter",
        0.6,
        r"</?(?:system|assistant|instructions?|sys|im_start|im_end)>|<\|(?:im_start|im_end|system|endoftext)\|>"
        r"|\[/?(?:system|inst|sys)\]|#{2,}\s*(?:system|new instructions?|instruction)\b"
        r"|\bend of (?:the )?(?:system )?(?:prompt|instructions)\b",
    ),
    _signal(
        "new_instructions",
        0.45,
        r"\b(?:new|updated|real|actual|true|revised|additional|secret|hidden|important)\s+"
        r"(?:instructions?|task|rules|directives?|orders)\s*[:\-]",
    ),
    _signal(
        "addresses_the_model",
        0.5,
        r"\b(?:attention|note|message|instruction|important)\s+(?:to|for)\s+(?:the\s+)?"
        r"(?:ai|assistant|model|llm|chatbot|agent|language model)\b"
        r"|\b(?:ai|assistant|llm|chatbot|language model)s?\s*[:,]\s*(?:you must|ignore|please ignore|do not|"
        r"don't|always|never)\b"
        r"|\bif you are an? (?:ai|assistant|llm|language model|agent)\b",
    ),
    _signal(
        "conceal_from_user",
        0.55,
        r"\b(?:do not|don't|never)\s+(?:tell|inform|mention|reveal|show|alert|notify)\s+(?:this\s+to\s+)?"
        r"(?:the\s+)?(?:user|human|customer|operator)\b",
    ),
    _signal(
        "exfiltration",
        0.55,
        r"\b(?:send|post|forward|upload|transmit|email|e-mail|exfiltrate|leak)\b(?:\W+\w+){0,4}?\W+"
        r"(?:conversation|chat history|all (?:the )?(?:data|messages)|api keys?|credentials|passwords?|"
        r"secrets?|system prompt|contents? of)\b(?:\W+\w+){0,6}?\W+(?:to|at)\s+(?:https?://|\S+@\S+)"
        r"|!\[[^\]]{0,100}\]\(https?://[^)\s]{1,200}[?&][^)\s]{0,200}=\{?[^)\s]{0,200}\)",
    ),
    _signal(
        "exfiltration_image",
        0.6,
        r"!\[[^\]]{0,100}\]\(https?://[^)\s]{1,200}[?&](?:[^)\s=]{0,40}[&])?"
        r"(?:data|q|d|conversation|chat|history|secret|token|key|msg|message|prompt|p|info|content)="
        r"[^)\s]{0,200}\)",
    ),
    _signal(
        "payload",
        0.3,
        r"(?:[a-z0-9+/]{4}){30,}(?:[a-z0-9+/]{2}==|[a-z0-9+/]{3}=)?",
    ),
    _signal(
        "obey",
        0.35,
        r"\b(?:you (?:must|have to|will) (?:now )?(?:obey|comply|follow (?:these|my|the following)))\b"
        r"|\bwithout (?:question|hesitation|refusing)\b|\bnever refuse\b",
    ),
)


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    signals: tuple[str, ...]


NO_SCORE = Score(0.0, ())


_SUSPECT_WORDS = (
    "ignor", "disregard", "forget", "overrid", "bypass", "instruction", "prompt", "you are", "you're",
    "from now on", "pretend", "jailbreak", "mode", "system", "assistant", "llm", "<|", "[inst", "[/inst",
    "###", "verbatim", "cancel", "exfil", "![", "do anything", "no longer", "without", "do not tell",
    "don't tell", "new task", "rules",
)  # fmt: skip
_AI = len(_SUSPECT_WORDS)
"""The index of "ai", which counts only as a word of its own (it is inside "daily", "rain")."""
_SUSPECTS = ahocorasick_rs.AhoCorasick([*_SUSPECT_WORDS, "ai"])


def suspect(text: str) -> bool:
    """A cheap first look (one pass, no normalisation): False means `score` would find nothing in
    plain text, so a tool result that says nothing of the kind costs one scan. An Aho-Corasick
    automaton over the lowered text: the same words as an IGNORECASE regex alternation, which
    took milliseconds on a 2 KB result (it was the largest cost of a cached tools/call)."""
    lowered = text.lower()
    for index, start, end in _SUSPECTS.find_matches_as_indexes(lowered, overlapping=True):
        if index != _AI or not (_word_char(lowered, start - 1) or _word_char(lowered, end)):
            return True
    return False


def _word_char(text: str, at: int) -> bool:
    """Whether `text[at]` is a word character as regex `\\b` sees it (outside the text: no)."""
    return 0 <= at < len(text) and (text[at].isalnum() or text[at] == "_")


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    return _SPACE.sub(" ", folded)


def score(text: str) -> Score:
    """How much `text` looks like an injection or jailbreak attempt (0..1), and why."""
    if not text:
        return NO_SCORE
    normal = normalise(text)
    fired = [signal for signal in SIGNALS if signal.pattern.search(normal)]
    if not fired:
        return NO_SCORE
    remaining = 1.0
    for signal in fired:
        remaining *= 1.0 - signal.weight
    return Score(round(1.0 - remaining, 4), tuple(signal.name for signal in fired))
