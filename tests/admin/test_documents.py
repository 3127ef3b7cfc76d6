"""broker.documents and broker.yamlsource: every mistake in a file is reported at its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from broker import yamlsource
from broker.documents import Document, clean_loc, load_document, parse_document, parse_policies
from broker.errors import InvalidInput, Problem
from connectors.http.openapi import OpenAPIConnectorConfig

GOOD = """\
connectors:
  - name: weather
    kind: http
    base_url: http://127.0.0.1:8101
    tools:
      - name: current
        description: Current weather.
        path: /v1/current
        query: [city]
        input_schema:
          type: object
          properties: {city: {type: string}}
          required: [city]
agents:
  - name: support-bot
    team: support
    description: Answers customer questions
policies:
  - name: support
    agents: [support-bot]
    allow: ["weather.*"]
"""

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Tiny", "version": "1"},
    "servers": [{"url": "http://127.0.0.1:9"}],
    "paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "ok"}}}}},
}


def problems(text: str, base_dir: Path | None = None) -> list[Problem]:
    with pytest.raises(InvalidInput) as caught:
        parse_document(text, source="file.yaml", base_dir=base_dir)
    return caught.value.problems


def test_a_good_document_parses_into_typed_sections() -> None:
    document = parse_document(GOOD, source="file.yaml", base_dir=None)
    assert [c.name for c in document.connectors] == ["weather"]
    assert document.agents[0].team == "support"
    assert document.policies[0].allow == ["weather.*"]


def test_every_section_is_optional_and_an_empty_file_is_an_empty_document() -> None:
    assert parse_document("", source="f", base_dir=None) == Document()
    assert parse_document("agents: []\n", source="f", base_dir=None) == Document()


def test_unknown_fields_and_wrong_types_point_at_their_lines() -> None:
    text = GOOD.replace("        query: [city]\n", "        query: [city]\n        methd: GET\n")
    text = text.replace("    team: support\n", "    team: Support Team\n")
    text += "    bogus: 1\n"
    found = {p.where: p for p in problems(text)}
    assert found["connectors[0].tools[0].methd"].line == 10
    assert found["connectors[0].tools[0].methd"].message == "unknown field 'methd'; did you mean 'method'?"
    assert found["agents[0].team"].line == 17
    assert found["agents[0].team"].column == 5
    assert found["policies[0].bogus"].line == 23


def test_the_connector_kind_is_named_and_union_tags_do_not_leak_into_paths() -> None:
    text = "connectors:\n  - name: w\n    kind: htp\n"
    text += "  - name: x\n    kind: http\n    base_url: ftp://x\n    tools: []\n"
    found = {p.where: p for p in problems(text)}
    assert "expected tags: 'http', 'openapi'" in found["connectors[0].kind"].message
    assert found["connectors[0].kind"].line == 3
    assert found["connectors[1].base_url"].message == "must be an http:// or https:// URL"
    assert found["connectors[1].base_url"].line == 6
    assert found["connectors[1].tools"].line == 7


def test_a_missing_field_is_reported_on_the_item_that_lacks_it() -> None:
    [problem] = problems("policies:\n  - name: p\n    agents: [a]\n")
    assert (problem.where, problem.line, problem.message) == ("policies[0].allow", 2, "Field required")


def test_yaml_syntax_errors_carry_their_line() -> None:
    [problem] = problems("agents:\n  - name: a\n    team: [x\npolicies: []\n")
    assert problem.line == 4
    assert "flow sequence" in problem.message


def test_duplicate_keys_are_refused_rather_than_silently_overwritten() -> None:
    [problem] = problems("agents:\n  - name: a\n    team: x\n    team: y\n")
    assert (problem.where, problem.line, problem.column) == ("agents[0].team", 4, 5)
    assert "first at line 3" in problem.message


def test_duplicate_names_within_a_section_are_refused() -> None:
    text = "agents:\n  - name: a\n  - name: b\n  - name: a\npolicies:\n"
    text += "  - {name: p, agents: [a], allow: ['x.y']}\n  - {name: p, agents: [b], allow: ['x.y']}\n"
    found = {p.where: p for p in problems(text)}
    assert found["agents[2].name"].line == 4
    assert "agents[0]" in found["agents[2].name"].message
    assert found["policies[1].name"].line == 7


def test_alias_bombs_are_refused_quickly() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}" if i > 1 else "*a"] * 10) + "]")
    with pytest.raises(InvalidInput, match="expands to more than"):
        parse_document("\n".join(lines), source="f", base_dir=None)


def test_a_spec_path_is_read_relative_to_the_file_and_inlined(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "tiny.json").write_text(json.dumps(SPEC))
    text = "connectors:\n  - name: tiny\n    kind: openapi\n    spec: specs/tiny.json\n"
    document, located = load_document(text, source="f", base_dir=tmp_path)
    [connector] = document.connectors
    assert isinstance(connector, OpenAPIConnectorConfig) and connector.spec == SPEC
    assert located.value["connectors"][0]["spec"] == SPEC


def test_a_yaml_spec_file_is_inlined_as_json_values(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(
        "openapi: 3.0.3\ninfo: {title: T, version: 1}\npaths:\n  /p:\n    get:\n      responses:\n"
        "        200: {description: ok}\n"
    )
    text = "connectors:\n  - name: tiny\n    kind: openapi\n    spec: tiny.yaml\n"
    [connector] = parse_document(text, source="f", base_dir=tmp_path).connectors
    assert isinstance(connector, OpenAPIConnectorConfig) and connector.spec is not None
    assert connector.spec["paths"]["/p"]["get"]["responses"] == {"200": {"description": "ok"}}


def test_a_missing_spec_file_is_reported_at_the_spec_line(tmp_path: Path) -> None:
    text = "connectors:\n  - name: tiny\n    kind: openapi\n    spec: nope.json\n"
    [problem] = problems(text, base_dir=tmp_path)
    assert (problem.where, problem.line) == ("connectors[0].spec", 4)
    assert "cannot read spec file" in problem.message


def test_without_a_base_dir_a_spec_path_is_a_type_error() -> None:
    text = "connectors:\n  - name: tiny\n    kind: openapi\n    spec: tiny.json\n"
    [problem] = problems(text)
    assert problem.where == "connectors[0].spec"


def test_the_policies_document_uses_the_same_machinery() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_policies("policies:\n  - name: p\n    teams: [t]\n    allow: [nope]\n", source="p.yaml")
    [problem] = caught.value.problems
    assert (problem.where, problem.line) == ("policies[0].allow[0]", 4)
    assert "not a tool pattern" in problem.message
    assert parse_policies("policies: []", source="p.yaml").policies == []


def test_a_document_that_is_not_a_mapping_says_so() -> None:
    [problem] = problems("- just\n- a list\n")
    assert problem.message == "must be a mapping of keys to values"


def test_clean_loc_keeps_real_paths_and_a_final_missing_field() -> None:
    value = {"connectors": [{"name": "w", "kind": "http"}]}
    assert clean_loc(("connectors", 0, "http", "tools"), value) == ("connectors", 0, "tools")
    assert clean_loc(("connectors", 0, "http", "name"), value) == ("connectors", 0, "name")


def test_marks_fall_back_to_the_deepest_existing_node() -> None:
    located = yamlsource.load("a:\n  b:\n    - 1\n    - 2\n")
    assert located.mark(("a", "b", 1)) == yamlsource.Mark(4, 7)
    assert located.mark(("a", "b", 7, "x")) == yamlsource.Mark(2, 3)
