"""The secrets finder's Python reference (what runs where the native module is not built) on
text holding lone surrogates, as JSON's "\\ud800" decodes: findings, not UnicodeEncodeError."""

from __future__ import annotations

from broker.pii.recognizers_secret import secrets


def test_lone_surrogates_leave_the_findings_where_they_are() -> None:
    key = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
    text = f"\ud800 key {key} \udfff password=Zx9aQ7wE2r"
    assert secrets(text) == secrets(text.replace("\ud800", "x").replace("\udfff", "y"))
    assert [text[start:end] for start, end, _, _ in secrets(text)] == [key, "Zx9aQ7wE2r"]
