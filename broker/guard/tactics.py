"""The signals of what an injection does, in English: override earlier instructions, ask for the
hidden prompt, swap the model's role, fake a chat delimiter, hide instructions for the model in
data, smuggle an exfiltration link (broker/guard/lexicon.py adds more English, languages.py
other languages; broker/guard/injection.py scores a text against them all)."""

from __future__ import annotations

from broker.guard.signals import Signal, signal

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


TACTICS: tuple[Signal, ...] = (
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
