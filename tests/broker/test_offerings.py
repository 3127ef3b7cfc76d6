"""The naming rules of broker/offerings.py: verbatim names never shown twice, clashes named."""

from __future__ import annotations

import pytest

from broker.offerings import (
    Claims,
    Offerings,
    catalog_prompt,
    catalog_resource,
    catalog_template,
    merge_offerings,
    offering_conflicts,
    templates_overlap,
)
from connectors.base import PromptSpec, ResourceSpec, ResourceTemplateSpec


def offered(
    connector: str, verbatim: bool, uris: list[str], templates: list[str], prompts: list[str]
) -> Offerings:
    return Offerings(
        resources=[catalog_resource(connector, ResourceSpec(uri=u, name=u), verbatim) for u in uris],
        templates=[
            catalog_template(connector, ResourceTemplateSpec(uri_template=t, name=t), verbatim)
            for t in templates
        ],
        prompts=[catalog_prompt(connector, PromptSpec(name=p), verbatim) for p in prompts],
    )


@pytest.mark.parametrize(
    ("one", "other", "overlap"),
    [
        ("file:///{path}", "file:///docs/{name}", True),
        ("test://template/{id}/data", "test://other/{id}", False),
        ("{+uri}", "notes://{id}", True),
        ("a://x", "a://x", True),
    ],
)
def test_templates_overlap_when_one_literal_start_begins_the_other(
    one: str, other: str, overlap: bool
) -> None:
    assert templates_overlap(one, other) is overlap


def test_a_later_clash_is_left_out_never_shown_twice() -> None:
    first = offered("a", True, ["x://1", "broker://b/y"], ["f:///{p}"], ["hello", "b.sneaky"])
    second = offered("b", True, ["x://1", "x://2"], ["f:///docs/{p}", "g://{q}"], ["hello", "other"])
    prefixed = offered("c", False, ["x://1"], ["f:///{p}"], ["hello"])
    merged = merge_offerings([first, second, prefixed], ["a", "b", "c"])
    assert [(r.connector, r.uri) for r in merged.resources] == [
        ("a", "x://1"),
        ("b", "x://2"),
        ("c", "broker://c/x://1"),
    ]  # a verbatim URI in the gateway's scheme is never taken
    assert [(t.connector, t.uri_template) for t in merged.templates] == [
        ("a", "f:///{p}"),
        ("b", "g://{q}"),
        ("c", "broker://c/f:///{p}"),
    ]
    assert [(p.connector, p.name) for p in merged.prompts] == [
        ("a", "hello"),
        ("b", "other"),
        ("c", "c.hello"),
    ]  # 'b.sneaky' is named like connector b's


def test_registration_conflicts_name_both_connectors_and_the_name() -> None:
    incoming = {
        "new": Claims(prompts=("hello",), resources=("x://1",), templates=("f:///{+p}",), verbatim=True)
    }
    others = {
        "old": Claims(prompts=("hello",), resources=("f:///etc/passwd",), templates=(), verbatim=True),
        "ns": Claims(prompts=("ns.hello",), resources=("broker://ns/x://1",), verbatim=False),
    }
    [problems] = offering_conflicts(incoming, others).values()
    assert problems == [
        "its prompt 'hello' is also a prompt of connector 'old'",
        "its resource template 'f:///{+p}' produces the resource 'f:///etc/passwd' of connector 'old'",
    ]
    assert offering_conflicts({"ns2": Claims(prompts=("ns2.hello",))}, others) == {}
