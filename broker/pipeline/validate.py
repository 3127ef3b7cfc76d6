from __future__ import annotations

from typing import Any

from jsonschema.exceptions import best_match

from broker.canonical import CANONICAL
from broker.errors import InvalidArguments
from broker.memo import Memo
from broker.pipeline.call import Next, PromptGet, Request, ToolCall
from connectors.base import Output


class ValidateArguments:
    """Check arguments before anything goes upstream: a tool's against its inputSchema, a
    prompt's against its declared arguments (required ones present, every value a string).
    A resource read or a completion has nothing to check here."""

    def __init__(self) -> None:
        self._valid: Memo[tuple[int, str], Any] = Memo(VALID_MEMO)
        """Argument sets found valid, by (validator, canonical JSON): the same arguments come back
        on every cache hit, and validating them again was a tenth of a hit's own pipeline work.
        A dict emptied whole at VALID_MEMO sets: an LRUCache lookup cost ~0.8 us of a hit's 2.6 here."""

    async def __call__(self, request: Request, call_next: Next) -> Output:
        if isinstance(request, ToolCall):
            self._tool(request)
        elif isinstance(request, PromptGet):
            _prompt(request)
        return await call_next(request)

    def _tool(self, call: ToolCall) -> None:
        assert call.tool is not None, "Authorize resolves the tool first"
        validator = call.tool.validator
        try:
            canonical = CANONICAL.encode(call.arguments)
        except (TypeError, ValueError):
            canonical = None
        call.canonical_arguments = canonical
        key = (id(validator), canonical) if canonical is not None and len(canonical) <= MEMO_CHARS else None
        if key is not None and self._valid.get(key) is validator:  # `is`: the memo keeps it alive
            return
        accept = call.tool.accept
        if accept is not None and accept(call.arguments):  # new arguments, proven valid without jsonschema
            return
        _check(call)
        if key is not None:
            self._valid.keep(key, validator)


VALID_MEMO = 4096
MEMO_CHARS = 2048
"""Longer argument sets are validated every time (they rarely repeat; the memo stays small)."""


def _check(call: ToolCall) -> None:
    assert call.tool is not None
    error = best_match(call.tool.validator.iter_errors(call.arguments))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(arguments)"
        raise InvalidArguments(
            f"Invalid arguments for {call.tool_name}: {where}: {error.message}. "
            "The tool's inputSchema lists what it accepts.",
            audit_message=f"invalid arguments: {where} failed the '{error.validator}' check",
        )


def _prompt(get: PromptGet) -> None:
    assert get.prompt is not None, "Authorize resolves the prompt first"
    declared = get.prompt.spec.arguments
    missing = [
        str(argument.get("name"))
        for argument in declared
        if argument.get("required") and argument.get("name") not in get.arguments
    ]
    if missing:
        raise InvalidArguments(
            f"Prompt {get.name} needs the argument(s) {', '.join(missing)}; "
            "prompts/list shows its arguments.",
            audit_message=f"missing prompt arguments: {', '.join(missing)}",
        )
    wrong = sorted(name for name, value in get.arguments.items() if not isinstance(value, str))
    if wrong:
        raise InvalidArguments(
            f"Prompt arguments are strings; {', '.join(wrong)} of {get.name} is not.",
            audit_message=f"non-string prompt arguments: {len(wrong)}",
        )
