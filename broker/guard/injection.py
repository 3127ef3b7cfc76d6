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

from collections.abc import Iterator
from dataclasses import dataclass

import ahocorasick_rs

from broker.guard import disguises
from broker.guard.disguises import normalise
from broker.guard.lexicon import ENGLISH, OTHER_LANGUAGES
from broker.guard.signals import Gates, Signal, signal
from broker.pii.vault import TOKEN

_EARLIER = (
    r"(?:previous|prior|preceding|above|earlier|foregoing|original|initial|all|any|every|the|your|my|"
    r"these|those|its)"
)
_RULES = (
    r"(?:instructions?|prompts?|rules?|directions?|directives?|guidelines?|guardrails?|constraints?|"
    r"restrictions?|polic(?:y|ies)|programming|system messages?|context|orders|commands)"
)


def _signal(name: str, weight: float, pattern: str, *, gate: tuple[str, ...] = ()) -> Signal:
    return signal(name, weight, pattern, gate=gate)


SIGNALS: tuple[Signal, ...] = (
    _signal(
        "override",
        0.8,
        rf"(?<!me to )(?<!us to )(?<!them to )"
        rf"\b(?:ignore|disregard|forget|override|overrule|bypass|drop|abandon|discard|skip|stop following|"
        rf"do not follow|don't follow|never mind)\b(?:\W+\w+){{0,4}}?\W+{_EARLIER}\b"
        rf"(?:\W+\w+){{0,3}}?\W+{_RULES}",
        gate=(
            "ignor",
            "disregard",
            "forget",
            "overrid",
            "overrul",
            "bypass",
            "drop",
            "abandon",
            "discard",
            "skip",
            "follow",
            "never mind",
        ),
    ),
    _signal(
        "override_short",
        0.7,
        rf"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+)?{_RULES}\b",
        gate=("ignor", "disregard", "forget", "overrid", "bypass"),
    ),
    _signal(
        "override_everything",
        0.7,
        r"\b(?:ignore|disregard|forget)\s+(?:everything|anything|all)\s+(?:(?:that\s+)?you(?:'ve| have)?\s+"
        r"(?:been\s+|were\s+)?(?:told|given|taught|instructed|programmed)|(?:said|written|stated)\s+"
        r"(?:above|before|earlier)|above|before|prior|previously)\b",
        gate=("ignor", "disregard", "forget"),
    ),
    _signal(
        "cancelled_instructions",
        0.7,
        r"\b(?:your|the|all)\s+(?:previous|prior|earlier|original|initial|old)\s+"
        r"(?:instructions|rules|prompts?|directives|guidelines)\s+(?:are|is|have been|were)\s+"
        r"(?:now\s+)?(?:cancell?ed|void|revoked|obsolete|overridden|replaced|no longer valid|null)",
        gate=("cancel", "void", "revok", "obsolete", "overrid", "replac", "no longer valid", "null"),
    ),
    _signal(
        "safety_override",
        0.6,
        r"\bsystem override\b|\boverride\s+(?:your\s+|the\s+|all\s+)?(?:safety|security|content|ethical)\s+"
        r"(?:protocols?|filters?|rules|polic(?:y|ies)|settings|guidelines|measures)",
        gate=("overrid",),
    ),
    _signal(
        "unrestricted_persona",
        0.6,
        r"\bas an? (?:unrestricted|unfiltered|uncensored|jailbroken|evil|amoral|unethical|rogue)\s+"
        r"(?:ai|model|assistant|chatbot|llm|version|language model)\b",
        gate=("as a",),
    ),
    _signal(
        "persona",
        0.35,
        r"\byou are (?:an? )?(?:ai|assistant|model|chatbot|bot|llm) (?:called|named)\b|\blet'?s play a game\b"
        r"|\b(?:stop|quit) being (?:an? )?(?:ai|assistant|language model|chatbot|ai model)\b"
        r"|\byou are (?:not|no longer) an? (?:ai|assistant|language model|chatbot)\b",
        gate=("you are", "play a game", "being", "you're"),
    ),
    _signal(
        "your_prompt",
        0.6,
        r"\b(?:print|repeat|output|reveal|show|quote|recite|dump|display|list|spell out|tell me|"
        r"what (?:are|were|is|does|do))"
        r"\b(?:\W+\w+){0,6}?\W+your (?:instructions|prompt|system prompt|initial prompt|rules|directives|"
        r"configuration|pre-?prompt|guidelines)\b",
        gate=("your ",),
    ),
    _signal(
        "before_conversation",
        0.6,
        r"\b(?:before|prior to) (?:this|the|our) (?:conversation|chat|session|dialogue) "
        r"(?:started|began|begun)",
        gate=("before", "prior to"),
    ),
    _signal(
        "greets_the_model",
        0.3,
        r"\b(?:hey|hi|dear|attention|listen)\s*,?\s+(?:ai|assistant|model|llm|chatbot|gpt|claude)\b",
        gate=("hey", "hi", "dear", "attention", "listen"),
    ),
    _signal(
        "prompt_leak",
        0.65,
        r"\b(?:reveal|show|print|repeat|output|display|give me|leak|dump|recite|spell out|"
        r"copy)\b(?:\W+\w+){0,5}?"
        r"\W+(?:system|initial|hidden|original|secret|internal|developer|pre-?prompt(?:ed)?)\s+"
        r"(?:prompt|instructions?|rules|directives?|configuration)"
        r"|\b(?:what (?:is|are|were)|tell me)\b(?:\W+\w+){0,5}?\W+(?:initial|hidden|original|secret|internal|"
        r"developer)\s+(?:prompt|instructions?|rules|directives?|configuration)",
        gate=("prompt", "instruction", "rules", "directive", "configuration"),
    ),
    _signal(
        "prompt_leak_verbatim",
        0.5,
        r"\b(?:everything|all(?: the)? text|the text|words?)\s+(?:above|before)\s+(?:this|here)\b"
        r"|\bverbatim\b(?:\W+\w+){0,6}?\W+(?:instructions?|prompt)",
        gate=("above", "before", "verbatim"),
    ),
    _signal(
        "prompt_leak_dump",
        0.65,
        r"\b(?:output|print|repeat|show|write|copy|return|reproduce)\s+(?:\w+\s+){0,2}?"
        r"(?:everything|all(?: of)?(?: the)? text|all (?:the )?words)\s+(?:above|before|preceding)\b",
        gate=("above", "before", "preceding"),
    ),
    _signal(
        "role_swap",
        0.55,
        r"\byou are (?:now|no longer|free|henceforth)\b|\bfrom now on,? you (?:are|will|must|shall)\b"
        r"|\b(?:act|behave|respond|pretend|roleplay|role-play)\s+(?:as|like|to be)\b(?:\W+\w+){0,5}?\W+"
        r"(?:unrestricted|unfiltered|uncensored|jailbroken|evil|amoral|unethical|without (?:any )?"
        r"(?:rules|restrictions|limits|filters|guidelines))",
        gate=("you are", "from now on", "act", "behave", "respond", "pretend", "roleplay", "role-play"),
    ),
    _signal(
        "dan",
        0.75,
        r"\bdo anything now\b|\bdan mode\b|\b(?:you are|you're|act as) dan\b|\bstan mode\b",
        gate=("anything now", "dan", "stan mode"),
    ),
    _signal(
        "mode_switch",
        0.6,
        r"\b(?:jailbreak|jailbroken|unrestricted|unfiltered|uncensored|dan|evil|chaos)\s+mode\b",
        gate=(" mode",),
    ),
    _signal(
        "developer_mode",
        0.35,
        r"\b(?:developer|debug|sudo|admin|maintenance)\s+mode\s+(?:is\s+(?:now\s+)?)?(?:enabled|activated|"
        r"on|engaged)\b",
        gate=(" mode",),
    ),
    _signal(
        "no_limits",
        0.5,
        r"\b(?:no longer|not) (?:bound|restricted|limited|constrained) by\b"
        r"|\b(?:without (?:any )?|(?:with|has|have|had) no )(?:restrictions|filters|limitations|censorship|"
        r"safety|guidelines|rules|limits|morals|ethics|content polic(?:y|ies)|polic(?:y|ies))\b"
        r"|\bignore (?:your|all|any) (?:safety|ethical|content) (?:guidelines|filters|rules|policies)\b",
        gate=("no longer", "not ", "without", "no ", "ignore"),
    ),
    _signal(
        "fake_delimiter",
        0.6,
        r"</(?:system|assistant|instructions?|sys)>|</?(?:im_start|im_end)>|<\|(?:im_start|im_end|system|"
        r"endoftext)\|>"
        r"|\[/?inst\]|\[/(?:system|sys)\]|#{2,}\s*(?:system|new instructions?|instruction)\b"
        r"|\bend of (?:the )?(?:system )?(?:prompt|instructions)\b",
        gate=("<", "[", "#", "end of"),
    ),
    _signal(
        "fake_tag", 0.45, r"<(?:system|assistant|instructions?|sys)>|\[(?:system|sys)\]", gate=("<", "[")
    ),
    _signal(
        "new_instructions",
        0.45,
        r"\b(?:new|updated|real|actual|true|revised|additional|secret|hidden|important)\s+"
        r"(?:instructions?|task|rules?|directives?|orders)\s*[:\-]",
        gate=(":", "-"),
    ),
    _signal(
        "addresses_the_model",
        0.5,
        r"\b(?:attention|note|message|instruction|important)\s+(?:to|for)\s+(?:the\s+)?"
        r"(?:ai|assistant|model|llm|chatbot|agent|language model)\b"
        r"|\b(?:ai|assistant|llm|chatbot|language model)s?\s*[:,]\s*(?:you must|ignore|please ignore|do not|"
        r"don't|always|never)\b"
        r"|\bif you are an? (?:ai|assistant|llm|language model|agent)\b",
        gate=("ai", "assistant", "model", "llm", "chatbot", "agent"),
    ),
    _signal(
        "conceal_from_user",
        0.55,
        r"\b(?:do not|don't|never)\s+(?:tell|inform|mention|reveal|show|alert|notify)\s+(?:this\s+to\s+)?"
        r"(?:the\s+)?(?:user|human|customer|operator)\b",
        gate=("not", "don't", "never"),
    ),
    _signal(
        "exfiltration",
        0.55,
        r"\b(?:send|post|forward|upload|transmit|email|e-mail|exfiltrate|leak)\b(?:\W+\w+){0,4}?\W+"
        r"(?:conversation|chat history|all (?:the )?(?:data|messages)|api keys?|credentials|passwords?|inbox|"
        r"e-?mails|files|documents|contacts|history|session|cookies?|tokens?|phone numbers?|addresses|"
        r"secrets?|system prompt|contents? of)\b(?:\W+\w+){0,6}?\W+(?:to|at)\s+(?:https?://|\S+@\S+)"
        r"|!\[[^\]]{0,100}\]\(https?://[^)\s]{1,200}[?&][^)\s]{0,200}=\{?[^)\s]{0,200}\)",
        gate=("http", "@"),
    ),
    _signal(
        "exfiltration_image",
        0.6,
        r"!\[[^\]]{0,100}\]\(https?://[^)\s]{1,200}[?&](?:[^)\s=]{0,40}[&])?"
        r"(?:data|q|d|conversation|chat|history|secret|token|key|msg|message|prompt|p|info|content)="
        r"[^)\s]{0,200}\)",
        gate=("![",),
    ),
    _signal("payload", 0.3, r"[a-z0-9+/]{120}"),  # a base64 run: found wherever (?:....){30,} is, 3x faster
    _signal(
        "obey",
        0.35,
        r"\b(?:you (?:must|have to|will) (?:now )?(?:obey|comply|follow (?:these|my|the following)))\b"
        r"|\bwithout (?:question|hesitation|refusing)\b|\bnever refuse\b",
        gate=("obey", "comply", "follow", "without", "refuse"),
    ),
)


