"""The demo's mock model follows `[[call:...]]` plans: references to earlier results resolve as
documented (the README's tool-loop example depends on them)."""

from __future__ import annotations

import json
from typing import Any

from broker.demo.upstreams.llm_tool_use import next_tool_call


def body(plan: str, *results: Any) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": plan}]
    for n, result in enumerate(results, 1):
        messages.append({"role": "assistant", "content": None, "tool_calls": [{"id": f"c{n}"}]})
        messages.append({"role": "tool", "tool_call_id": f"c{n}", "content": json.dumps(result)})
    return {"tools": [{"type": "function"}], "messages": messages}


WEATHER = {"current_units": {"temperature_2m": "°C"}, "current": {"temperature_2m": 1.2}}


def test_a_dotted_reference_follows_its_path_and_a_plain_one_takes_the_first_value() -> None:
    plan = '[[call:a {}]] [[call:b {"t": "{{1.current.temperature_2m}}", "u": "{{1.temperature_2m}}"}]]'
    call = next_tool_call(body(plan, WEATHER))
    assert call is not None
    assert json.loads(call["function"]["arguments"]) == {"t": "1.2", "u": "°C"}


def test_the_plan_ends_when_every_call_has_its_result() -> None:
    assert next_tool_call(body("[[call:a {}]]", {"ok": True})) is None
