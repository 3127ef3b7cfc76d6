"""What a guardrail found, and the errors that stop a call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Verdict:
    """One guardrail that fired: which rule, what it did, where, and how sure it was."""

    rule: str
    """pii, secrets, injection, tool_results, topic:<name>, output.pii, output.secrets."""
    action: str
    """flag, mask or block."""
    where: str
    """prompt, tool_result or answer."""
    score: float | None = None
    detail: str = ""
    """Entity types with counts, or the injection signals; never the matched text."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "action": self.action, "where": self.where}
        if self.score is not None:
            out["score"] = self.score
        if self.detail:
            out["detail"] = self.detail
        return out


class OutputBlocked(Exception):
    """An answer a guardrail blocks; a stream is cut with an error event naming the rule."""

    def __init__(self, verdict: Verdict, message: str) -> None:
        super().__init__(message)
        self.verdict = verdict
        self.message = f"{message}; the agent's guardrails block it (rule '{verdict.rule}')"
