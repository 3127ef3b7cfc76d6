"""PII masking benchmark: throughput and per-result latency on CRM-like JSON.

Run it from the project root (needs the dev dependencies, for Faker):

    .venv/bin/python bench/pii.py                  # 5 MB corpus, 2 KB / 20 KB / 1 MB results
    .venv/bin/python bench/pii.py --megabytes 20 --seed 7

What it does: generates CRM search results (contacts with names, e-mails, phones in several
national formats, addresses, companies, ids, dates, amounts, deals, and free-text notes that
sometimes mention an e-mail, a phone, a card, an IBAN or an IP address) with Faker in five
locales, then masks them with a typical policy (e-mail and person names as reversible tokens
in an in-memory vault, phones partially masked, everything else replaced by its type, the
address masked whole by a path rule).

What the numbers mean: MB/s is JSON bytes (compact serialisation) masked per second of wall
time by `Masker.mask_json` on one core, the path a stage takes for structured content;
"text" rows time `Masker.mask_text` on the same JSON as an MCP text block (parse, mask,
re-serialise), after the json pass, so its tokens are already in the vault. Latency rows give
the median and p99 per result over distinct results of that size. CPU seconds are reported
beside wall time because other work on a shared machine can slow the wall clock. Runs start
after a warm-up on other results, as in a running gateway (phonenumbers loads each
country's metadata on first use).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from typing import Any

from faker import Faker

from broker.pii import Masker, MemoryVault
from policies.masking import MaskingPolicy

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL"]
POLICY = MaskingPolicy.model_validate(
    {
        "entities": {"EMAIL_ADDRESS": "token", "PHONE_NUMBER": {"operator": "mask", "keep_last": 4}},
        "fields": [
            {"match": "firstname", "entity": "PERSON", "operator": "token"},
            {"match": "lastname", "entity": "PERSON", "operator": "token"},
            {"match": "$.results[*].properties.address", "entity": "LOCATION"},
        ],
        "resolve_tokens_for": ["mail.send"],
    }
)


class Corpus:
    """Deterministic CRM-like results."""

    def __init__(self, seed: int) -> None:
        self.fake = Faker(LOCALES)
        self.fake.seed_instance(seed)
        self.rng = random.Random(seed)
        self.next_id = 100_000

    def note(self) -> str:
        fake, rng = self.fake, self.rng
        parts = [fake.paragraph(nb_sentences=rng.randint(1, 4))]
        roll = rng.random()
        if roll < 0.25:
            parts.append(f"Reach them at {fake.email()} or {fake.phone_number()}.")
        elif roll < 0.3:
            parts.append(f"Paid by card {fake.credit_card_number()}, exp {fake.credit_card_expire()}.")
        elif roll < 0.35:
            parts.append(f"Refund to IBAN {fake.iban()}.")
        elif roll < 0.4:
            parts.append(f"Login from {fake.ipv4()} on {fake.date_time_this_year().isoformat()}.")
        elif roll < 0.6:
            parts.append(
                f"Order ORD-{rng.randint(100000, 999999)} for ${rng.randint(10, 9999)}.{rng.randint(10, 99)}."
            )
        return " ".join(parts)

    def contact(self) -> dict[str, Any]:
        fake, rng = self.fake, self.rng
        self.next_id += rng.randint(1, 50)
        created = fake.date_time_between("-3y", "-1y")
        return {
            "id": str(self.next_id),
            "properties": {
                "firstname": fake.first_name(),
                "lastname": fake.last_name(),
                "email": fake.email(),
                "phone": fake.phone_number(),
                "company": fake.company(),
                "jobtitle": fake.job(),
                "address": {"street": fake.street_address(), "city": fake.city(), "zip": fake.postcode()},
                "country": fake.country_code(),
                "lifecyclestage": rng.choice(["lead", "customer", "opportunity", "subscriber"]),
                "annualrevenue": f"{rng.randint(10_000, 90_000_000)}.00",
                "hs_object_id": self.next_id,
                "createdate": created.isoformat() + "Z",
                "lastmodifieddate": fake.date_time_this_year().isoformat() + "Z",
            },
            "associations": {
                "deals": [
                    {"id": str(rng.randint(10**9, 10**10)), "amount": round(rng.uniform(100, 90_000), 2),
                     "closedate": fake.date_this_year().isoformat(), "stage": "closedwon"}
                    for _ in range(rng.randint(0, 2))
                ]
            },
            "notes": [
                {"id": fake.uuid4(), "body": self.note(), "created_by": fake.email(),
                 "timestamp": int(fake.date_time_this_year().timestamp() * 1000)}
                for _ in range(rng.randint(0, 3))
            ],
            "archived": False,
        }  # fmt: skip

    def result(self, target_bytes: int) -> dict[str, Any]:
        """One search result of about `target_bytes` of compact JSON."""
        results: list[dict[str, Any]] = []
        size = 60
        while size < target_bytes:
            contact = self.contact()
            results.append(contact)
            size += len(json.dumps(contact, separators=(",", ":"))) + 1
        return {"results": results, "paging": {"next": {"after": str(self.next_id)}}, "total": len(results)}


def size_of(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


async def throughput(masker: Masker, docs: list[dict[str, Any]]) -> None:
    total = sum(map(size_of, docs))
    texts = [json.dumps(doc, ensure_ascii=False, separators=(",", ":")) for doc in docs]
    for label, run in (
        (("json", lambda i: masker.mask_json(f"agent-{i % 8}", docs[i]))),
        (("text", lambda i: masker.mask_text(f"agent-{i % 8}", texts[i]))),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        masked = 0
        for index in range(len(docs)):
            _, counts = await run(index)
            masked += sum(counts.values())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"throughput {label:4}  {total / 1e6:6.2f} MB in {wall:6.3f} s wall ({cpu:6.3f} s CPU): "
            f"{total / 1e6 / wall:6.2f} MB/s wall, {total / 1e6 / cpu:6.2f} MB/s CPU; {masked} masked"
        )


async def latency(masker: Masker, corpus: Corpus, target: int, count: int) -> None:
    docs = [corpus.result(target) for _ in range(count)]
    await masker.mask_json("warm-up", docs[0])
    walls, cpus = [], []
    for index, doc in enumerate(docs):
        wall, cpu = time.perf_counter(), time.process_time()
        await masker.mask_json(f"agent-{index % 8}", doc)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    walls.sort()
    p99 = walls[min(len(walls) - 1, int(len(walls) * 0.99))]
    size = statistics.mean(map(size_of, docs))
    print(
        f"latency {size / 1000:7.1f} KB result: median {statistics.median(walls):8.3f} ms wall "
        f"({statistics.median(cpus):8.3f} ms CPU), p99 {p99:8.3f} ms wall, {count} distinct results"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=5.0, help="throughput corpus size")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    corpus = Corpus(args.seed)
    masker = Masker(POLICY, salt=b"bench-salt-0123456789", vault=MemoryVault())
    # Warm up as a running gateway is: phonenumbers loads each country's metadata on first use.
    for doc in [Corpus(args.seed + 1000).result(20_000) for _ in range(20)]:
        await masker.mask_json("warm-up", doc)
    docs = [corpus.result(20_000) for _ in range(int(args.megabytes * 1e6 / 20_000))]
    await throughput(masker, docs)
    await latency(masker, corpus, 2_000, 1000)
    await latency(masker, corpus, 20_000, 200)
    await latency(masker, corpus, 1_000_000, 5)


if __name__ == "__main__":
    asyncio.run(main())
