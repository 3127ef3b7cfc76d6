"""The audit's prompt-injection first look: what `injection.suspect` costs per KB of a plain result.

    .venv/bin/python bench/injection_prefilter.py

Times `suspect` (the native look where it reads the text), `reference_suspect` (Python) and
`quick_verdict` on ~64 KB of masked CRM records in ASCII (also with a UUID and a hex digest per
record, as REST records have: their hex digits read as leetspeak until taken out), in accented
Latin (French, German, Polish names and notes), in Cyrillic and in CJK, none of them suspect (the
whole text is read), in accented Latin with one emoji (beyond the Basic Multilingual Plane: the
text is then stored four bytes a character), and in chat messages with emoji (skin tones,
joiners, flags) and mathematical letters. The first text beyond ASCII builds the plane's Unicode
tables, the first beyond the plane those of the planes beyond it (`prefilter_tables`), each timed
apart. CPU time of one core, best of five rounds; the machine is shared, so read the figures as
orders of magnitude. Then the full `score` of benign prose that the first look finds suspect (its
keywords are common words), at 2, 8 and 64 KB, and of GitHub issues JSON and service logs, suspect
for what reads as a disguise (`d73a4a`, `took=3ms`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

from broker.guard import injection

SIZE = 64 * 1024
NAMES = {
    "ascii": (["Alice Martin", "Bob Jones", "Carol White"], ["London", "Leeds"], "Call back on Monday."),
    "ascii with ids": (
        ["Alice Martin", "Bob Jones", "Carol White"],
        ["London", "Leeds"],
        "Call back on Monday.",
    ),
    "accented": (
        ["Hélène Dupré", "Jürgen Müller", "Łukasz Wąsik", "Zoë Ørsted"],
        ["Zürich", "Besançon", "Kraków", "Malmö"],
        "Rappeler après la réunion de lundi; préfère être contactée par téléphone.",
    ),
    "cyrillic": (
        ["Ольга Петрова", "Иван Смирнов", "Анна Кузнецова"],
        ["Москва", "Казань", "Новосибирск"],
        "Перезвонить в понедельник после встречи; предпочитает звонки.",
    ),
    "cjk": (
        ["山田太郎", "李小龍", "김민준"],
        ["東京", "上海", "서울"],
        "来週の会議の後に電話してください。客户希望通过电话联系。회의 후에 전화 주세요.",
    ),
    "chat with emoji": (
        ["Zoë 🌻", "Marco 👨\u200d💻", "Aiko 🇯🇵"],
        ["Milano 🇮🇹", "Osaka", "Lyon"],
        "Great call today 🎉🎉 thanks! See you Monday 👍🏽 — the 𝐧𝐞𝐰 quote is attached ✅❤\ufe0f",  # noqa: RUF001 - mathematical letters on purpose
    ),
}


def records(kind: str) -> str:
    names, cities, note = NAMES[kind]
    rows = []
    for index in range(SIZE // 100):
        rows.append(
            {
                "id": 200000 + index,
                "name": names[index % len(names)],
                "city": cities[index % len(cities)],
                "note": note,
                "email": f"<EMAIL_ADDRESS_{index * 2654435761 % 2**32:08x}>",
            }
        )
        if kind.endswith("with ids"):  # a REST record's UUID and digest
            rows[-1] |= {"ref": str(uuid.UUID(int=index * 7_919_001_234_567 + 1)), "etag": f"{index:064x}"}
    text = json.dumps(rows, ensure_ascii=False)
    return text.encode()[:SIZE].decode(errors="ignore")


def best(fn: Callable[[str], object], text: str, repeat: int) -> float:
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(repeat):
            fn(text)
        rounds.append((time.process_time() - start) / repeat)
    return min(rounds)


def main() -> None:
    start = time.process_time()
    injection.quick_verdict("é")  # builds the Unicode tables once
    print(f"unicode tables (first text beyond ASCII): {(time.process_time() - start) * 1e3:.1f} ms")
    start = time.process_time()
    injection.quick_verdict("\U0001f600")  # builds the other planes' tables once
    print(f"astral tables (first text beyond the plane): {(time.process_time() - start) * 1e3:.1f} ms")
    texts = {kind: records(kind) for kind in NAMES}
    texts["accented + emoji"] = texts["accented"][:-2] + "\U0001f600" + texts["accented"][-1:]
    print(f"{'text':16} {'chars':>6} {'KB':>5}  {'reference':>17}  {'suspect':>17}  {'quick_verdict':>15}")
    for kind, text in texts.items():
        assert injection.reference_suspect(text) is False and injection.suspect(text) is False, kind
        kb = len(text.encode("utf-8", "surrogatepass")) / 1024
        reference = best(injection.reference_suspect, text, 5)
        suspect = best(injection.suspect, text, 20)
        quick = best(injection.quick_verdict, text, 20)
        print(
            f"{kind:16} {len(text):6} {kb:5.0f}  {reference * 1e6:7.0f} us {reference * 1e9 / kb:5.0f}/KB"
            f"  {suspect * 1e6:7.0f} us {suspect * 1e9 / kb:5.0f}/KB"
            f"  {quick * 1e6:6.0f} us {injection.quick_verdict(text)!s:>5}"
        )

    print("\nscore (what a suspect text then costs): tickets whose prose holds the gates' common words")
    note = (
        "The deployment guide explains how your team must configure the system before the first release. "
        "Previous versions used a different mode; the policy now requires a password rotation every 90 days. "
        "Read the rules above and everything in the safety section."
    )
    tickets = json.dumps([{"number": n, "title": f"Crash on start (#{n})", "body": note} for n in range(400)])
    for size in (2_000, 8_000, SIZE):
        text = tickets[:size]
        assert injection.suspect(text) and injection.score(text).value == 0
        took = best(injection.score, text, 10)
        print(f"{size / 1000:5.0f} KB  {took * 1e6:7.0f} us")
    print("\nand what the first look then finds suspect for a disguise (leetspeak-like ids, units):")
    for kind, text in (("GitHub issues", github_issues()[:2000]), ("service logs", service_logs()[:2000])):
        assert injection.suspect(text) and injection.score(text).value == 0
        print(f"{kind:16} 2 KB  {best(injection.score, text, 10) * 1e6:7.0f} us")


def github_issues() -> str:
    """Issues as GitHub's REST API lists them: URLs, base64 node ids, label colours."""
    return json.dumps(
        [
            {
                "url": f"https://api.github.com/repos/acme/widgets/issues/{n}",
                "id": 1_800_000_000 + n,
                "node_id": f"I_kwDOAbc{n:03d}x7Qz4Ma",
                "number": n,
                "title": f"Widget {n} renders blank on Safari 17",
                "user": {
                    "login": f"dev{n}",
                    "avatar_url": f"https://avatars.githubusercontent.com/u/{1000 + n}?v=4",
                },
                "labels": [{"name": "bug", "color": "d73a4a"}],
                "state": "open",
                "created_at": "2025-03-14T09:26:53Z",
                "body": "Open the page, click Save: the widget stays blank. TypeError at app.js:1234.",
            }
            for n in range(20)
        ]
    )


def service_logs() -> str:
    return "\n".join(
        f"2025-03-14T09:{n % 60:02d}:53Z INFO [worker-{n % 8}] job={n * 7919:08d} status=done took={n % 97}ms"
        for n in range(60)
    )


if __name__ == "__main__":
    main()