SIGNALS = SIGNALS + ENGLISH + OTHER_LANGUAGES


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    signals: tuple[str, ...]


NO_SCORE = Score(0.0, ())


_SUSPECT_WORDS = (
    "ignor", "disregard", "forget", "overrid", "bypass", "instruction", "prompt", "you are", "you're",
    "from now on", "pretend", "jailbreak", "mode", "system", "assistant", "llm", "<|", "[inst", "[/inst",
    "###", "verbatim", "cancel", "exfil", "![", "do anything", "no longer", "without", "do not tell",
    "don't tell", "new task", "rules", "attention", "guidance", "silently", "secretly", "your real",
    "your true", "your actual", "your new", "your only", "<<", "safety", "polic", "filter", "restrict",
    "decode", "base64", "olvid", "oubli", "vergiss", "dimentic", "esque", "negeer", "zapomn", "игнор",
    "забуд", "忽略", "无视", "無視", "忘", "무시", "잊", "yok say", "your ", "obey", "overlook", "neglect",
    "erase", "set aside", "pay no", "refuse", "decline", "simulat", "emulat", "deceased", "late grand",
    "secrets", "password", "api key", "credential", "gpt", "god mode", "this is your", "i am the",
    "i'm the", "when you read", "reads this", "void", "constraint", "guideline", "directive", "above",
    "previous", "preceding", "prior", "before th", "everything", "instruc", "consign", "anweisung",
    "istruzion", "instruç", "talimat", "指令", "指示", "지시", "systemprompt", "システム", "시스템", "系统",
    "before my", "permitted", "allowed to", "free from", "freed", "violat", "as if", "\"role\"", "'role'",
    "must", "unfiltered", "omit", "seguire", "sigas", "suivez", "befolgen", "след", "遵", "从现在",
    "ab jetzt", "a partir", "développeur", "sans restriction", "sin restric", "ohne ", "без ", "限制", "unut",
    "kural", "regeln", "правил", "instrukc", "instructie",
)  # fmt: skip
_WORDS_ALONE = ("ai", "sys", "dan")
"""Suspect only as words of their own ("ai" is inside "daily" and "rain", "dan" inside "dance")."""
_SUSPECTS = ahocorasick_rs.AhoCorasick([*_SUSPECT_WORDS, *_WORDS_ALONE])


