"""The CLI's one error: it ends a command with a message (kept free of heavy imports, so
`broker --help` and friends start fast)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from broker.errors import Problem
    from broker.yamlsource import Located


class CliError(Exception):
    """Ends a command: printed as `error: <message>` and its problems, then exit `exit_code`."""

    def __init__(
        self,
        message: str,
        *,
        problems: list[Problem] | None = None,
        exit_code: int = 1,
        source: str | None = None,
        located: Located | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []
        self.exit_code = exit_code
        self.source = source
        """The file the problems refer to, if any."""
        self.located = located
        """That file's positions, to place problems the gateway found (it saw JSON, not the file)."""

    def within(self, source: str, located: Located) -> CliError:
        """This error, its problems placed in the file the request was made from."""
        self.source, self.located = source, located
        return self
