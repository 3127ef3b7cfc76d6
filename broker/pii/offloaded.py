"""What a worker process (`broker.offload`) runs to mask a big JSON result: see
`Masker._mask_elsewhere`. A masker is kept per policy and salt for the life of the worker."""

from __future__ import annotations

from broker.pii.masker import Masker, Proposed
from broker.pii.vault import MemoryVault
from policies.masking import MaskingPolicy, masking_fingerprint

_MASKERS: dict[tuple[str, bytes], Masker] = {}


def mask_in_worker(
    policy: MaskingPolicy,
    salt: bytes,
    agent: str,
    text: str,
    tokens: dict[tuple[str, str], str] | None = None,
) -> Proposed | None:
    """In a worker process: `Masker.mask_text_as_proposed` with a masker kept per policy and salt."""
    key = (masking_fingerprint(policy), salt)
    masker = _MASKERS.get(key)
    if masker is None:
        if len(_MASKERS) > 64:
            _MASKERS.clear()
        masker = _MASKERS[key] = Masker(policy, salt, MemoryVault())  # the vault is never asked
    return masker.mask_text_as_proposed(agent, text, tokens)
