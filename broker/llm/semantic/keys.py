"""What must be equal for two prompts to share an answer, and what may merely be similar.

The *exact key* covers everything that changes an answer besides the wording of the last user
message: the model, the earlier messages (system prompt and history), tools, and every
parameter (temperature, max_tokens, response_format...). The *entities* of the last user
message (numbers, dates, identifiers, e-mails and masked tokens, quoted strings, capitalised
names; numbers in words, periods, negations and words whose opposite changes the answer), in
their order, go into the key too, so "weather in Paris on May 3" never matches "weather in Rome on
May 3", however close their embeddings. What is left to compare by embedding is the wording,
with the entities replaced by their kind.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

_ENTITY = re.compile(
    r"<[A-Z][A-Z0-9_]{1,39}(?:_[0-9a-f]{8,32})?>"  # masked entities and tokens
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses
    r"|\"[^\"]{1,200}\"|'[^']{1,200}'"  # quoted strings
    r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"  # dates
    r"|\b(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9][A-Za-z0-9_-]*\b"  # numbers and identifiers with digits
    r"|(?-i:(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'-]+\b)"  # capitalised words not starting a sentence: names
    r"|\b(?:january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|yesterday|tonight|"
    r"morning|afternoon|evening|night|weekend|hour|day|week|month|quarter|year|decade|last|next|previous|"
    r"ago|earlier|later|before|after|since|until)s?\b"
    r"|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|thousand|million|billion|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
    r"half|double|twice|triple|dozen|single|none|few|many)\b"
    r"|\b(?:not|no|never|nor|without|nobody|nothing|neither|\w+n't|cannot)\b"  # negation
    r"|\b(?:largest|smallest|biggest|highest|lowest|best|worst|top|bottom|most|least|max|maximum|min|"
    r"minimum|more|less|fewer|greater|above|below|over|under|increase|decrease|raise|lower|buy|sell|"
    r"approve|reject|accept|decline|deny|allow|block|add|remove|delete|create|enable|disable|open|close|"
    r"closed|start|stop|win|lose|won|lost|true|false|yes|import|export|upload|download|inbound|outbound|"
    r"north|south|east|west|left|right|old|new|oldest|newest|first|last|early|late|"
    r"cheap|cheapest|expensive|fast|slow|hot|cold|positive|negative|profit|loss|debit|credit)\b",
    re.IGNORECASE,
)
_IGNORED = ("messages", "stream", "stream_options", "user", "metadata", "n")


@dataclass(frozen=True, slots=True)
class PromptKey:
    exact: str
    """Digest of the model, the conversation before the last user message, every parameter and
    the last message's entities."""
    wording: str
    """The last user message with its entities replaced by placeholders: what is embedded."""


def last_user_text(messages: list[Any]) -> tuple[int, str] | None:
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return index, content
            if isinstance(content, list) and all(
                isinstance(p, dict) and p.get("type") == "text" for p in content
            ):
                return index, "\n".join(str(p.get("text", "")) for p in content)
            return None  # images, audio, files: not cached
    return None


def entities(text: str) -> list[str]:
    """The entities in the order they appear ("from London to Paris" is not "from Paris to
    London"), with the words that turn an answer around: numbers in words, periods, negations,
    and the opposites (largest/smallest, approve/reject, buy/sell, from/to...)."""
    found = []
    for match in _ENTITY.finditer(text):
        value = match.group()
        # Case does not change a number or an identifier, but it does set a name apart from a word.
        found.append(value if value[:1].isupper() else value.lower())
    return found


def prompt_key(route: str, payload: dict[str, Any]) -> PromptKey | None:
    """The key of a chat completion request, or None when it cannot be cached (no text turn)."""
    messages = payload.get("messages")
    if not isinstance(messages, list):
        return None
    found = last_user_text(messages)
    if found is None:
        return None
    index, text = found
    parameters = {k: v for k, v in payload.items() if k not in _IGNORED and k != "model"}
    material = {
        "route": route,
        "before": messages[:index],
        "after": messages[index + 1 :],
        "parameters": parameters,
        "entities": entities(text),
    }
    exact = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()
    wording = _ENTITY.sub(lambda m: "<E>", text)
    return PromptKey(exact, " ".join(wording.split()))
