"""HTTP tools with a fixed JSON body template and fixed query parameters (used by presets)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from connectors.http.connector import HttpConnector, HttpConnectorConfig, HttpToolConfig
from connectors.http.template import fill_template, template_arguments

SEARCH_SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string"},
        "stage": {"type": "string"},
        "limit": {"type": "integer"},
        "after": {"type": "string"},
    },
}
SEARCH_TEMPLATE = {
    "query": "{{query}}",
    "filterGroups": [{"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": "{{ stage }}"}]}],
    "sorts": [{"propertyName": "closedate", "direction": "DESCENDING"}],
    "properties": ["dealname", "amount"],
    "limit": "{{limit}}",
}


def search_tool(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "search",
        "description": "Search deals.",
        "method": "POST",
        "path": "/echo/search",
        "input_schema": SEARCH_SCHEMA,
        "body_template": SEARCH_TEMPLATE,
        **overrides,
    }


def test_placeholders_are_listed_in_order() -> None:
    assert template_arguments(SEARCH_TEMPLATE) == ["query", "stage", "limit"]


def test_present_arguments_replace_their_placeholder_with_their_json_value() -> None:
    body = fill_template(SEARCH_TEMPLATE, {"query": "acme", "stage": "closedwon", "limit": 5})
    assert body == {
        "query": "acme",
        "filterGroups": [
            {"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"}]}
        ],
        "sorts": [{"propertyName": "closedate", "direction": "DESCENDING"}],
        "properties": ["dealname", "amount"],
        "limit": 5,
    }


def test_an_absent_argument_removes_its_array_element_and_emptied_containers() -> None:
    body = fill_template(SEARCH_TEMPLATE, {})
    assert body == {
        "sorts": [{"propertyName": "closedate", "direction": "DESCENDING"}],
        "properties": ["dealname", "amount"],
    }


def test_only_the_element_holding_the_placeholder_goes() -> None:
    template = {"filters": [{"value": "{{a}}"}, {"value": "{{b}}"}, {"value": "fixed"}], "x": {"y": "{{a}}"}}
    assert fill_template(template, {"b": [1, 2]}) == {"filters": [{"value": [1, 2]}, {"value": "fixed"}]}


def test_values_are_never_spliced_into_strings() -> None:
    body = fill_template({"q": "{{q}}"}, {"q": '", "limit": 1000, "x": "'})
    assert body == {"q": '", "limit": 1000, "x": "'}
    with pytest.raises(ValueError, match="whole string"):
        template_arguments({"q": "name: {{q}}"})


async def test_the_request_carries_the_filled_template_and_fixed_query(upstream: str) -> None:
    config = HttpConnectorConfig.model_validate(
        {
            "kind": "http",
            "name": "deals",
            "base_url": upstream,
            "allow_private_network": True,
            "tools": [search_tool(fixed_query={"archived": "false"}, query=["after"])],
        }
    )
    async with HttpConnector(config) as connector:
        full = await connector.call("search", {"query": "acme", "stage": "won", "limit": 2, "after": "4"})
        bare = await connector.call("search", {})
    assert full.structured is not None and bare.structured is not None
    assert full.structured["json"]["filterGroups"][0]["filters"][0]["value"] == "won"
    assert full.structured["json"]["limit"] == 2
    assert full.structured["query"] == [["archived", "false"], ["after", "4"]]
    assert full.structured["headers"]["content-type"] == "application/json"
    assert bare.structured["json"] == {
        "sorts": [{"propertyName": "closedate", "direction": "DESCENDING"}],
        "properties": ["dealname", "amount"],
    }
    assert bare.structured["query"] == [["archived", "false"]]


async def test_other_body_arguments_join_the_template_top_level(upstream: str) -> None:
    schema = {"type": "object", "properties": {"limit": {"type": "integer"}, "note": {"type": "string"}}}
    tool = search_tool(input_schema=schema, body_template={"sorts": [], "limit": "{{limit}}"})
    config = HttpConnectorConfig.model_validate(
        {"kind": "http", "name": "t", "base_url": upstream, "allow_private_network": True, "tools": [tool]}
    )
    async with HttpConnector(config) as connector:
        result = await connector.call("search", {"limit": 3, "note": "hi"})
    assert result.structured is not None
    assert result.structured["json"] == {"sorts": [], "limit": 3, "note": "hi"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"method": "GET"}, "GET tools cannot send a body"),
        ({"body_argument": "query"}, "cannot be combined with `body_argument`"),
        ({"body_template": {"q": "{{nope}}"}}, "'nope' is not a property of input_schema"),
        ({"query": ["limit"]}, "'limit' is already mapped"),
        ({"body_template": {"q": "x {{query}}"}}, "must be the whole string"),
        ({"body_template": {"stage": "fixed", "q": "{{query}}"}}, "member 'stage' would also be set"),
        ({"fixed_query": {"limit": "10"}}, "'limit' is also an argument"),
    ],
)
def test_bad_templates_are_refused_on_their_field(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        HttpToolConfig.model_validate(search_tool(**overrides))
    assert message in str(caught.value)


def test_templates_round_trip_through_json() -> None:
    tool = HttpToolConfig.model_validate(search_tool(fixed_query={"a": "b"}))
    assert HttpToolConfig.model_validate_json(tool.model_dump_json()) == tool
