"""A labelled evaluation set for the PII detector, generated with Faker in many locales.

Values are placed in free-text templates (with and without context words, in several
languages) and in JSON records (each string value scanned with its key, as the masker
does), with gold spans. Hard negatives sit beside them: order and invoice ids, amounts,
dates, timestamps, versions, UUIDs, hashes, ZIP+4 and ISBN codes, and invalid cards, IBANs
and SSNs. Print the table with `python -m tests.pii.labelled`.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import re
import string
from collections.abc import Callable, Iterator
from typing import Any

from faker import Faker

from broker.keys import new_key
from broker.pii.evaluate import Sample, Span, evaluate

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "en_AU", "en_CA"]
LOCALES += ["en_IN", "ja_JP", "pl_PL", "sv_SE", "da_DK", "fr_CH", "en_IE"]


# Brand prefixes and lengths: Visa, Mastercard (incl. 2-series), Amex, Diners, Discover, JCB,
# UnionPay, Maestro, Mir, Troy.
CARD_RANGES = [
    ("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15),
    ("37", 15), ("36", 14), ("300", 14), ("38", 14), ("6011", 16), ("644", 16), ("65", 16),
    ("3528", 16), ("3589", 19), ("62", 16), ("62", 17), ("62", 19), ("6759", 12), ("5018", 19),
    ("6304", 16), ("2200", 16), ("9792", 16), ("81", 16),
]  # fmt: skip


class Values:
    """Random entity values and hard negatives."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {locale: Faker(locale) for locale in LOCALES}
        for index, fake in enumerate(self.fakers.values()):
            fake.seed_instance(seed * 100 + index)
        self.fake = self.fakers["en_US"]

    def any_fake(self) -> Faker:
        return self.fakers[self.rng.choice(LOCALES)]

    def digits(self, count: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(count))

    # -- entities ------------------------------------------------------------------------

    def email(self) -> str:
        fake, rng = self.any_fake(), self.rng
        kind = rng.randrange(5)
        if kind == 0:
            return fake.email()
        if kind == 1:
            return fake.free_email()
        if kind == 2:
            return fake.company_email()
        user = f"{fake.first_name()}.{fake.last_name()}".lower()
        user = re.sub(r"[^a-z.]", "", user).strip(".").replace("..", ".") or "alex.doe"
        if kind == 3:
            tag, sub = rng.choice(["news", "crm", "2024"]), rng.choice(["mail.", ""])
            return f"{user}+{tag}@{sub}{fake.domain_name()}"
        return f"{user.upper()}@{fake.domain_name().upper()}"

    def phone(self) -> str:
        rng = self.rng
        if rng.random() < 0.6:
            return self.any_fake().phone_number()
        d = self.digits
        formats = [
            lambda: f"+44 20 7946 {d(4)}",
            lambda: f"+49 30 {d(6)}",
            lambda: f"+33 1 42 {d(2)} {d(2)} {d(2)}",
            lambda: f"+81 3-{d(4)}-{d(4)}",
            lambda: f"({rng.choice(['212', '415', '646', '303'])}) 555-01{d(2)}",
            lambda: f"0044 20 7946 {d(4)}",
            lambda: f"+1 {rng.choice(['212', '415', '617'])} {d(3)} {d(4)}",
            lambda: f"+34 91 {d(3)} {d(2)} {d(2)}",
            lambda: f"+39 06 {d(4)} {d(4)}",
            lambda: f"+31 20 {d(3)} {d(4)}",
            lambda: f"+61 2 {d(4)} {d(4)}",
            lambda: f"+91 98{d(3)} {d(5)}",
            lambda: f"+55 11 9{d(4)}-{d(4)}",
            lambda: f"+41 44 {d(3)} {d(2)} {d(2)}",
            lambda: f"+353 1 {d(3)} {d(4)}",
            lambda: f"{rng.choice(['212', '646', '718'])}-{rng.choice('23456789')}{d(2)}-{d(4)}",
            lambda: f"{rng.choice(['415', '650'])}.{rng.choice('23456789')}{d(2)}.{d(4)}",
            lambda: f"030 {d(7)}",
            lambda: f"020 7946 {d(4)}",
            lambda: f"06 {d(2)} {d(2)} {d(2)} {d(2)}",
            lambda: f"03-{d(4)}-{d(4)}",
        ]
        return rng.choice(formats)()

    def card(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            number = self.fake.credit_card_number()
        else:
            prefix, length = rng.choice(CARD_RANGES)
            number = luhn_complete(prefix + self.digits(length - len(prefix) - 1))
        style = rng.randrange(3)
        if style == 0 or len(number) < 14:
            return number
        sep = " " if style == 1 else "-"
        if len(number) == 15:
            return sep.join([number[:4], number[4:10], number[10:]])
        if len(number) == 14:
            return sep.join([number[:4], number[4:10], number[10:]])
        return sep.join(number[i : i + 4] for i in range(0, len(number), 4))

    def ssn(self) -> str:
        value = str(self.fake.ssn())
        return value.replace("-", " ") if self.rng.random() < 0.1 else value

    def iban(self) -> str:
        value = str(self.any_fake().iban())
        if self.rng.random() < 0.5:
            return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return value

    def ip(self) -> str:
        fake, rng = self.fake, self.rng
        kind = rng.randrange(6)
        if kind == 0:
            return str(fake.ipv4())
        if kind == 1:
            return str(fake.ipv4_private())
        if kind == 2:
            return str(fake.ipv6())
        if kind == 3:
            return str(ipaddress.IPv6Address(fake.ipv6()).compressed)
        if kind == 4:
            base = ipaddress.IPv6Address(
                f"2001:db8::{rng.randrange(1, 0xFFFF):x}:{rng.randrange(1, 0xFFFF):x}"
            )
            return str(base.compressed)
        return rng.choice(["::1", "fe80::1", f"::ffff:{fake.ipv4()}", f"fe80::{rng.randrange(1, 0xFFFF):x}"])

    def secret(self) -> tuple[str, str, str]:
        """(prefix text, secret, suffix text): the gold span is the secret only."""
        rng = self.rng
        alnum = string.ascii_letters + string.digits

        def rand(n: int, alphabet: str = alnum) -> str:
            return "".join(rng.choice(alphabet) for _ in range(n))

        upper = string.ascii_uppercase + string.digits
        kinds: list[Callable[[], tuple[str, str, str]]] = [
            lambda: ("", "AKIA" + rand(16, upper), ""),
            lambda: ("", "ghp_" + rand(36), ""),
            lambda: ("", "github_pat_" + rand(22) + "_" + rand(59), ""),
            lambda: ("", f"xoxb-{self.digits(11)}-{self.digits(12)}-{rand(24)}", ""),
            lambda: ("", "sk_live_" + rand(24), ""),
            lambda: ("", "rk_live_" + rand(24), ""),
            lambda: ("", "sk-proj-" + rand(48, alnum + "_-"), ""),
            lambda: ("", "sk-" + rand(48), ""),
            lambda: ("", "AIza" + rand(35, alnum + "_-"), ""),
            lambda: ("", jwt(rng), ""),
            lambda: ("Authorization: Bearer ", rand(40, alnum + "-._"), ""),
            lambda: ("", new_key(), ""),
            lambda: ("", pem(rng), ""),
            lambda: ("api_key=", rand(32), ""),
            lambda: ('"client_secret": "', rand(40, alnum + "_-"), '"'),
            lambda: ("password=", self.fake.password(length=12, special_chars=False), ""),
            lambda: ("DB_PASSWORD: ", self.fake.password(length=14, special_chars=False), ""),
            lambda: ("postgres://app:", rand(16), "@db.internal:5432/crm"),
        ]
        return rng.choice(kinds)()

    # -- hard negatives --------------------------------------------------------------------

    def negative(self) -> str:
        fake, rng, d = self.fake, self.rng, self.digits
        choices: list[Callable[[], str]] = [
            lambda: f"order ORD-{rng.randint(2019, 2025)}-{d(6)}",
            lambda: f"invoice INV-{d(8)}",
            lambda: f"ticket #{d(7)}",
            lambda: f"order number {d(10)}",
            lambda: f"customer id {d(9)}",
            lambda: f"${rng.randint(1, 999)},{d(3)}.{d(2)}",
            lambda: f"€ {rng.randint(1, 99)}.{d(3)},{d(2)}",
            lambda: f"{rng.randint(1, 9)} {d(3)} {d(3)},{d(2)} €",
            lambda: f"USD {rng.randint(1, 999)},{d(3)}",
            lambda: fake.date(
                pattern=rng.choice(["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d"])
            ),
            lambda: fake.iso8601() + rng.choice(["Z", "+02:00", ""]),
            lambda: str(rng.randint(1_500_000_000, 1_800_000_000)),
            lambda: str(rng.randint(1_500_000_000_000, 1_800_000_000_000)),
            lambda: f"v{rng.randint(0, 12)}.{rng.randint(0, 40)}.{rng.randint(0, 200)}",
            lambda: f"version {rng.randint(1, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}.{d(4)}",
            lambda: str(fake.uuid4()),
            lambda: fake.sha1(),
            lambda: fake.mac_address(),
            lambda: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
            lambda: f"ZIP {d(5)}-{d(4)}",
            lambda: f"ISBN 978-{rng.randint(0, 9)}-{d(2)}-{d(6)}-{rng.randint(0, 9)}",
            lambda: f"EAN {'40' + d(11)}",
            lambda: f"lat {fake.latitude()}, lon {fake.longitude()}",
            lambda: f"{rng.randint(1, 99)}.{rng.randint(0, 9)}% of {rng.randint(1, 9)},{d(3)},{d(3)} users",
            lambda: f"build {rng.randint(2019, 2025)}{rng.randint(10, 12)}{rng.randint(10, 28)}.{d(1)}",
            lambda: f"tracking 1Z{d(3)}AA1{d(10)}",
            lambda: f"card {self.bad_card()}",
            lambda: f"IBAN {self.bad_iban()}",
            lambda: f"SSN {self.bad_ssn()}",
            lambda: f"ref {d(4)}-{d(4)}-{d(4)}",
            lambda: f"part {d(3)}-{d(5)}-{d(2)}",
            lambda: f"room {rng.randint(1, 9)}{d(2)}",
            lambda: f"quantity {rng.randint(1, 99_999)}",
            lambda: f"{rng.randint(1, 28)} {rng.choice(['Jan', 'Feb', 'Mar'])} {rng.randint(2000, 2030)}",
            lambda: f"temperature {rng.randint(-20, 40)}.{rng.randint(0, 9)} C",
            lambda: f"not an address: 999.{rng.randint(0, 255)}.1.1",
        ]
        return rng.choice(choices)()

    def bad_card(self) -> str:
        number = luhn_complete("4" + self.digits(14))
        return number[:-1] + str((int(number[-1]) + 1) % 10)

    def bad_iban(self) -> str:
        value = str(self.any_fake().iban())
        return (
            value[:4] + str((int(value[4]) + 1) % 10) + value[5:]
            if value[4].isdigit()
            else value[:2] + "00" + value[4:]
        )

    def bad_ssn(self) -> str:
        d, area, group = self.digits, f"{self.rng.randint(1, 665):03d}", f"{self.rng.randint(1, 99):02d}"
        return self.rng.choice(
            [
                f"000-{d(2)}-{d(4)}",
                f"666-{d(2)}-{d(4)}",
                f"9{d(2)}-{d(2)}-{d(4)}",
                f"{area}-00-{d(4)}",
                f"{area}-{group}-0000",
            ]
        )


def luhn_complete(partial: str) -> str:
    """`partial` plus the Luhn check digit."""
    total = 0
    for index, char in enumerate(reversed(partial)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return partial + str((10 - total % 10) % 10)


def jwt(rng: random.Random) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    signature = base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")
    header, claims = (
        part({"alg": "HS256", "typ": "JWT"}),
        part({"sub": str(rng.randint(1, 10**9)), "iat": 1700000000}),
    )
    return f"{header}.{claims}.{signature}"


def pem(rng: random.Random) -> str:
    body = base64.b64encode(rng.randbytes(300)).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    kind = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----"


# Templates: {TYPE} is an entity with a gold span, {neg} a hard negative, {name}/{city}/{company}/
# {date} plain filler. Context words vary; some templates have none.
TEMPLATES = [
    "Hi {name}, please call me at {PHONE_NUMBER} or email {EMAIL_ADDRESS}.",
    "Contact: {name} <{EMAIL_ADDRESS}>, tel. {PHONE_NUMBER}",
    "{name} | {company} | {PHONE_NUMBER} | {city}",
    "You can reach our office on {PHONE_NUMBER} between 9 and 5.",
    "Mobile: {PHONE_NUMBER}\nFax: {PHONE_NUMBER}",
    "{name} ({EMAIL_ADDRESS}) asked about {neg}.",
    "Forwarded message from {EMAIL_ADDRESS} to {EMAIL_ADDRESS} on {date}",
    "Customer {name} paid with card {CREDIT_CARD} on {date}.",
    "Card on file: {CREDIT_CARD} (exp 04/27), billing {city}.",
    "SSN: {US_SSN}",
    "Her social security number is {US_SSN}.",
    "{name}'s SSN {US_SSN} was verified on {date}.",
    "Please wire the refund to {IBAN_CODE} ({name}).",
    "IBAN: {IBAN_CODE}, amount {neg}",
    "Login from {IP_ADDRESS} at {date}.",
    "Server {IP_ADDRESS} refused the connection; retry via {IP_ADDRESS}.",
    "Use this key: {SECRET}",
    "Config dump: {SECRET} (rotate it)",
    "{neg}; {neg}; contact {EMAIL_ADDRESS}",
    "Order {neg} shipped to {city}. Questions? {PHONE_NUMBER}",
    "Bitte rufen Sie mich unter {PHONE_NUMBER} an oder schreiben Sie an {EMAIL_ADDRESS}.",
    "Überweisung an {IBAN_CODE}, Rechnung {neg}.",
    "Vous pouvez me joindre au {PHONE_NUMBER}. Mon adresse : {EMAIL_ADDRESS}",
    "Llámame al {PHONE_NUMBER} mañana.",
    "Bel mij op {PHONE_NUMBER} of mail {EMAIL_ADDRESS}.",
    "Il mio cellulare è {PHONE_NUMBER}.",
    "電話: {PHONE_NUMBER}",
    "Details: {neg}, {neg}, {neg}.",
    "Meeting on {date} with {name} from {company} about {neg}.",
    "{neg}",
]

JSON_KEYS = {
    "EMAIL_ADDRESS": ["email", "work_email", "contactEmail", "from"],
    "PHONE_NUMBER": ["phone", "mobile", "phoneNumber", "tel", "fax", "mobile_phone"],
    "CREDIT_CARD": ["card_number", "pan", "card"],
    "US_SSN": ["ssn", "social_security_number"],
    "IBAN_CODE": ["iban", "bank_account"],
    "IP_ADDRESS": ["ip", "last_login_ip", "remote_addr"],
    "SECRET": ["api_key", "password", "client_secret", "access_token"],
}
NEGATIVE_KEYS = [
    "id",
    "order_id",
    "amount",
    "created_at",
    "version",
    "sku",
    "zip",
    "total",
    "reference",
    "count",
]


def fill(template: str, values: Values) -> Sample:
    """Render a template, recording gold spans."""
    fake = values.any_fake()
    text, spans = "", []
    for piece in re.split(r"(\{[A-Za-z_]+\})", template):
        if not (piece.startswith("{") and piece.endswith("}")):
            text += piece
            continue
        name = piece[1:-1]
        if name == "SECRET":
            prefix, secret, suffix = values.secret()
            text += prefix
            spans.append((len(text), len(text) + len(secret), name))
            text += secret + suffix
        elif name in JSON_KEYS:
            value = entity_value(name, values)
            spans.append((len(text), len(text) + len(value), name))
            text += value
        elif name == "neg":
            text += values.negative()
        else:
            text += {"name": fake.name, "city": fake.city, "company": fake.company, "date": fake.date}[name]()
    return Sample(text, tuple(spans))


def entity_value(entity: str, values: Values) -> str:
    return {
        "EMAIL_ADDRESS": values.email,
        "PHONE_NUMBER": values.phone,
        "CREDIT_CARD": values.card,
        "US_SSN": values.ssn,
        "IBAN_CODE": values.iban,
        "IP_ADDRESS": values.ip,
    }[entity]()


def json_samples(values: Values) -> Iterator[Sample]:
    """String values of a JSON record, each with its key: what the masker scans."""
    rng = values.rng
    for entity, keys in JSON_KEYS.items():
        key = rng.choice(keys)
        if entity == "SECRET":
            _, value, _ = values.secret()
            # Under a credential key the whole value is the secret, whatever it looks like.
            yield Sample(value, ((0, len(value), entity),), key)
            continue
        value = entity_value(entity, values)
        yield Sample(value, ((0, len(value), entity),), key)
    key = rng.choice(NEGATIVE_KEYS)
    negative = values.negative()
    yield Sample(negative, (), key)
    note = fill(rng.choice(TEMPLATES), values)
    yield Sample(note.text, note.spans, "notes")


def labelled_set(seed: int = 7, texts: int = 2500, records: int = 400) -> list[Sample]:
    values = Values(seed)
    samples = [fill(values.rng.choice(TEMPLATES), values) for _ in range(texts)]
    for _ in range(records):
        samples.extend(json_samples(values))
    return samples


def main() -> None:
    for seed in (7, 11):
        score = evaluate(labelled_set(seed))
        print(f"seed {seed}: strict span match, {sum(score.true_positives.values())} entities found")
        print(score.table())
        for kind, entity, shown in score.misses[:40]:
            print(f"  {kind} {entity}: {shown!r}")


if __name__ == "__main__":
    main()


__all__ = ["Span", "labelled_set"]
