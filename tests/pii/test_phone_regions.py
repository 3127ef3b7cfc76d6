"""`phones.valid_somewhere` tries the common regions in another order for numbers with a trunk
'0' (for speed): the same regions, and the same answer as trying them in the first order."""

from __future__ import annotations

import random

import phonenumbers

from broker.pii import phones


def valid_in_order(digits: str) -> bool:
    """The question asked region by region in `_REGIONS`' order, nothing cached."""
    for region in phones._REGIONS:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(digits, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def test_the_trunk_order_holds_the_same_regions_once() -> None:
    assert sorted(phones._TRUNK_REGIONS) == sorted(phones._REGIONS)
    assert len(set(phones._TRUNK_REGIONS)) == len(phones._TRUNK_REGIONS)


def test_the_same_answer_as_in_the_first_order() -> None:
    rng = random.Random(10)
    heads = ["0", "00", "011", "0049", "01", "1", "2", "4", "9", "07", "020", "06"]
    numbers = [
        rng.choice(heads) + "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 13)))
        for _ in range(160)
    ]
    numbers += ["0249133219", "01709123456", "0612345678", "4155550143", "02079460958", "0", "00"]
    for digits in numbers:
        phones.valid_somewhere.cache_clear()
        assert phones.valid_somewhere(digits) == valid_in_order(digits), digits