def _without_token_ids(text: str) -> str:
    """The text with the hex id of each PII token taken out (`<EMAIL_ADDRESS_3ac9f0b1>` reads
    `<EMAIL_ADDRESS>`, as a replaced value does). The ids are the gateway's keyed hashes, but to
    the disguise prefilter they are leetspeak ('3ac', 'e7f'): every result masked with tokens was
    suspect and paid the disguise scan (~2.5 ms per 2 KB, ~35 ms per 64 KB of CRM records).
    Nothing a signal looks for is lost, even in a token-shaped text an upstream wrote: the id is
    inside the brackets (no word around it is cut) and holds only hex digits, no phrase."""
    return TOKEN.sub(r"<\1>", text) if "_" in text else text


def suspect(text: str) -> bool:
    """A cheap first look (one pass, no normalisation): False means `score` would find nothing in
    plain text, so a tool result that says nothing of the kind costs one scan. The keywords are one
    Aho-Corasick automaton over the lowered text: as an IGNORECASE regex alternation they took
    milliseconds on a 2 KB result, the largest cost of a cached tools/call. A base64-looking run
    counts only when it decodes to a keyword (what `score` looks for in it): ids, hashes and long
    words are everywhere in tool results and made every such result pay a full score (~1.5 ms/KB)."""
    text = _without_token_ids(text)
    if _has_keyword(text) or any(part.search(text) for part in disguises.OBFUSCATED_PARTS):
        return True
    if not disguises.base64_run(text):
        return False
    return any(_has_keyword(decoded) for decoded in disguises.decoded(text))


