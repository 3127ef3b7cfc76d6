"""The masking engine: one policy, one salt, one vault; JSON, text and MCP content in, masked out.

A `Masker` is built once per effective masking policy (see `policies.masking.masking_for`)
and shared by every call of the agents that have it. Work per call is synchronous (regexes
and string building) except for token issuance, which awaits the vault once per batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson

from broker import offload, shared_text
from broker.errors import NotConfigured
from broker.pii.clean import CleanStrings
from broker.pii.context import Found
from broker.pii.detector import PATTERN_ENTITIES, Detector
from broker.pii.issuing import Packed, TokenIssuer, TokenRequests, in_order, packed, unpacked
from broker.pii.jsontext import emit_json, parse, rename_keys, renamed, scan_json
from broker.pii.jsontext import serialise as serialise  # broker/pipeline/mask.py imports it from here
from broker.pii.nogc import gc_paused
from broker.pii.operators import (
    VALUE_FREE,
    Apply,
    agent_mac,
    build,
    derive_key,
    tokenize,
    tokens_for,
)
from broker.pii.splicing import Plan, Plans, splice, splice_back, splice_each, token_requests
from broker.pii.structure import Collected, FieldRules, Match, collect
from broker.pii.vault import TokenVault, resolve_tokens
from policies.masking import MaskingPolicy, OperatorSpec, masking_fingerprint
from policies.patterns import compile_pattern

OFF_LOOP_CHARS = 256 * 1024
"""Results at least this long (in characters of JSON) are masked in a worker thread."""
IN_PROCESS_CHARS = offload.MIN_BYTES
"""JSON text at least this long is masked in a worker process (see `Masker._mask_elsewhere`)."""
ENGINE_VERSION = "1"
"""Bumped when detection or masking output changes: part of `Masker.fingerprint`."""

log = logging.getLogger("broker.pii")
Counts = dict[str, int]
Proposed = tuple[str, Counts, list[str], Packed, Packed, dict[str, int]]
"""Masked text, counts; the token requests in issuing order (`issuing.in_order`) as parallel lists
of entities, values and the token proposed for each (the last two `packed`); the tokens written
more than once (how often). Lists, not a dict of (entity, value) keys: see `TokenIssuer`."""


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


class Masker:
    """Masks tool results for the agents of one masking policy."""

    def __init__(
        self,
        policy: MaskingPolicy,
        salt: bytes,
        vault: TokenVault | None = None,
        *,
        detector: Detector | None = None,
    ) -> None:
        if len(salt) < 16:
            raise ValueError("the masking salt must be at least 16 bytes")
        if policy.uses_tokens and vault is None:
            raise ValueError("this masking policy issues tokens: pass a TokenVault")
        self.policy = policy
        self.fingerprint = f"{ENGINE_VERSION}:{masking_fingerprint(policy)}"
        self._salt = salt
        self._vault = vault
        self._hash_key = derive_key(salt, "hash")
        detected = [e for e in PATTERN_ENTITIES if policy.operator_for(e).operator != "keep"]
        self._detector = detector or Detector(detected)
        self._strings = CleanStrings(self._detector)
        self._rules = FieldRules(policy, self._strings.clean)
        self._ops: dict[tuple[str, int], Apply | None] = {}
        self._specs: dict[str, OperatorSpec] = {}
        self._resolvers = [compile_pattern(p) for p in policy.resolve_tokens_for]
        self._may_resolve: dict[str, bool] = {}
        self._tokenized = frozenset(e for e in PATTERN_ENTITIES if self._spec(e).operator == "token")
        self._by_entity = Plans(self._plan)  # how each entity found by patterns is masked
        self._tokens = TokenIssuer(vault, salt, policy.token_ttl_seconds) if vault is not None else None

    @property
    def uses_tokens(self) -> bool:
        """Masked output differs per agent: results must not be shared between agents."""
        return self.policy.uses_tokens

    async def mask_json(self, agent: str, value: Any, *, size: int = 0) -> tuple[Any, Counts]:
        """A masked copy of a decoded JSON value, and how many entities of each type were masked.

        `size` (the value's serialised length, when the caller knows it) of `OFF_LOOP_CHARS` or
        more moves the synchronous work to a worker thread: a 5 MB result takes seconds to
        scan, and the event loop keeps serving other calls meanwhile.
        """
        masked, counts, _ = await self._mask_document(agent, value, size)
        return masked, counts

    async def _mask_document(self, agent: str, value: Any, size: int) -> tuple[Any, Counts, bool]:
        """`mask_json`, and whether orjson may write the result (no NaN or infinity in it)."""
        if size >= OFF_LOOP_CHARS:
            collected, findings, requests = await asyncio.to_thread(self._scan, value)
            tokens = await self._issue(agent, requests, off_loop=True)
            masked, counts = await asyncio.to_thread(self._write_back_paused, collected, findings, tokens)
            return masked, counts, collected.finite
        # A small result (the common case): no coroutine hops, no vault lock without token requests.
        collected, findings, requests = self._scan(value)
        tokens = await self._issue(agent, requests) if requests else {}
        masked, counts = self._write_back_paused(collected, findings, tokens)
        return masked, counts, collected.finite

    def _scan(self, value: Any) -> tuple[Collected, list[list[Found]], Counter[tuple[str, str]]]:
        with gc_paused():
            return self._found(collect(value, self._rules))

    def _found(self, collected: Collected) -> tuple[Collected, list[list[Found]], Counter[tuple[str, str]]]:
        """What detection finds in the texts gathered, and the token requests of that."""
        with gc_paused():
            findings = self._strings.find_many(collected.texts, collected.keys) if collected.texts else []
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

    async def mask_text(self, agent: str, text: str) -> tuple[str, Counts]:
        """Masked text. Text that is a JSON document is masked structurally and re-serialised."""
        stripped = text.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            if len(stripped) >= IN_PROCESS_CHARS:
                done = await self._mask_elsewhere(agent, stripped)
            elif scan_json is not None:
                done = await self._mask_scanned(agent, stripped)
            else:
                done = None
            if done is not None:
                return done
            off_loop = len(stripped) >= OFF_LOOP_CHARS
            try:
                decoded = await offload.maybe_in_thread(off_loop, parse, stripped)
            except ValueError:
                pass
            else:
                masked, counts, finite = await self._mask_document(agent, decoded, len(stripped))
                indent = 2 if "\n" in stripped else None
                return await offload.maybe_in_thread(off_loop, serialise, masked, indent, finite), counts
        spans = self._detector.find(text)
        if not spans:
            return text, {}
        requests = {(e, text[s:t]) for s, t, e, _ in spans if self._spec(e).operator == "token"}
        tokens = await self._issue(agent, requests)
        tally: Counter[str] = Counter()
        return splice(text, spans, tokens, tally, self._by_entity), dict(tally)

    async def _mask_scanned(self, agent: str, text: str) -> tuple[str, Counts] | None:
        """`mask_text` of a JSON document from its scan, here on the loop: what a worker does with a
        big one (`_as_proposed_scanned`, no Python document built), its tokens then confirmed as
        `_mask_elsewhere` confirms a worker's. A 100 KB result: ~20% less CPU than the parsed path,
        which stays for what the scan declines (None)."""

        def scanned(tokens: dict[tuple[str, str], str] | None) -> Proposed | None:
            with gc_paused():  # all of it: a collection in between would walk the scan's every text
                return self._as_proposed_scanned(agent, text, tokens, None)

        async def again(tokens: dict[tuple[str, str], str]) -> Proposed | None:
            return scanned(tokens)

        outcome = scanned(None)
        return None if outcome is None else await self._confirmed(agent, outcome, again)

    async def _mask_elsewhere(self, agent: str, text: str) -> tuple[str, Counts] | None:
        """`mask_text` of a big JSON document in a worker process (`broker.offload`): the parse,
        scan and write-back hold the GIL for seconds, which a worker thread would take from the
        event loop. None when the text is no JSON document, or no worker could do it: the caller
        then masks it here."""

        async def again(tokens: dict[tuple[str, str], str]) -> Proposed | None:
            return await self._in_worker(agent, text, tokens)

        try:
            outcome = await self._in_worker(agent, text)
            return None if outcome is None else await self._confirmed(agent, outcome, again)
        except NotConfigured:  # the worker died (killed, out of memory): mask it here, as before workers
            log.warning("a worker process stopped while masking a large result; masking it in the gateway")
            return None

    async def _confirmed(
        self,
        agent: str,
        outcome: Proposed,
        again: Callable[[dict[tuple[str, str], str]], Awaitable[Proposed | None]],
    ) -> tuple[str, Counts] | None:
        """The masked text of `mask_text_as_proposed`'s `outcome` with its tokens as the vault
        issues them. Each was proposed as `_issue` first would (8 hex characters), and the vault
        confirms them as they are. Where one came out longer (its id holds another value: in a
        vault of 100,000s of an agent's tokens, likely for one of a big result's thousands), the
        proposed token is replaced by the issued one in the masked text when that is provably the
        same text (`offloaded.retokened`), else the text is masked `again` with the tokens issued
        (None: it could not be)."""
        from broker.pii.offloaded import retokened  # (that module imports this one)

        masked, counts, entities, packed_values, packed_tokens, repeated = outcome
        if not entities:
            return masked, counts
        values, proposed = unpacked(packed_values), unpacked(packed_tokens)
        assert self._tokens is not None  # checked in __init__: a token policy has a vault
        issued = await self._tokens.issue_in_order(agent, entities, values, proposed)
        if issued == proposed:
            return masked, counts
        big = len(masked) >= OFF_LOOP_CHARS
        patched = await offload.maybe_in_thread(big, retokened, masked, proposed, issued, repeated)
        if patched is not None:
            return patched, counts
        outcome_again = await again(dict(zip(zip(entities, values, strict=True), issued, strict=True)))
        return None if outcome_again is None else outcome_again[:2]

    async def _in_worker(
        self, agent: str, text: str, tokens: dict[tuple[str, str], str] | None = None
    ) -> Proposed | None:
        """`mask_text_as_proposed` in a worker process, the text (and the masked text) passed
        through a memory file where the platform allows (`broker.shared_text`), else pickled."""
        from broker.pii.offloaded import mask_in_worker  # (that module imports this one)

        policy, salt = self.policy, self._salt
        if shared_text.available():
            try:
                with await asyncio.to_thread(shared_text.SharedText, text) as shared:
                    sent = shared.sent
                    outcome = await offload.in_process(mask_in_worker, policy, salt, agent, sent, tokens)
                    if outcome is None:
                        return None
                    return (await asyncio.to_thread(shared.read), *outcome[1:])
            except OSError as error:  # no memory file, or the worker may not open the gateway's
                shared_text.unavailable(error)
        return await offload.in_process(mask_in_worker, policy, salt, agent, text, tokens)

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
            tokens = tokens_for(agent_mac(self._salt, agent), ordered)
        masked, counts = back(tokens)
        written = write(masked)
        if written is None:
            return None
        with gc_paused():
            repeated = {tokens[request]: times for request, times in requests.items() if times > 1}
            entities = [entity for entity, _ in ordered]
            values = packed([value for _, value in ordered])
            proposed = packed(list(tokens.values()))  # (in issuing order: the dict was filled so)
        return written, counts, entities, values, proposed, repeated

    async def mask_content_blocks(
        self, agent: str, blocks: Sequence[Mapping[str, Any]]
    ) -> tuple[list[dict[str, Any]], Counts]:
        """MCP content blocks with their text masked (text blocks, embedded text resources).

        Images, audio, blobs and resource links pass unchanged.
        """
        total: Counter[str] = Counter()
        masked_blocks: list[dict[str, Any]] = []
        for block in blocks:
            copy = dict(block)
            if copy.get("type") == "text" and isinstance(copy.get("text"), str):
                copy["text"], counts = await self.mask_text(agent, copy["text"])
                total.update(counts)
            elif copy.get("type") == "resource" and isinstance(copy.get("resource"), Mapping):
                resource = dict(copy["resource"])
                if isinstance(resource.get("text"), str):
                    resource["text"], counts = await self.mask_text(agent, resource["text"])
                    total.update(counts)
                copy["resource"] = resource
            masked_blocks.append(copy)
        return masked_blocks, dict(total)

    async def mask_result(
        self, agent: str, content: Sequence[Mapping[str, Any]], structured: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, Counts]:
        """Content blocks and structured content of one tool result.

        Both usually carry the same data, so counts are the larger of the two per entity type.
        """
        blocks, counts = await self.mask_content_blocks(agent, content)
        if structured is None:
            return blocks, None, counts
        masked, structured_counts = await self.mask_json(agent, dict(structured))
        merged = {
            e: max(counts.get(e, 0), structured_counts.get(e, 0)) for e in {*counts, *structured_counts}
        }
        return blocks, masked, merged

    def may_resolve(self, tool: str) -> bool:
        """Whether `tool` gets real values for the tokens in its arguments (memoised per tool name)."""
        verdict = self._may_resolve.get(tool)
        if verdict is None:
            if len(self._may_resolve) >= 10_000:
                self._may_resolve.clear()
            verdict = self._may_resolve[tool] = any(matches(tool) for matches in self._resolvers)
        return verdict

    async def resolve_arguments(self, agent: str, tool: str, arguments: Any) -> Any:
        """Arguments with the agent's tokens resolved, for tools in `resolve_tokens_for`.

        Other tools receive tokens as they are. Raises `UnknownToken` for tokens this agent
        cannot resolve (unknown, expired, another agent's).
        """
        if self._vault is None or not self.may_resolve(tool):
            return arguments
        return await resolve_tokens(agent, arguments, self._vault)

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

    async def _issue(
        self,
        agent: str,
        requests: TokenRequests,
        *,
        off_loop: bool = False,
    ) -> dict[tuple[str, str], str]:
        if not requests:
            return {}
        assert self._tokens is not None  # checked in __init__: a token policy has a vault
        return await self._tokens.issue(agent, requests, off_loop=off_loop)
