"""What a worker process (`broker.offload`) runs to mask a big JSON result, and how the gateway
writes a lengthened token into what it gave back: see `Masker._mask_elsewhere`. An engine (no
vault: the gateway's confirms the tokens) is kept per policy and salt for the life of the worker,
and the memory a job frees for the next (`broker.offload_memory`)."""

from __future__ import annotations

import os
from functools import partial
from itertools import compress
from operator import is_not

from broker import offload_memory, shared_text
from broker.pii.engine import Counts, MaskingEngine, Proposed
from broker.pii.issuing import Packed, packed, unpacked
from broker.pii.nogc import gc_paused
from policies.masking import MaskingPolicy, masking_fingerprint

_ENGINES: dict[tuple[str, bytes], MaskingEngine] = {}
Shipped = tuple[str, Counts, list[str], Packed, Packed, dict[str, int]]
"""`Proposed` as it crosses the process boundary: its values and tokens `packed`."""
MAX_RETOKENED = 16
"""More lengthened tokens than this: the worker masks the text again (each costs two passes here)."""


def mask_in_worker(
    policy: MaskingPolicy,
    salt: bytes,
    agent: str,
    text: str | shared_text.Sent,
    tokens: dict[tuple[str, str], str] | None = None,
) -> Shipped | None:
    """In a worker process: `MaskingEngine.mask_text_as_proposed` with an engine kept per policy and salt.
    A text sent through a memory file (`broker.shared_text`) is masked into that file: the masked
    text returned is then "".

    No cyclic GC for the whole job, not only its parse, scan and write-back: the first container
    allocated between them (the token dict, the serialisation) would have the collector walk
    the whole parsed document, twice a job (~6 ms per MB)."""
    with gc_paused():
        key = (masking_fingerprint(policy), salt)
        engine = _ENGINES.get(key)
        if engine is None:
            if not _ENGINES:  # this worker's first masking job (others prepare configs)
                offload_memory.keep(offload_memory.WORKER_KEEP_BYTES)
            if len(_ENGINES) > 64:
                _ENGINES.clear()
            engine = _ENGINES[key] = MaskingEngine(policy, salt)
        if isinstance(text, str):
            return _shipped(engine.mask_text_as_proposed(agent, text, tokens))
        fd, taken = shared_text.take(text)
        try:
            outcome = engine.mask_text_as_proposed(
                agent, taken, tokens, utf8_to=partial(shared_text.give, fd)
            )
        finally:
            os.close(fd)
        return _shipped(outcome)


def _shipped(outcome: Proposed | None) -> Shipped | None:
    if outcome is None:
        return None
    masked, counts, entities, values, proposed, repeated = outcome
    return masked, counts, entities, packed(values), packed(proposed), repeated


def landed(outcome: Shipped | None) -> Proposed | None:
    """A worker's `Shipped` outcome as the `Proposed` it was."""
    if outcome is None:
        return None
    masked, counts, entities, values, proposed, repeated = outcome
    return masked, counts, entities, unpacked(values), unpacked(proposed), repeated


def retokened(text: str, proposed: list[str], issued: list[str], repeated: dict[str, int]) -> str | None:
    """The worker's masked `text` with each token the vault lengthened written as issued (`issued`
    is `proposed` as the vault confirmed it, position for position, the same str where the same
    token), or None where a plain replacement could touch more than those tokens (the worker then
    masks the text again: ~0.7 s for 5 MB, where this costs ~2 ms per token replaced).

    A replacement is exact when the proposed token was proposed for that one value, occurs in
    the text exactly as often as it was written (`repeated`, else once: so no upstream text
    holds it), and the issued one does not occur at all (no key it could clash with). A token
    is `<` name `_` hex `>` with no other `<` or `>`, so no occurrence straddles another.
    """
    moved = compress(range(len(proposed)), map(is_not, proposed, issued))
    changed = [(proposed[at], issued[at]) for at in moved if proposed[at] != issued[at]]
    if len(changed) > MAX_RETOKENED:
        return None
    olds = {old for old, _ in changed}
    if len(olds) != len(changed) or sum(map(olds.__contains__, proposed)) != len(olds):
        return None
    for old, new in changed:
        patched = _replaced(text, old, new, repeated.get(old, 1))
        if patched is None:
            return None
        text = patched
    return text


def _replaced(text: str, old: str, new: str, times: int) -> str | None:
    """`text` with `old` replaced by `new` where `old` occurs `times` times and `new` not at all.
    A lengthened token is the proposed one with more hex before its `>`: where each occurrence of
    the proposed one's head is followed by `>`, none is the issued one, and one split and one join
    do what a count, a search and a replace did (three passes over the text)."""
    head = old[:-1]
    if new.startswith(head) and old.endswith(">"):
        parts = text.split(head)
        if len(parts) - 1 != times or not all(part.startswith(">") for part in parts[1:]):
            return None
        return new[:-1].join(parts)
    if text.count(old) != times or new in text:
        return None
    return text.replace(old, new)
