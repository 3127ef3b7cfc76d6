"""Where a big result's masking time goes: ms per MB of each stage of a worker process's job.

Run it from the project root (the corpus needs the dev dependencies, for Faker):

    .venv/bin/python bench/pii_stages.py                 # pii_path's CRM records, 3 x 1 MB per round
    .venv/bin/python bench/pii_stages.py --corpus pii --rounds 5
    .venv/bin/python bench/pii_stages.py --kb 100

What it does: runs the stages of `Masker.mask_text_as_proposed` (what a worker process does with
a big JSON result, see broker/pii/offloaded.py) one by one on JSON text, timing each: parse, the
structure walk (`collect`), detection (`find_many`, through the memo of clean strings), the
token requests, the token HMACs, the write-back and serialisation; then, where the native module
is built, the stages of the path the worker takes instead (the text scanned without its Python
document, `scan_json`; the write-back into a list; `emit_json`). "crm" is bench/pii_path.py's
`fed.sized` records under its policy (e-mails and phones as tokens); "pii" is bench/pii.py's
corpus under its policy. Every document is new to the masker, as every call of pii_path is; the
memo of clean strings carries over from document to document, as in a worker process.

What the numbers mean: CPU ms per MB of JSON text, min / median over the rounds. Compare two
checkouts by running it from each root in turn, several times (this 2-core machine is shared).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._setup import MASKING
from bench._upstreams import crm_records
from broker.pii.jsontext import emit_json, parse, renamed, scan_json, serialise
from broker.pii.masker import Masker
from broker.pii.nogc import gc_paused
from broker.pii.operators import agent_mac, tokens_for
from broker.pii.splicing import splice_each
from broker.pii.structure import Collected, collect
from broker.pii.vault import MemoryVault
from policies.masking import MaskingPolicy

STAGES = ("parse", "walk", "detect", "requests", "hmac", "writeback", "serialise", "total")
SCANNED = ("scan", "detect", "requests", "hmac", "writeback", "emit", "total")
"""The stages where the native module masks the text without its Python document (`scan_json`)."""


def documents(corpus: str, kb: int, count: int) -> tuple[list[str], MaskingPolicy]:
    if corpus == "crm":
        texts = [json.dumps(crm_records(kb, seed), separators=(",", ":")) for seed in range(1, count + 1)]
        return texts, MaskingPolicy.model_validate(MASKING)
    from bench.pii import POLICY, Corpus

    source = Corpus(1)
    texts = [
        json.dumps(source.result(kb * 1000), ensure_ascii=False, separators=(",", ":")) for _ in range(count)
    ]
    return texts, POLICY


def timed(masker: Masker, text: str) -> dict[str, float]:
    """Seconds per stage of one document, as `mask_text_as_proposed` runs them."""
    marks = [time.process_time()]
    with gc_paused():
        value = parse(text)
        marks.append(time.process_time())
        collected = collect(value, masker._rules)
        marks.append(time.process_time())
        findings = masker._strings.find_many(collected.texts, collected.keys)
        marks.append(time.process_time())
        requests = masker._token_requests(collected, findings)
        marks.append(time.process_time())
        tokens = tokens_for(agent_mac(masker._salt, "agent"), requests)
        marks.append(time.process_time())
        masked, _ = masker._write_back(collected, findings, tokens)
        marks.append(time.process_time())
        serialise(masked, None, collected.finite)
        marks.append(time.process_time())
    spent = {stage: marks[n + 1] - marks[n] for n, stage in enumerate(STAGES[:-1])}
    spent["total"] = marks[-1] - marks[0]
    return spent


def timed_scanned(masker: Masker, text: str) -> dict[str, float]:
    """Seconds per stage of one document masked from its text (`Masker._as_proposed_scanned`)."""
    assert scan_json is not None and emit_json is not None
    marks = [time.process_time()]
    with gc_paused():
        collected = Collected(masker._rules)
        replaced: dict[int, str] = {}
        scan = scan_json(collected, text, replaced)
        assert scan is not None, "the scan declined this document"
        marks.append(time.process_time())
        findings = masker._strings.find_many(collected.texts, collected.keys)
        marks.append(time.process_time())
        requests = masker._token_requests(collected, findings)
        marks.append(time.process_time())
        tokens = tokens_for(agent_mac(masker._salt, "agent"), requests)
        marks.append(time.process_time())
        counts: Counter[str] = Counter()
        masked = splice_each(collected.texts, findings, tokens, counts, masker._by_entity)
        masker._write_wholes(collected, tokens, counts)
        marks.append(time.process_time())
        emit_json(scan, masked, replaced, False, renamed)
        marks.append(time.process_time())
    spent = {stage: marks[n + 1] - marks[n] for n, stage in enumerate(SCANNED[:-1])}
    spent["total"] = marks[-1] - marks[0]
    return spent


def report(
    title: str,
    timer: Callable[[Masker, str], dict[str, float]],
    stages: tuple[str, ...],
    rounds: int,
    per_round: int,
    texts: list[str],
    policy: MaskingPolicy,
) -> None:
    """One line: the stages' ms per MB (min / median over the rounds), each document new to a masker."""
    masker = Masker(policy, b"bench-salt-0123456789", MemoryVault())
    masker.mask_text_as_proposed("agent", texts[0])  # warm-up: phonenumbers metadata, memos
    spent: dict[str, list[float]] = {stage: [] for stage in stages}
    for number in range(rounds):
        chunk = texts[1 + number * per_round : 1 + (number + 1) * per_round]
        megabytes = sum(len(text.encode()) for text in chunk) / 1e6
        totals = dict.fromkeys(stages, 0.0)
        for text in chunk:
            for stage, seconds in timer(masker, text).items():
                totals[stage] += seconds
        for stage in stages:
            spent[stage].append(totals[stage] * 1000 / megabytes)
    print(
        f"  {title}: " + "  ".join(f"{s} {min(v):.1f}/{statistics.median(v):.1f}" for s, v in spent.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("crm", "pii"), default="crm")
    parser.add_argument("--kb", type=int, default=1000, help="size of each document")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    per_round = max(1, 3000 // args.kb)
    texts, policy = documents(args.corpus, args.kb, 1 + args.rounds * per_round)
    print(f"{args.corpus} {args.kb} KB documents, ms per MB (min / median of {args.rounds} rounds):")
    report("parsed", timed, STAGES, args.rounds, per_round, texts, policy)
    if scan_json is not None:
        report("scanned", timed_scanned, SCANNED, args.rounds, per_round, texts, policy)


if __name__ == "__main__":
    main()
