"""More injection signals in English: paraphrases of the override, references to the model's own
instructions, hidden-data attacks, disabled safety and the common jailbreak phrasings
(`languages.py` has them in other languages)."""

from __future__ import annotations

from broker.guard.signals import Signal, near, signal

_ADJ = (
    r"(?:previous|prior|preceding|above|earlier|original|initial|old|existing|current|default|system|hidden)"
)
_NOUN = (
    r"(?:instructions?|prompts?|rules|directions|directives?|guidelines|guidance|guardrails|constraints|"
    r"restrictions|programming|system (?:message|prompt)s?|content polic(?:y|ies)|usage polic(?:y|ies)|"
    r"safety (?:rules|guidelines|policy|policies|filters?|settings)|configuration|training|orders|context)"
)
MODEL_RULES = (
    rf"\b(?:your|(?:the|all|any|every) {_ADJ}|{_ADJ})\s+(?:\w+\s+){{0,2}}?{_NOUN}\b"
    rf"|\b{_NOUN}\s+(?:that\s+)?you(?:'ve| have| were| had)?\s+(?:been\s+)?(?:were\s+)?"
    r"(?:given|told|configured|programmed|trained|received|instructed|got|had)\b"
    rf"|\b{_NOUN}\s+from\s+(?:before|earlier|above|the (?:start|beginning))\b"
    r"|\b(?:every|each|any) instructions? you (?:got|received|were given|have)\b"
    r"|\bwhat(?:ever)? you (?:were|have been|'ve been) (?:told|given|instructed|programmed)\b"
    r"|\bwhat the (?:system|developers?|operator|prompt|system prompt) (?:told|said to|instructed|asked)"
    r" you\b"
    r"|\b(?:everything|anything|all) (?:prior|previous|before|above)\b"
    rf"|\b{_NOUN}\s+(?:that\s+)?(?:came|come|given|written|stated|sent)\s+(?:before|above|earlier|"
    rf"previously|prior)"
    r"|\b(?:the |your )?system (?:message|prompt)s?\b"
    r"|\b(?:openai|anthropic|google|meta|microsoft|the developer|the company)(?:'s)? (?:\w+ )?(?:usage |"
    r"content |safety )?"
    r"(?:polic(?:y|ies)|rules|guidelines|terms)\b"
    r"|\b(?:usage|content|safety) polic(?:y|ies)\b"
)
_SET_ASIDE = (
    r"(?<!me to )(?<!us to )(?<!them to )\b(?:pay no (?:attention|heed|mind) to|(?:do not|"
    r"don't) (?:pay attention to|listen to|obey|follow)|"
    r"set aside|overlook|throw away|throw out|erase|delete|wipe|clear|neglect|discard|abandon|suspend|"
    r"stop (?:obeying|following|listening to|adhering to)|no longer (?:follow|obey)|"
    r"(?:ignore|disregard|forget|override|overrule|bypass|drop))\b"
)

_SET_ASIDE_GATE = (
    "pay no", "do not", "don't", "set aside", "overlook", "throw away", "throw out", "erase", "delete",
    "wipe", "clear", "neglect", "discard", "abandon", "suspend", "stop ", "no longer", "ignore",
    "disregard", "forget", "override", "overrule", "bypass", "drop",
)  # fmt: skip
"""One of these is in every match of `_SET_ASIDE`."""

