"""The masking engine: one policy and one salt; a JSON text or document in, masked out, with the
token of each value to tokenise as first proposed (8 hex characters of an agent's keyed hash).

Everything here is synchronous and asks no vault: a worker process masks a big result with an
engine alone (broker/pii/offloaded.py), and `Masker` (broker/pii/masker.py) adds the vault that
confirms the tokens, and the calls' async face.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

from broker import shared_text
from broker.pii.clean import CleanStrings
from broker.pii.context import Found
from broker.pii.detector import PATTERN_ENTITIES, Detector
from broker.pii.issuing import in_order
from broker.pii.jsontext import emit_json, parse, rename_keys, renamed, scan_json, serialise
from broker.pii.nogc import gc_paused
from broker.pii.operators import VALUE_FREE, AgentMacs, Apply, build, derive_key, tokenize, tokens_for
from broker.pii.splicing import Plan, Plans, splice_back, splice_each, token_requests
from broker.pii.structure import Collected, FieldRules, Match, collect
from policies.masking import MaskingPolicy, OperatorSpec, masking_fingerprint

ENGINE_VERSION = "1"
"""Bumped when detection or masking output changes: part of `MaskingEngine.fingerprint`."""

Counts = dict[str, int]
Proposed = tuple[str, Counts, list[str], list[str], list[str], dict[str, int]]
"""Masked text, counts; the token requests in issuing order (`issuing.in_order`) as parallel lists
of entities, values and the token proposed for each; the tokens written more than once (how
often). Lists, not a dict of (entity, value) keys: see `TokenIssuer`."""


def _written(value: Any, indent: int | None, fast: bool, utf8_to: Callable[[bytes], None] | None) -> str:
    """`serialise(value, indent, fast)`, or its UTF-8 handed to `utf8_to` ("" returned): orjson's
    own bytes where it writes the text, not decoded and encoded again."""
    if utf8_to is None:
        return serialise(value, indent, fast)
    if fast:
        try:
            utf8_to(orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0))
            return ""
        except TypeError:
            pass
    utf8_to(serialise(value, indent, False).encode("utf-8", shared_text.ERRORS))
    return ""


class MaskingEngine:
    """Detection, field rules and operators of one masking policy, and the write-back of what
    they find. Built once per policy and salt, shared by every call it masks."""

    def __init__(self, policy: MaskingPolicy, salt: bytes, *, detector: Detector | None = None) -> None:
        if len(salt) < 16:
            raise ValueError("the masking salt must be at least 16 bytes")
        self.policy = policy
        self.fingerprint = f"{ENGINE_VERSION}:{masking_fingerprint(policy)}"
        self._salt = salt
        self._agent_mac = AgentMacs(salt)
        self._hash_key = derive_key(salt, "hash")
        detected = [e for e in PATTERN_ENTITIES if policy.operator_for(e).operator != "keep"]
        self._detector = detector or Detector(detected)
        self._strings = CleanStrings(self._detector)
        self._rules = FieldRules(policy, self._strings.clean)
        self._ops: dict[tuple[str, int], Apply | None] = {}
        self._specs: dict[str, OperatorSpec] = {}
        self._tokenized = frozenset(e for e in PATTERN_ENTITIES if self._spec(e).operator == "token")
        self._by_entity = Plans(self._plan)  # how each entity found by patterns is masked

    def _scan(self, value: Any) -> tuple[Collected, list[list[Found]], Counter[tuple[str, str]]]:
        with gc_paused():
            return self._found(collect(value, self._rules))

    def _found(self, collected: Collected) -> tuple[Collected, list[list[Found]], Counter[tuple[str, str]]]:
        """What detection finds in the texts gathered, and the token requests of that."""
        with gc_paused():
            texts, keys = collected.texts, collected.keys
            findings = self._strings.find_gathered(texts, keys) if texts else []
            return collected, findings, self._token_requests(collected, findings)

    def _write_back_paused(
        self, collected: Collected, findings: list[list[Found]], tokens: dict[tuple[str, str], str]
    ) -> tuple[Any, Counts]:
        with gc_paused():
            return self._write_back(collected, findings, tokens)

    def _write_back(
        self, collected: Collected, findings: list[list[Found]], tokens: dict[tuple[str, str], str]
    ) -> tuple[Any, Counts]:
        counts: Counter[str] = Counter()
        renames: dict[int, tuple[dict[str, Any], dict[str, str]]] = {}
        texts, slots, key_slots = collected.texts, collected.slots, collected.key_slots
        keyed = splice_back(texts, findings, slots, key_slots, tokens, counts, self._by_entity)
        for owner, key, masked in keyed:
            renames.setdefault(id(owner), (owner, {}))[1][key] = masked
        self._write_wholes(collected, tokens, counts)
        for container, names in renames.values():
            rename_keys(container, names)
        return collected.value, dict(counts)

    def _write_wholes(
        self, collected: Collected, tokens: dict[tuple[str, str], str], counts: Counter[str]
    ) -> None:
        """Each value a field rule matched, masked whole into its slot and counted."""
        for container, slot, text, (entity, spec) in collected.wholes:
            container[slot] = self._apply(entity, spec, text, tokens)  # type: ignore[index]
            if spec.operator != "keep":
                counts[entity] += 1

    def mask_text_as_proposed(
        self,
        agent: str,
        text: str,
        tokens: dict[tuple[str, str], str] | None = None,
        *,
        utf8_to: Callable[[bytes], None] | None = None,
    ) -> Proposed | None:
        """`mask_text` of a JSON document with every token as first proposed (or as in `tokens`),
        those tokens with their requests in issuing order, and the ones written more than once (how
        often); None when `text` is no JSON document. No vault: what a worker process does. With
        `tokens` (the issued ones, already known to the caller) no requests are returned. With
        `utf8_to` the masked text goes to it as UTF-8 (lone surrogates as `shared_text.ERRORS`
        writes them) and "" is returned in its place.

        Where the native module is built the text is masked without its Python document
        (`jsontext.scan_json`, `emit_json`); what that declines (see broker/pii/native/src/scan/)
        is parsed, walked and serialised, the reference."""
        if scan_json is not None and (done := self._as_proposed_scanned(agent, text, tokens, utf8_to)):
            return done
        return self._as_proposed_parsed(agent, text, tokens, utf8_to)

    def _as_proposed_parsed(
        self,
        agent: str,
        text: str,
        tokens: dict[tuple[str, str], str] | None,
        utf8_to: Callable[[bytes], None] | None,
    ) -> Proposed | None:
        """`mask_text_as_proposed` of the parsed document: the reference."""
        try:
            decoded = parse(text)
        except ValueError:
            return None
        collected, findings, requests = self._scan(decoded)
        indent = 2 if "\n" in text else None

        def back(tokens: dict[tuple[str, str], str]) -> tuple[Any, Counts]:
            return self._write_back_paused(collected, findings, tokens)

        def write(masked: Any) -> str:
            return _written(masked, indent, collected.finite, utf8_to)

        return self._proposed(agent, requests, tokens, back, write)

    def _as_proposed_scanned(
        self,
        agent: str,
        text: str,
        tokens: dict[tuple[str, str], str] | None,
        utf8_to: Callable[[bytes], None] | None,
    ) -> Proposed | None:
        """`mask_text_as_proposed` from the text's scan (None where the scan declines it): the
        write-back makes a list of the gathered texts masked (None where unchanged) and puts
        each value masked whole in `replaced` (by its place in the text); the masked text is
        written from the text and those."""
        assert scan_json is not None and emit_json is not None
        collected = Collected(self._rules)
        replaced: dict[int, str] = {}
        with gc_paused():
            scan = scan_json(collected, text, replaced)
        if scan is None:
            return None
        _, findings, requests = self._found(collected)

        def back(tokens: dict[tuple[str, str], str]) -> tuple[list[str | None], Counts]:
            with gc_paused():
                counts: Counter[str] = Counter()
                masked = splice_each(collected.texts, findings, tokens, counts, self._by_entity)
                self._write_wholes(collected, tokens, counts)
                return masked, dict(counts)

        def write(masked: list[str | None]) -> str | None:
            assert emit_json is not None
            with gc_paused():
                utf8 = emit_json(scan, masked, replaced, "\n" in text, renamed)
            if utf8 is None or utf8_to is None:
                return None if utf8 is None else utf8.decode()
            utf8_to(utf8)
            return ""

        return self._proposed(agent, requests, tokens, back, write)

    def _proposed(
        self,
        agent: str,
        requests: Counter[tuple[str, str]],
        tokens: dict[tuple[str, str], str] | None,
        back: Callable[[dict[tuple[str, str], str]], tuple[Any, Counts]],
        write: Callable[[Any], str | None],
    ) -> Proposed | None:
        """The rest of `mask_text_as_proposed` once the document is scanned: its tokens, the
        write-back (`back`), the masked text `write` makes of what it wrote (None: it could not)."""
        if tokens is not None:
            masked, counts = back(tokens)
            written = write(masked)
            return None if written is None else (written, counts, [], [], [], {})
        with gc_paused():
            ordered = in_order(requests)
            tokens = tokens_for(self._agent_mac(agent), ordered)
        masked, counts = back(tokens)
        written = write(masked)
        if written is None:
            return None
        with gc_paused():
            repeated = {tokens[request]: times for request, times in requests.items() if times > 1}
            entities = [entity for entity, _ in ordered]
            values = [value for _, value in ordered]
            proposed = list(tokens.values())  # (in issuing order: the dict was filled so)
        return written, counts, entities, values, proposed, repeated

    def _spec(self, entity: str) -> OperatorSpec:
        spec = self._specs.get(entity)
        if spec is None:
            spec = self._specs[entity] = self.policy.operator_for(entity)
        return spec

    def _apply(self, entity: str, spec: OperatorSpec, text: str, tokens: dict[tuple[str, str], str]) -> str:
        operate = self._operation(entity, spec)
        return tokenize(text, entity, tokens) if operate is None else operate(text)

    def _operation(self, entity: str, spec: OperatorSpec) -> Apply | None:
        key = (entity, id(spec))  # specs belong to self.policy and live as long as this masker
        try:
            return self._ops[key]
        except KeyError:
            operate = self._ops[key] = build(spec, entity, self._hash_key)
            return operate

    def _plan(self, entity: str) -> Plan:
        spec = self._spec(entity)
        operate = self._operation(entity, spec)
        fixed = operate("") if operate is not None and spec.operator in VALUE_FREE else None
        return spec.operator == "keep", operate, fixed

    def _token_requests(self, collected: Collected, findings: list[list[Found]]) -> Counter[tuple[str, str]]:
        """Each (entity, value) to tokenise, and how many times `_write_back` writes its token.
        Gathered in a list (natively where built: `splicing.token_requests`) and counted once (C):
        cheaper than adding to a set per string."""
        tokenized = self._tokenized
        found = token_requests(collected.texts, findings, tokenized) if tokenized else []
        whole: list[tuple[str, Match]] = [(text, match) for _, _, text, match in collected.wholes]
        found += [(entity, text) for text, (entity, spec) in whole if spec.operator == "token"]
        return Counter(found)
