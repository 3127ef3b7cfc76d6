"""`broker demo` serves the LLM proxy too: llm_base_url in connection.json, with agent keys."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from tests.conftest import free_port

BROKER = Path(sys.executable).with_name("broker")


def test_the_demo_agents_call_models_through_llm_base_url(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "BROKER_PORT": str(port)}
    env.pop("BROKER_ADMIN_TOKEN", None)
    process = subprocess.Popen(
        [str(BROKER), "demo"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    connection_file = tmp_path / ".demo" / "connection.json"
    try:
        deadline = time.monotonic() + 90
        while not connection_file.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the demo did not write connection.json in 90 s"
            time.sleep(0.2)
        time.sleep(0.2)
        facts = json.loads(connection_file.read_text())
        assert facts["llm_base_url"] == f"http://127.0.0.1:{port}/v1"
        agents = {agent["name"]: agent for agent in facts["agents"]}
        assert agents["support-bot"]["models"] == ["fast", "smart", "claude-mock"]
        support = openai.OpenAI(
            base_url=facts["llm_base_url"], api_key=agents["support-bot"]["key"], max_retries=0
        )
        answer = support.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}])
        assert answer.usage is not None and answer.usage.completion_tokens == 12
        stream = support.chat.completions.create(
            model="smart", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).startswith("alpha")
        with pytest.raises(openai.PermissionDeniedError):
            support.embeddings.create(model="mock-embed", input="x")
        analyst = openai.OpenAI(
            base_url=facts["llm_base_url"], api_key=agents["analyst"]["key"], max_retries=0
        )
        assert len(analyst.embeddings.create(model="mock-embed", input="x").data) == 1
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "LLM endpoint : http://127.0.0.1" in output and "Traceback" not in output
