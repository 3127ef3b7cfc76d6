"""Streams pass through event by event; a client that leaves stops the provider and pays for
what it was sent."""

from __future__ import annotations

import time

import httpx

from tests.llm.conftest import LlmSetup


def stream_request(llm: LlmSetup, prompt: str, model: str = "fast") -> httpx.Request:
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    headers = {"Authorization": f"Bearer {llm.key}"}
    return httpx.Request("POST", f"{llm.base_url}/chat/completions", json=body, headers=headers)


def test_events_are_forwarded_as_they_come_not_buffered(llm: LlmSetup) -> None:
    with httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        response = client.send(stream_request(llm, "slow [[words=5]] [[delay=300]]"), stream=True)
        arrivals = []
        for line in response.iter_lines():
            if line.startswith("data: ") and '"content"' in line:
                arrivals.append(time.perf_counter() - started)
        response.close()
    assert len(arrivals) == 6  # the role chunk, then 5 words
    # a buffering proxy would hand over every event at once; these arrive as the provider sends them
    assert arrivals[-1] - arrivals[1] > 0.9, "later events arrive as the provider sends them"


def test_a_client_that_leaves_cancels_upstream_and_is_charged_for_what_was_delivered(llm: LlmSetup) -> None:
    read_words = 0
    with httpx.Client(timeout=30) as client:
        response = client.send(stream_request(llm, "long [[words=50]] [[delay=50]]"), stream=True)
        for line in response.iter_lines():
            if '"content": " ' in line or '"content": "alpha"' in line:
                read_words += 1
            if read_words == 5:
                break
        response.close()
    [row] = llm.ledger(1)
    assert (row.status, row.http_status, row.stream, row.estimated) == ("client_closed", 499, True, True)
    assert 5 <= row.completion_tokens <= 8, "charged for the words delivered, not for all 50"
    assert row.prompt_tokens > 0 and row.cost_usd > 0
    deadline = time.monotonic() + 5
    while llm.mock.streams_cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (llm.mock.streams_cancelled, llm.mock.streams_completed) == (1, 0), (
        "the provider stopped generating"
    )


def test_a_stream_without_usage_is_charged_an_estimate(llm: LlmSetup) -> None:
    llm.mock.usage = False
    with httpx.Client(timeout=30) as client:
        body = client.send(stream_request(llm, "x [[words=3]]")).text
    assert "data: [DONE]" in body
    [row] = llm.ledger(1)
    assert (row.status, row.completion_tokens, row.estimated) == ("ok", 3, True)


def test_a_stream_the_provider_cuts_is_charged_and_ends_with_an_error_event(llm: LlmSetup) -> None:
    with httpx.Client(timeout=30) as client:
        body = client.send(stream_request(llm, "x [[words=9]] [[cut=4]]")).text
    events = [line for line in body.splitlines() if line.startswith("data: ")]
    assert len(events) == 5 and '"code": "upstream_cut"' in events[-1]
    [row] = llm.ledger(1)
    assert (row.status, row.http_status, row.estimated) == ("upstream_cut", 502, True)
    assert row.completion_tokens == 3  # role chunk + 3 words were delivered


def test_streaming_through_the_openai_client_measures_time_to_first_token(llm: LlmSetup) -> None:
    stream = llm.openai().chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "[[words=3]] [[delay=100]]"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "alpha bravo charlie"
    [row] = llm.ledger(1)
    assert row.ttft_ms is not None and row.ttft_ms < 100 <= row.latency_ms
