"""The scrubber blanks a secret out in whatever encoding it is echoed, and nothing else."""

from __future__ import annotations

import base64
import json

import pytest

from connectors.scrub import scrubber

SECRET = "pässwörd/+&=~1234"


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
@pytest.mark.parametrize("before", ["", "u", "us", "use", "user:"])
@pytest.mark.parametrize("after", ["", "x", '"}'])
def test_base64_at_every_byte_offset(encode: object, before: str, after: str) -> None:
    encoded = encode(f"{before}{SECRET}{after}".encode()).decode()  # type: ignore[operator]
    clean = scrubber(SECRET).text(f"echo {encoded} end")
    assert "***" in clean
    leftover = clean.split("***")
    assert all(len(part.strip()) <= len("echo ") + 8 for part in leftover)  # a few bits, not the value


def test_json_values_are_cleaned_in_strings_and_keys_and_untouched_otherwise() -> None:
    scrub = scrubber(SECRET)
    value = {SECRET: [1, {"a": json.dumps(SECRET)}], "b": SECRET.encode().hex().upper(), "c": "harmless"}
    assert scrub.json(value) == {"***": [1, {"a": '"***"'}], "b": "***", "c": "harmless"}
    untouched = {"c": "harmless", "d": [1, 2.5, None]}
    assert scrub.json(untouched) is untouched


def test_no_secret_means_nothing_changes() -> None:
    assert scrubber().text("Bearer abc") == "Bearer abc"
    assert scrubber("", SECRET).values == frozenset({SECRET})


def test_a_lone_surrogate_beside_a_secret_is_no_error() -> None:
    """JSON's "\\ud800" decodes to a lone surrogate (no UTF-8 for it): the secret is still blanked."""
    scrub = scrubber("hunter2-very-secret")
    assert scrub.text("\ud800 hunter2-very-secret \udfff") == "\ud800 *** \udfff"
    assert scrub.json({"error": "hunter2-very-secret\udc00"}) == {"error": "***\udc00"}
