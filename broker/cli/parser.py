"""The CLI's argument parser: argparse's, with a 'did you mean' for a mistyped command or choice."""

from __future__ import annotations

import argparse
from typing import Any

from broker.suggest import did_you_mean


class SuggestingParser(argparse.ArgumentParser):
    """Sub-parsers inherit the class (argparse's `parser_class` default), so every level suggests."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is not None and value not in choices:
            hint = did_you_mean(str(value), [str(choice) for choice in choices])
            if hint:
                raise argparse.ArgumentError(action, f"invalid choice: {value!r}{hint}")
        super()._check_value(action, value)