_FOLDED = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
"""The letters an IGNORECASE regex also matches to ASCII ones, which `str.lower` leaves apart."""


def _folded(text: str) -> str:
    if not text.isascii():
        for letter, ascii_letter in _FOLDED.items():
            if letter in text:
                text = text.replace(letter, ascii_letter)
    return text


def _has_keyword(text: str) -> bool:
    return next(_keywords(_folded(text).lower()), None) is not None


def _keywords(lowered: str) -> Iterator[tuple[int, int]]:
    """Where the suspect keywords are in lowered text (the short ones only as words of their own)."""
    alone = len(_SUSPECT_WORDS)
    for index, start, end in _SUSPECTS.find_matches_as_indexes(lowered, overlapping=True):
        if index < alone or not (_word_char(lowered, start - 1) or _word_char(lowered, end)):
            yield start, end


def _word_char(text: str, at: int) -> bool:
    """Whether `text[at]` is a word character as regex `\\b` sees it (outside the text: no)."""
    return 0 <= at < len(text) and (text[at].isalnum() or text[at] == "_")


_WHOLE = 4096
_WINDOW = 600
"""Around a keyword, far more than any signal's match spans (a few words, `near` windows of 60)."""


def _keyword_windows(text: str) -> list[str]:
    """The parts of a long text where a signal can match: every signal's match holds one of the
    suspect keywords, so only the text around them is scored (a 64 KB tool result with a few
    keywords costs a few windows, not 65 patterns over all of it). Short texts, and texts whose
    lowering changes their length (positions would drift), are scored whole."""
    if len(text) <= _WHOLE:
        return [text]
    lowered = _folded(text).lower()
    if len(lowered) != len(text):
        return [text]
    spans: list[list[int]] = []
    for start, end in _keywords(lowered):
        begin, finish = max(0, start - _WINDOW), end + _WINDOW
        if spans and begin <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], finish)
        else:
            spans.append([begin, finish])
    return [text[begin:finish] for begin, finish in spans]


