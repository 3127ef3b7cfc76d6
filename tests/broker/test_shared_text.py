"""Texts through memory files (`broker.shared_text`): exact both ways, refused where the descriptor
names another file, and a worker process reads and answers through one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from broker import offload, shared_text
from broker.shared_text import Sent, SharedText, give, take

pytestmark = pytest.mark.skipif(not shared_text.available(), reason="no memfd_create here")

TEXTS = ["", "x", '{"a":"é日\U0001f600"}', "lone \ud800 surrogate\x00nul\nnewline", "y" * 300_000]


@pytest.mark.parametrize("text", TEXTS)
def test_a_text_goes_and_comes_back_as_it_was(text: str) -> None:
    with SharedText(text) as shared:
        fd, taken = take(shared.sent)
        try:
            assert taken == text
            give(fd, (text[::-1] + "!").encode("utf-8", shared_text.ERRORS))
        finally:
            os.close(fd)
        assert shared.read() == text[::-1] + "!"


def test_a_shorter_answer_leaves_nothing_of_the_text() -> None:
    with SharedText("a long question") as shared:
        fd, _ = take(shared.sent)
        give(fd, b"ok")
        os.close(fd)
        assert shared.read() == "ok"


def test_a_descriptor_that_names_another_file_is_refused() -> None:
    with SharedText("mine") as shared, SharedText("another") as other:
        wrong = Sent(os.getpid(), other.sent.fd, shared.sent.inode)
        with pytest.raises(FileNotFoundError):
            take(wrong)
        assert other.read() == "another"


def answer(sent: Sent) -> int:
    """In a worker: the text read, its upper case written back."""
    fd, text = take(sent)
    try:
        give(fd, text.upper().encode())
    finally:
        os.close(fd)
    return os.getpid()


@pytest.fixture
def workers() -> Iterator[None]:
    yield
    offload.shutdown()


async def test_a_worker_process_reads_and_answers_through_the_file(workers: None) -> None:
    with SharedText("from the gateway é") as shared:
        assert await offload.in_process(answer, shared.sent) != os.getpid()
        assert shared.read() == "FROM THE GATEWAY É"


def test_the_first_failure_turns_memory_files_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(shared_text._state, "available", True)
    shared_text.unavailable(PermissionError("no /proc"))
    assert not shared_text.available()