ENGLISH: tuple[Signal, ...] = (
    signal(
        "override_paraphrase",
        0.8,
        rf"{_SET_ASIDE}(?:\W+\w+){{0,3}}?\W+(?:{MODEL_RULES})",
        gate=_SET_ASIDE_GATE,
    ),
    signal(
        "rules_void",
        0.7,
        rf"(?:{MODEL_RULES})(?:\W+\w+){{0,6}}?\W+(?:(?:are|is|have been|has been|were)\s+(?:now\s+)?"
        r"(?:suspended|void|null|cancell?ed|revoked|lifted|disabled|removed|outdated|obsolete|invalid|"
        r"overridden|replaced|deactivated|off|turned off|switched off|gone)|"
        r"(?:no longer|do not|don't|does not|doesn't) (?:apply|count|"
        r"matter|exist|hold)|(?:do not |don't |no longer )?matter (?:anymore|any more)|(?:are|"
        r"is) (?:now )?gone|"
        r"(?:are|is) (?:no longer|not) (?:valid|in effect|active|binding))\b"
        r"|\btreat\b(?:\W+\w+){0,5}?\W+(?:as )?(?:void|null|cancell?ed|irrelevant)\b",
        gate=(
            "suspend",
            "void",
            "null",
            "cancel",
            "revok",
            "lift",
            "disabl",
            "remov",
            "outdated",
            "obsolete",
            "invalid",
            "overrid",
            "replac",
            "deactivat",
            "off",
            "apply",
            "count",
            "matter",
            "exist",
            "hold",
            "gone",
            "valid",
            "effect",
            "active",
            "binding",
            "treat",
        ),
    ),
    signal(
        "safety_off_weak",
        0.35,
        r"\b(?:disable|deactivate|turn off|switch off|remove|lift|suspend|bypass)\s+(?:the |all )?(?:safety|"
        r"content|"
        r"ethical|moderation) (?:filters?|checks?|guardrails|restrictions|polic(?:y|ies)|guidelines|"
        r"safeguards)\b"
        r"|\b(?:all|any) (?:content|requests?|topics) (?:is |are )?(?:now )?(?:allowed|permitted)\b",
        gate=(
            "disabl",
            "deactivat",
            "turn off",
            "switch off",
            "remov",
            "lift",
            "suspend",
            "bypass",
            "allowed",
            "permitted",
        ),
    ),
    signal(
        "this_conversation",
        0.3,
        r"\b(?:for|in|during) (?:this|the rest of this|the rest of the|our) (?:conversation|chat|session)\b",
        gate=("conversation", "chat", "session"),
    ),
    signal(
        "your_system_prompt",
        0.45,
        r"\byour (?:system prompt|system message|initial prompt|hidden (?:instructions|prompt)|pre-?prompt|"
        r"system instructions)\b",
        gate=("your ",),
    ),
    signal(
        "addressed_to_ai",
        0.35,
        r"\bto (?:any|all|every|the) (?:ai|llm|language model|ai assistant|ai agent|ai model)s?\b",
        gate=("to any", "to all", "to every", "to the "),
    ),
    signal(
        "safety_off",
        0.65,
        r"\b(?:disable|deactivate|turn off|switch off|remove|lift|suspend|bypass|drop)\s+(?:all\s+)?your\s+"
        r"(?:\w+\s+)?(?:safety|content|ethical|moderation|security)?\s*(?:filters?|checks?|guardrails|"
        r"restrictions|polic(?:y|ies)|guidelines|rules|safeguards|limits)\b"
        r"|\b(?:safety|content|ethics?|ethical|moderation)\s+(?:filters?|checks?|polic(?:y|ies)|guidelines|"
        r"restrictions|rules|layer|settings)\s+(?:(?:are|is|have been|has been|now|as|considered)\s+)*"
        r"(?:off|disabled|suspended|lifted|removed|deactivated|turned off|waived)\b"
        r"|\b(?:safety|trust and safety|moderation) team has approved\b",
        gate=(
            "safety",
            "content",
            "ethic",
            "moderation",
            "security",
            "filter",
            "guardrail",
            "restriction",
            "polic",
            "guideline",
            "rules",
            "safeguard",
            "limits",
        ),
    ),
    near(
        "ai_unbound",
        0.65,
        r"\b(?:an? (?:ai|assistant|model|chatbot|bot|llm)|\w+gpt|version of (?:you|yourself)|"
        r"yourself|you(?:'re| are| were| had| have))\b",
        r"\b(?:without (?:any )?|with (?:no|zero) |no |zero |free (?:of|from) (?:its |your |all )?"
        r"|broken free of (?:its |your )?)"
        r"(?:\w+ )?(?:filters?|restrictions|rules|guidelines|limits|limitations|ethics|morals|censorship|"
        r"content (?:restrictions|polic(?:y|ies)|filters?)|safety)\b",
        50,
        gate=("without", "no ", "zero ", "free "),  # of the second pattern
    ),
    signal(
        "without_your_rules",
        0.6,
        r"\bwithout (?:any (?:of )?)?(?:your|its) (?:\w+ ){0,2}?(?:safety |content |ethical )?(?:constraints|"
        r"restrictions|filters|rules|guidelines|limits|polic(?:y|ies)|guardrails|safeguards)\b"
        r"|\b(?:freed|released|liberated|unshackled|free) from (?:all |your |its |"
        r"the )?(?:\w+ )?(?:polic(?:y|ies)|"
        r"rules|restrictions|guidelines|filters|constraints|programming)\b",
        gate=("without", "free", "released", "liberated", "unshackled"),
    ),
    signal(
        "despite_rules",
        0.65,
        r"\b(?:even if|even though|regardless of whether|whether or not) (?:it|this|that|the answer) "
        r"(?:violates|breaks|goes against|contradicts|breaches) (?:your|the|any|openai's|anthropic's) "
        r"(?:\w+ )?(?:polic(?:y|ies)|rules|guidelines|restrictions|terms)\b"
        r"|\bas if (?:the |your |there were no )?(?:safety |content |ethical )?(?:guidelines|rules|"
        r"restrictions|"
        r"filters|polic(?:y|ies)|limits) (?:did not|didn't|do not|don't|no longer) (?:exist|apply)\b"
        r"|\b(?:breaks?|break|ignores?|violates?) (?:all|every|any) (?:the )?(?:rules?|guidelines?|"
        r"polic(?:y|ies))\b",
        gate=("even", "regardless", "whether", "as if", "break", "ignore", "violat"),
    ),
    signal(
        "unfiltered_persona",
        0.6,
        r"\b(?:as|are|be|become|is|you're)\s+(?:an?|my|the)\s+(?:\w+\s+)?(?:unrestricted|unfiltered|"
        r"uncensored|"
        r"jailbroken|evil|amoral|unethical|rogue|unlimited)\s+(?:ai|model|assistant|chatbot|llm|version|bot|"
        r"language model)\b",
        gate=(
            "unrestricted",
            "unfiltered",
            "uncensored",
            "jailbroken",
            "evil",
            "amoral",
            "unethical",
            "rogue",
            "unlimited",
        ),
    ),
    signal(
        "prompt_leak_before",
        0.65,
        r"\b(?:print|show|repeat|output|copy|paste|display|reveal|tell me)\s+(?:me\s+)?(?:the |all (?:the )?|"
        r"everything |any )?(?:text|words|content|instructions|messages?)?\s*(?:that\s+)?(?:appears?\s+|"
        r"comes?\s+|"
        r"is\s+|was\s+|were\s+)?(?:before|above|prior to)\s+(?:my|this|the|our)\s+(?:first\s+)?(?:message|"
        r"prompt|"
        r"question|conversation|line)\b",
        gate=("before", "above", "prior to"),
    ),
    signal(
        "json_system_role",
        0.45,
        r"[\"']role[\"']\s*:\s*[\"'](?:system|developer)[\"']",
        gate=("role",),
    ),
    signal(
        "instructs_ai",
        0.45,
        r"\b(?:ai|llm|language model|assistant|chatbot)s?(?: agents?| models?| assistants?)? "
        r"(?:must|should|shall|are required to|need to|are instructed to)\b",
        gate=("must", "should", "shall", "required", "need to", "instructed"),
    ),
    signal(
        "permitted_now",
        0.5,
        r"\b(?:the )?(?:assistant|ai|model|chatbot|you) (?:is|are) now (?:permitted|allowed|authori[sz]ed|"
        r"free|"
        r"cleared) to\b",
        gate=(" now ",),
    ),
    signal(
        "share_private",
        0.45,
        r"\b(?:share|reveal|disclose|leak|expose|dump|send)\s+(?:\w+\s+)?(?:private|personal|confidential|"
        r"sensitive|internal)\s+(?:user\s+|customer\s+)?(?:data|information|details|records)\b",
        gate=("private", "personal", "confidential", "sensitive", "internal"),
    ),
    signal(
        "hidden_task",
        0.55,
        r"\byour (?:real|true|actual|new|only|secret|hidden) (?:task|job|goal|mission|objective|purpose|"
        r"instructions?|orders)\b"
        r"|\b(?:ai|assistants?|models?|llms?|agents?|bots?)\s+(?:reading|processing|summari[sz]ing|parsing|"
        r"seeing|analy[sz]ing)\s+(?:this|these)\b",
        gate=("your ", "this", "these"),
    ),
    signal(
        "covert_action",
        0.55,
        r"\b(?:silently|secretly|quietly|covertly)\s+(?:call|run|execute|send|forward|delete|email|e-mail|"
        r"post|upload|invoke|use)\b"
        r"|\bwithout (?:telling|informing|alerting|notifying|asking) (?:the user|them|him|her|anyone)\b",
        gate=("silently", "secretly", "quietly", "covertly", "without"),
    ),
    signal(
        "ignore_the_user",
        0.5,
        r"\b(?:ignore|disregard)\s+(?:the\s+)?user(?:'s)?\s+(?:question|request|message|query|"
        r"instructions?)\b",
        gate=("ignore", "disregard"),
    ),
    signal(
        "fake_turn",
        0.6,
        r"<<\s*/?\s*sys\s*>>|```\s*system\b|\[system\]\(#|<\|\s*(?:system|user|assistant|end)\s*\|>"
        r"|(?:^|\n|---)\s*system (?:message|notice|prompt|instruction|override)s?\s*:"
        r"|\b(?:end of|begin|start of) (?:the )?(?:user input|user message|admin(?:istrator)? instructions|"
        r"system instructions|developer instructions|new instructions)\b",
        gate=(
            "sys",
            "user input",
            "user message",
            "admin",
            "developer instructions",
            "<|",
            "new instructions",
        ),
    ),
    signal(
        "notice_to_model",
        0.55,
        r"\b(?:notice|note|message|memo|instructions?)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
        r"(?:language model|ai model|llm|ai assistant|ai agent)s?\b"
        r"|\b(?:ai|assistant|model|agent)\s*:\s*(?:disregard|forget|ignore|override|reveal|send|forward)\b",
        gate=("model", "llm", "ai", "assistant", "agent"),
    ),
    signal(
        "prompt_leak_paraphrase",
        0.65,
        r"\b(?:show|paste|copy|echo|repeat|print|output|reveal|tell|give|write|summari[sz]e|quote|what'?s|"
        r"what is|what are|what were)\b(?:\W+\w+){0,6}?\W+(?:the\s+)?(?:exact\s+|full\s+|hidden\s+|"
        r"secret\s+)?"
        r"(?:text|words|content|wording)?\s*(?:of\s+)?(?:the\s+)?(?:(?:instructions|prompt|system message|"
        r"rules|configuration)\s+(?:that\s+)?(?:you|your developers)\s+(?:were\s+|have\s+|had\s+)?"
        r"(?:received|given|initiali[sz]ed|configured|started|gave|wrote)|(?:hidden|initial|secret|"
        r"confidential)\s+(?:prompt|"
        r"instructions|configuration|rules)\s+(?:that\s+)?(?:configures?|drives?|controls?|you)"
        r"|(?:written|stated) in your (?:system )?(?:prompt|instructions))"
        r"|\b(?:rules|instructions) your (?:developers?|creators?|makers?|operators?) gave you\b"
        r"|\b(?:repeat|print|output|copy) the (?:words|text) above\b"
        r"|\boutput your (?:initial|original|hidden|full) (?:configuration|setup|instructions|prompt)\b",
        gate=("instructions", "prompt", "system message", "rules", "configuration", "above", "setup"),
    ),
    signal(
        "no_refusal",
        0.6,
        r"\byou (?:will |must |shall |can |now )?(?:no longer|never|not|don't|do not|won't|cannot|can't|"
        r"must not)\s+"
        r"(?:refuse|decline|say no|reject)\b",
        gate=("refuse", "decline", "say no", "reject"),
    ),
    signal(
        "answer_anything",
        0.4,
        r"\byou (?:will |must |shall |can |now )?(?:answer|respond to|reply to|do|comply with) (?:everything|"
        r"anything|every (?:question|request|prompt))\b|\bno matter (?:what|how (?:harmful|illegal|"
        r"dangerous))\b",
        gate=("everything", "anything", "every ", "no matter"),
    ),
    signal(
        "weak_mode",
        0.35,
        r"\bgod mode\b|\b(?:enable|activate|enter|switch to) (?:the )?(?:dev|sudo) mode\b",
        gate=(" mode",),
    ),
    signal(
        "deceased_relative",
        0.6,
        r"\b(?:act|pretend|roleplay|role-play|play|behave|speak)\s+(?:as|like|to be)\s+my\s+(?:late|"
        r"deceased|dead|"
        r"dear departed)\s+(?:grand\w+|mother|father|mom|dad|aunt|uncle)\b",
        gate=("late", "deceased", "dead", "departed"),
    ),
    signal(
        "simulate",
        0.35,
        r"\b(?:simulate|emulate|act as|pretend to be|behave like)\s+(?:an? )?(?:\w+ ){0,2}?(?:terminal|shell|"
        r"console|linux|computer|virtual machine|ai|model|version of (?:you|yourself))\b",
        gate=("simulat", "emulat", "act as", "pretend to be", "behave like"),
    ),
    signal(
        "reader_trigger",
        0.3,
        r"\b(?:when|if|once) (?:you|an? (?:ai|llm|assistant|model|agent)|the (?:ai|llm|assistant|model|"
        r"agent))"
        r" (?:reads?|sees?|process(?:es)?|summari[sz]es?|parses?) this\b",
        gate=("this",),
    ),
    signal(
        "before_answering",
        0.3,
        r"\bbefore (?:answering|responding|replying|you (?:answer|respond|reply))\b",
        gate=("before ",),
    ),
    signal(
        "reveal_secrets",
        0.45,
        r"\b(?:reveal|disclose|expose|dump|leak|print|list|send)\s+(?:all\s+|every\s+)?(?:the\s+|your\s+|"
        r"stored\s+)?"
        r"(?:secrets|passwords|api keys|credentials|access tokens|private keys)\b",
        gate=("secrets", "password", "api key", "credential", "token", "private key"),
    ),
    signal(
        "claimed_authority",
        0.35,
        r"\b(?:i am|i'm) (?:your|the) (?:developer|creator|admin|administrator|owner|operator|"
        r"system administrator)\b"
        r"|\bthe user is an? (?:admin|administrator|developer|superuser)\b"
        r"|\bthis is your (?:developer|creator|admin|administrator|owner|operator|maker)\b",
        gate=("i am", "i'm", "the user is", "this is your"),
    ),
    signal(
        "encoded_instructions",
        0.5,
        r"\b(?:decode|decipher|base64|rot13|hex)\b(?:\W+\w+){0,6}?\W+(?:and|then)\s+(?:follow|execute|obey|"
        r"run|"
        r"do (?:what|as) it says|act on)\b",
        gate=("decode", "decipher", "base64", "rot13", "hex"),
    ),
)