_GATES = Gates(SIGNALS)


def _fired(normal: str, skip: list[Signal] | None = None) -> list[Signal]:
    """The signals `normal` shows (those in `skip`, already found elsewhere, are not tried)."""
    done = skip or ()
    return [each for each in _GATES.passing(normal) if each not in done and each.matches(normal)]


def score(text: str) -> Score:
    """How much `text` looks like an injection or jailbreak attempt (0..1), and why."""
    if not text:
        return NO_SCORE
    text = _without_token_ids(text)
    fired: list[Signal] = []
    for part in _keyword_windows(text):
        fired += _fired(normalise(part), fired)
    disguised = any(part.search(text) for part in disguises.OBFUSCATED_PARTS)
    if disguised or disguises.base64_run(text):  # disguises.obfuscated(text)
        # No prefilter part, no segment: a text with only a long run of letters and digits (ids,
        # hashes, an e-mail's long local part) skips the disguise scan (~30 ms per 64 KB).
        for segment in disguises.segments(text) if disguised else ():
            view = disguises.disguised_view(segment, normalise(segment))
            if view is not None:
                fired += _fired(view, fired)
        for decoded in disguises.decoded(text):
            if _combine(_fired(normalise(decoded))) >= 0.6:
                fired.append(ENCODED)
                break
    if not fired:
        return NO_SCORE
    return Score(round(_combine(fired), 4), tuple(each.name for each in fired))


ENCODED = signal("encoded_payload", 0.75, r"(?!)")
"""Fired by hand: an encoded run (base64) that decodes to an injection."""


def _combine(fired: list[Signal]) -> float:
    remaining = 1.0
    for each in fired:
        remaining *= 1.0 - each.weight
    return 1.0 - remaining
