"""The native scans (broker/pii/native/, built by `make native`); each matches a Python reference."""

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from broker.pii.clean import Memo
from broker.pii.context import Found
from broker.pii.splicing import Keyed, Plans
from broker.pii.structure import Collected, Match, State

def number_runs(text: str) -> list[tuple[int, int]]:
    """`broker.pii.recognizers_number.runs(text)`."""

def email_spans(text: str) -> list[tuple[int, int]]:
    """`broker.pii.recognizers.emails(text)`."""

def iban_spans(text: str) -> list[tuple[int, int]]:
    """`broker.pii.recognizers.ibans(text)`."""

def token_keys(agents: Sequence[str], tokens: Sequence[str]) -> list[int]:
    """`broker.pii.sql_keys.reference_keys(agents, tokens)`."""

def token_key_order(agents: Sequence[str], tokens: Sequence[str]) -> tuple[list[int], list[int]]:
    """`broker.pii.sql_keys.reference_key_order(agents, tokens)`."""

def ipv4_spans(text: str) -> list[tuple[int, int]]:
    """`broker.pii.recognizers.ipv4_addresses(text)`."""

def ipv6_spans(text: str) -> list[tuple[int, int]]:
    """`broker.pii.recognizers.ipv6_candidates(text)`."""

def walk(
    collected: Collected, value: Any, key: str | None, states: tuple[State, ...], matched: Match | None, /
) -> Any:
    """`Collected.walk(collected, value, key, states, matched)`."""

def splice_back(
    texts: list[str],
    findings: list[list[Found]],
    slots: list[tuple[Any, str | int]],
    key_slots: set[int],
    tokens: dict[tuple[str, str], str],
    counts: Counter[str],
    plans: Plans,
    /,
) -> Keyed:
    """`broker.pii.splicing.spliced_back(texts, findings, slots, key_slots, tokens, counts, plans)`."""

def token_requests(
    texts: list[str], findings: list[list[Found]], tokenized: AbstractSet[str], /
) -> list[tuple[str, str]]:
    """`broker.pii.splicing.requested_tokens(texts, findings, tokenized)`."""

def keyed_tokens(key: bytes, requests: Iterable[tuple[str, str]], /) -> dict[tuple[str, str], str]:
    """`broker.pii.operators.reference_tokens_for(mac, requests)`, `mac` keyed with `key`."""

def string_starts(texts: Sequence[str], /) -> list[int]:
    """`broker.pii.detector.starts_of(texts)`."""

def spread_found(found: list[Found], starts: list[int], /) -> list[list[Found]]:
    """`broker.pii.detector.spread(found, starts)`."""

def distinct_pairs(
    texts: Sequence[str], keys: Sequence[str | None], /
) -> tuple[list[int], list[str], list[str | None]]:
    """`broker.pii.detector.distinct(texts, keys)`."""

def clean_pairs(
    pairs: list[tuple[str, str | None]], found: list[list[Found]], most: int, /
) -> list[tuple[str, str | None]]:
    """`broker.pii.clean.clean_pairs(pairs, found, most)`."""

# The SQLite token vault's key map (keymap.rs) and flush rows (vault_rows.rs).
from collections.abc import Callable, Mapping  # noqa: E402

class KeyMap:
    """`broker.pii.sql_keymap.ReferenceKeyMap`: each row key of a SQLite token vault to its place."""

    def __init__(self) -> None: ...
    def add(self, keys: list[int], ids: list[int], /) -> None: ...
    def add_run(self, keys: list[int], first: int, /) -> None: ...
    def discard(self, keys: list[int], ids: list[int], /) -> None: ...
    def placed(self, agent: str, tokens: list[str], /) -> tuple[list[int], list[int]]: ...
    def split(self, keys: list[int], /) -> tuple[list[int], list[int], list[int], list[int]]: ...
    def get(self, key: int, /) -> int | None: ...
    def __contains__(self, key: int, /) -> bool: ...
    def __len__(self) -> int: ...

def batch_rows(
    batch: Mapping[tuple[str, str], tuple[str, float]], /
) -> tuple[list[int], list[tuple[str, str, str, float]]]:
    """`broker.pii.sql_rows.reference_batch_rows(batch)`."""

def secret_spans(text: str, /) -> list[tuple[int, int, float, int]]:
    """`broker.pii.recognizers_secret.secrets(text)`, each finding with the check left to Python."""

def resolve_found(found: list[Found], /) -> list[Found]:
    """`broker.pii.detector.resolved(found)`."""

