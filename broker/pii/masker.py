"""The masker: a masking engine with its token vault; JSON, text and MCP content in, masked out.

A `Masker` is built once per effective masking policy (see `policies.masking.masking_for`)
and shared by every call of the agents that have it. Work per call is synchronous (regexes
and string building, `MaskingEngine`'s) except for token issuance, which awaits the vault once
per batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from broker import offload, shared_text
from broker.errors import NotConfigured
from broker.pii.detector import Detector
from broker.pii.engine import Counts, MaskingEngine, Proposed
from broker.pii.issuing import TokenIssuer, TokenRequests
from broker.pii.jsontext import parse, scan_json, serialise
from broker.pii.nogc import gc_paused
from broker.pii.offloaded import landed, mask_in_worker, retokened
from broker.pii.splicing import splice
from broker.pii.vault import TokenVault, resolve_tokens
from policies.masking import MaskingPolicy
from policies.patterns import compile_pattern

OFF_LOOP_CHARS = 256 * 1024
"""Results at least this long (in characters of JSON) are masked in a worker thread."""
IN_PROCESS_CHARS = offload.MIN_BYTES
"""JSON text at least this long is masked in a worker process (see `Masker._mask_elsewhere`)."""

log = logging.getLogger("broker.pii")


class Masker(MaskingEngine):
    """Masks tool results for the agents of one masking policy."""

    def __init__(
        self,
        policy: MaskingPolicy,
        salt: bytes,
        vault: TokenVault | None = None,
        *,
        detector: Detector | None = None,
    ) -> None:
        super().__init__(policy, salt, detector=detector)
        if policy.uses_tokens and vault is None:
            raise ValueError("this masking policy issues tokens: pass a TokenVault")
        self._vault = vault
        self._resolvers = [compile_pattern(p) for p in policy.resolve_tokens_for]
        self._may_resolve: dict[str, bool] = {}
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
        masked, counts, entities, values, proposed, repeated = outcome
        if not entities:
            return masked, counts
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
        policy, salt = self.policy, self._salt
        if shared_text.available():
            try:
                with await asyncio.to_thread(shared_text.SharedText, text) as shared:
                    sent = shared.sent
                    outcome = await offload.in_process(mask_in_worker, policy, salt, agent, sent, tokens)
                    if outcome is None:
                        return None
                    return landed((await asyncio.to_thread(shared.read), *outcome[1:]))
            except OSError as error:  # no memory file, or the worker may not open the gateway's
                shared_text.unavailable(error)
        return landed(await offload.in_process(mask_in_worker, policy, salt, agent, text, tokens))

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
