"""Secret scrubbing benchmark: what blanking echoed credentials costs a call.

    .venv/bin/python bench/scrub.py

Times `connectors.scrub`: building a Scrubber for a new secret value (once per value; later
calls hit the cache), cleaning a small and a large JSON result (1 and 3 secrets, no match:
the common case), and the naive `str.replace` loop over the same forms for comparison.
CPU time of one core; the machine is shared, so read the figures as orders of magnitude.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable

from connectors.scrub import Scrubber, encoded_forms, scrubber


def _result(rows: int) -> object:
    return {
        "results": [
            {"id": i, "name": f"Contact {i}", "email": f"c{i}@example.com", "note": "lorem ipsum " * 8}
            for i in range(rows)
        ]
    }


def _time(fn: Callable[[], object], repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) / repeat


def main() -> None:
    values = [secrets.token_urlsafe(32) for _ in range(3)]
    start = time.process_time()
    Scrubber(frozenset(values[:1]))
    print(
        f"build a scrubber for one new value ({len(encoded_forms(values[0]))} forms): "
        f"{(time.process_time() - start) * 1e3:.2f} ms"
    )
    print(f"cached lookup: {_time(lambda: scrubber(values[0]), 10_000) * 1e6:.2f} µs")
    for rows in (10, 5_000):
        value = _result(rows)
        text = json.dumps(value)
        size = len(text)
        for count in (1, 3):
            scrub = scrubber(*values[:count])
            forms = sorted({f for v in values[:count] for f in encoded_forms(v)}, key=len, reverse=True)

            def naive(text: str = text, forms: list[str] = forms) -> str:
                for form in forms:
                    text = text.replace(form, "***")
                return text

            repeat = 2000 if rows == 10 else 20
            t_text = _time(lambda s=scrub, t=text: s.text(t), repeat)
            t_json = _time(lambda s=scrub, v=value: s.json(v), repeat)
            t_json_src = _time(lambda s=scrub, v=value, t=text: s.json(v, t), repeat)
            t_naive = _time(naive, repeat)
            t_walk = _time(lambda s=scrub, v=value: s._walk(v), repeat)
            print(
                f"{size / 1024:8.1f} KiB, {count} secret(s): text {t_text * 1e6:9.1f} µs "
                f"({size / t_text / 1e6:6.1f} MB/s), json {t_json * 1e6:9.1f} µs "
                f"(given its text {t_json_src * 1e6:9.1f} µs, walk {t_walk * 1e6:9.1f} µs), "
                f"str.replace loop {t_naive * 1e6:9.1f} µs"
            )


if __name__ == "__main__":
    main()