class CleanMemo:
    """broker/pii/clean.py's memo of clean (str, key) pairs, looked up on the characters."""

    def __init__(self) -> None: ...
    def __contains__(self, pair: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[tuple[str, str | None]]: ...
    def update(self, pairs: Iterable[tuple[str, str | None]], /) -> None: ...
    def clear(self) -> None: ...
    def isdisjoint(self, pairs: Iterable[object], /) -> bool: ...
    def pairs(self) -> list[tuple[str, str | None]]: ...

def unseen_pairs(clean: Memo, texts: Sequence[str], keys: Sequence[str | None], /) -> list[int] | None:
    """`broker.pii.clean.unseen(clean, texts, keys)`."""

def remember_slots(
    clean: Memo,
    which: list[int],
    texts: list[str],
    keys: list[str | None],
    found: list[list[Found]],
    most: int,
    big_batch: int,
    big_key: int,
    most_entries: int,
    /,
) -> None:
    """`broker.pii.clean.remembered(clean, which, texts, keys, found, most, big_batch, big_key,
    most_entries)`."""

def email_found(text: str, /) -> list[Found]:
    """`broker.pii.recognizers.emails_found(text)`."""

def ipv4_found(text: str, /) -> list[Found]:
    """`broker.pii.recognizers.ipv4s_found(text)`."""

def hand_out(found: list[list[Found]], which: list[int], /) -> list[list[Found]]:
    """`broker.pii.detector.handed_out(found, which)`."""

# The number finder (broker/pii/native/src/numbers.rs).
def number_findings(
    text: str,
    starts: list[int],
    keys: list[str | None],
    key_kinds: dict[str, int],
    judge_key: Callable[[str], int],
    code_lengths: list[int],
    judge_code: Callable[[int], int],
    card_ok: Callable[[str], bool],
    valid_somewhere: Callable[[str], bool],
    entities: int,
    /,
) -> tuple[list[Found], list[tuple[int, int]]]:
    """`broker.pii.recognizers_number.find_numbers`' findings it decides, and the runs it leaves."""

# A worker process's cache of freed object arenas (broker/pii/native/src/arenas.rs).
def keep_arenas(max_bytes: int, /) -> int:
    """Keep up to `max_bytes` of the object allocator's freed arenas for reuse (see
    `broker.offload_memory`); the bytes kept now."""

# The SQL token vault's chunks and slots (vault_rows.rs, helper hchunk).
def sealed_chunk(
    key: bytes, version: bytes, nonces: bytes, rows: list[tuple[str, str, str, float]], /
) -> tuple[bytes, list[int]]:
    """`broker.pii.sealing.reference_sealed_chunk(key, version, nonces, rows)`, with ring's AES-GCM."""

def slot_parameters(
    keys: list[int], chunk: int, ats: list[int], rows: list[tuple[str, str, str, float]], /
) -> list[int]:
    """`broker.pii.sql_rows.reference_slot_parameters(keys, chunk, ats, rows)`."""

# A big JSON result masked from its text, without the Python document (broker/pii/native/src/scan/).
class Scan:
    """A scanned document: its text, its tokens, its keys."""

def scan_json(collected: Collected, text: str, replaced: dict[int, str], /) -> Scan | None:
    """`collect` of `text` parsed into `collected` (no slots; wholes' in `replaced`); None: parse it."""

def splice_each(
    texts: list[str],
    findings: list[list[Found]],
    tokens: dict[tuple[str, str], str],
    counts: Counter[str],
    plans: Plans,
    /,
) -> list[str | None]:
    """`broker.pii.splicing.spliced_each(texts, findings, tokens, counts, plans)`."""

def emit_json(
    scan: Scan,
    masked: list[str | None],
    replaced: dict[int, str],
    indent: bool,
    renamed: Callable[[list[str], dict[str, str]], list[str]],
    /,
) -> bytes | None:
    """The masked document's UTF-8 as `jsontext.serialise` writes it; None: write it from the parsed one."""

# The response limit's measure of a text block (broker/pii/native/src/jsonsize.rs).
def json_str_size(text: str, /) -> int | None:
    """`connectors.mcp.results.reference_json_str_size(text)`."""

# The audit's prompt-injection prefilter (broker/pii/native/src/guard.rs; text beyond ASCII: helper hwide).
class Prefilter:
    """The suspect keywords (lower case) of `broker.guard.injection`'s prefilter."""

    def __init__(self, words: list[str], alone: list[str], /) -> None: ...
    def read_unicode(self, lowered: str, classes: bytes, /) -> None:
        """Python's rules for each code point of the Basic Multilingual Plane
        (`broker.guard.prefilter_tables.tables`): text beyond ASCII is read from then on."""
    def suspect(self, text: str, /) -> bool | None:
        """`broker.guard.injection.reference_suspect(text)`; None: no keyword nor disguise, but a
        base64 run, whose decoding is to read. ValueError for a text it cannot read (beyond
        ASCII before `read_unicode`, with a character beyond the plane before `read_astral`)."""
    # Text beyond the Basic Multilingual Plane (emoji; helper hastral).
    def read_astral(self, planes: list[tuple[int, str, bytes]], empty: list[int], /) -> None:
        """Python's rules for planes 1 to 16 (`broker.guard.prefilter_tables.astral`): each plane's
        (number, lowered, classes), or its number in `empty` (no character of any class, each its
        own lowering); text with any code point is read from then on."""

# Whether an upstream's answer may hold an integer past 64 bits (digits.rs).
def digit_run(text: bytes | str, length: int, /) -> bool:
    """`connectors.mcp.answers.reference_digit_run(text, length)`."""
