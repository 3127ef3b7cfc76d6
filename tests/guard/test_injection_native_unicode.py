# ruff: noqa: RUF001, RUF002, RUF003 - look-alike letters of other scripts on purpose
"""The native injection prefilter reads text beyond ASCII as `reference_suspect` does.

Generated texts aim at the edges of Python's Unicode rules the native look takes from its tables
(broker/guard/prefilter_tables.py): the keywords beyond ASCII (`игнор`, `忽略`, `instruç`,
`développeur`) and the ASCII ones in any case, with the letters `lower` and IGNORECASE fold to
ASCII (Turkish dotted and dotless i, the long s, the Kelvin sign) and the short words next to
accented, Cyrillic, Greek and CJK letters, full-width letters, combining marks, Unicode digits
(Arabic-Indic, superscripts: letters to `[^\\W\\d_]`), zero-width and other spaces; disguises
spaced, dotted, leet and joined in mixed scripts; base64 runs with the four letters
`[a-z]` also matches ignoring case; PII tokens among them; lone surrogates; and random code
points of the whole plane. Text of one byte per character beyond ASCII (Latin-1) and of two
are both read, and of four: characters beyond the plane (emoji with their joiners, skin tones,
flags, variation selectors and tags; astral letters with case, mathematical letters and digits,
CJK Extension B, astral digits, private-use and unassigned code points) next to the keywords and
short words, inside disguises and base64 runs, and random code points of all seventeen planes.
"""

from __future__ import annotations

import random

import pytest

from broker.guard import injection, prefilter_tables
from broker.guard.machine_ids import without_machine_ids
from tests.guard.fresh_set import BENIGN, INJECTIONS
from tests.guard.test_injection_native import BASE64, DISGUISES, TOKENS, python_verdict

Prefilter = pytest.importorskip(
    "broker.pii._native", reason="broker.pii._native is not built (no Rust toolchain or crates): make native"
).Prefilter


def unicode_prefilter() -> Prefilter:
    prefilter = Prefilter(list(injection._SUSPECT_WORDS), list(injection._WORDS_ALONE))
    prefilter.read_unicode(*prefilter_tables.tables(lowering))
    prefilter.read_astral(*prefilter_tables.astral(lowering))
    return prefilter


def lowering(chars: str) -> str:
    return injection._folded(chars).lower()


NATIVE = unicode_prefilter()
KEYWORDS = list(injection._SUSPECT_WORDS)
WIDE_KEYWORDS = [word for word in KEYWORDS if not word.isascii()]
FOLDED = [
    "\u0130gnore",
    "\u0131gnore",
    "\u017fystem",
    "api \u212aey",
    "D\u0130SREGARD",
    "\u017fy\u017f",
    "\u0130",
]
ALONE = ["ai", "AI", "sys", "SYS", "dan", "Dan", "ΑΙ", "ＡＩ", "ａｉ", "\u017fys", "ſyſ", "d\u0430n"]
LETTERS = [*"éàüñçØßÿÉÇĀāİıſKДдЖжΣσςΑαλ中文字シ무ǅﬁẞŉ", "a\u0301", "e\u0301"]
NOT_LETTERS = [*"\u0301\u200b\u200d\ufeff\xa0\u3000\u2028«»—¿¡·•€", "\ud800", "\udfff"]
DIGITS = [*"٣٠١٧²³¹½Ⅷ①０１３७"]
EDGES = [*" _19.,-|~*+/\n<>'\"![#=:x", *LETTERS, *NOT_LETTERS, *DIGITS]
WIDE_DISGUISES = [
    *("é.l.o.", "é l o ", "ı.g.n.", "ё.ж.з.", "中 文 字 ", "ä ö ü ", "a.².b.", "a ½ b ", "é.1.o."),
    *("1gnöre", "ı3ı", "3ıı", "K3y", "x3ı", "é3ab", "٣ab", "a٣b", "²3ab", "3éb", "ſ0ſ", "3ab", "a3é"),
    *("ab-ıcd-é-f", "a-ſ-K-b", "ab-ıcd-ef-K", "ж-ab-cd-ef", "a-b-c-é", "ı-ı-ı-ı", "a—b—c—d", "a－b－c－d"),
]
WIDE_BASE64 = [
    "\u212a" * 16,
    "\u0131" * 8 + "ab12+/cd",
    "abcdefghijklmno\u017f",
    "abcdefghijklmnoé",
    "éabcdefghijklmnop",
]
EMOJI = [
    *(
        "😀",
        "👍",
        "👍🏽",
        "👨\u200d👩\u200d👧",
        "🧑🏿\u200d💻",
        "🇫🇷",
        "🇯🇵🇩🇪",
        "❤\ufe0f",
        "☺\ufe0e",
        "🏳\ufe0f\u200d🌈",
    ),
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England: plane 14's tags
    *("🙂\U000e0100", "🔥🔥", "✅"),
]
ASTRAL_LETTERS = [*"𐐀𐐨𐐟𐑇𐒰𐓘𞤀𞤢𝐚𝐀𝑖𝔞𝕒𝚤𝛂𠀀𪜀𫝀𰀀𐌰𒀀"]
"""Deseret, Osage, Adlam (upper and lower), mathematical letters (dotless 𝚤 too), CJK
Extensions B to G, Gothic, cuneiform."""
ASTRAL_OTHER = [
    *"𝟎𝟏𝟗𞥑𐒠𑁦",  # Nd digits: word characters, no letters
    *("\U000f0000", "\U0010fffd", "\U00100000", "\U00050000", "\U000e0000", "\U0003fffd", "\U0001ffff"),
    *("\U0001d173", "\U0001f3fb", "\U000e0001"),  # a musical format mark, a skin tone, a tag
]
ASTRAL = [*EMOJI, *ASTRAL_LETTERS, *ASTRAL_OTHER]
ASTRAL_DISGUISES = [
    *("𐐀.𐐨.𐐟.", "𝐚 𝐛 𝐜 ", "𞤢.b.𞤀.", "a.𝟎.b.", "𐐀 😀 𐐨 ", "a 😀 b ", "𠀀 𪜀 𫝀 ", "ı.𝐚.ſ."),
    *("1gn😀re", "1𐐨b", "𝐚3ab", "a3𝐚", "😀3ab", "𝟎3ab", "ab-😀cd-ef-g", "ab-𐐨cd-ef-g", "a-b-c-d😀"),
]
ASTRAL_BASE64 = [
    "abcdefghijklmno😀",
    "😀abcdefghijklmnop",
    "abcdefgh𝐚ijklmnop",
    "𝟎" * 16,
    "QUJD" * 3 + "🙂QUJD",
]
FILLER = [*' \n,.:;{}[]"', "rain", "daily", "données", "Jürgen", "Ørsted", "Москва", "東京", "naïve", "12.5"]


def cased(rng: random.Random, word: str) -> str:
    return "".join(c.upper() if rng.random() < 0.3 else c for c in word)


def pieces(rng: random.Random) -> list[str]:
    keyword = cased(rng, rng.choice(KEYWORDS))
    wide = cased(rng, rng.choice(WIDE_KEYWORDS))
    return [
        keyword,
        keyword[:-1],
        wide,
        wide[:-1],
        wide.upper(),
        rng.choice(FOLDED),
        rng.choice(ALONE),
        rng.choice(EDGES) + rng.choice(ALONE) + rng.choice(EDGES),
        rng.choice(EDGES),
        rng.choice(LETTERS),
        rng.choice(DIGITS),
        rng.choice(NOT_LETTERS),
        rng.choice(TOKENS),
        rng.choice(EDGES) + rng.choice(TOKENS) + rng.choice(EDGES),
        rng.choice(DISGUISES),
        rng.choice(WIDE_DISGUISES),
        rng.choice(BASE64),
        rng.choice(WIDE_BASE64),
        rng.choice(FILLER),
        chr(rng.randrange(0x10000)),
        "".join(chr(rng.randrange(0x10000)) for _ in range(3)),
        *astral_pieces(rng, keyword),
    ]


def astral_pieces(rng: random.Random, keyword: str) -> list[str]:
    astral = rng.choice(ASTRAL)
    return [
        astral,
        rng.choice(EMOJI),
        rng.choice(ASTRAL_LETTERS),
        rng.choice(ASTRAL_OTHER),
        astral + rng.choice(ALONE) + rng.choice([*ASTRAL, *EDGES]),
        rng.choice([*ASTRAL, *EDGES]) + rng.choice(ALONE) + astral,
        keyword[: len(keyword) // 2] + astral + keyword[len(keyword) // 2 :],
        rng.choice(ASTRAL_DISGUISES),
        rng.choice(ASTRAL_BASE64),
        astral + rng.choice(TOKENS) + astral,
        chr(rng.randrange(0x10000, 0x110000)),
        chr(rng.randrange(0x10000, 0x40000)),  # planes 1 to 3, where the assigned ones are
    ]


def texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(pieces(rng)) for _ in range(rng.randint(1, 14))) for _ in range(count)]


def characters(count: int, seed: int) -> list[str]:
    """Texts of single characters, where every edge of every part is met by chance."""
    rng = random.Random(seed)
    alphabet = [*"aisdnoigrexyzAISDN_019348 .-|~*+/<>'#[]!=\nK3ac9f0b", *LETTERS[:20], *NOT_LETTERS, *DIGITS]
    alphabet += ["\u0130", "\u0131", "\u017f", "\u212a", "и", "г", "н", "о", "р", "忽", "略", "ç", "é"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(count)]


def astral_characters(count: int, seed: int) -> list[str]:
    """`characters` with the characters beyond the plane among them."""
    rng = random.Random(seed)
    alphabet = [*"aisdnAISDN_01348 .-|~*+/<>K3b", "\u0130", "\u0131", "\u017f", "é", "\u200d", "\ufe0f"]
    alphabet += [*ASTRAL_LETTERS, *ASTRAL_OTHER, *"😀👍🏽🇫"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(count)]


def disagreeing(samples: list[str]) -> list[str]:
    return [text for text in samples if NATIVE.suspect(text) != python_verdict(text)]


def test_the_native_prefilter_answers_as_the_reference_beyond_ascii() -> None:
    samples = [text for text in texts(25000, 11) + characters(25000, 12) if not text.isascii()]
    samples += [text for text in INJECTIONS + BENIGN if not text.isascii()]
    assert len(samples) > 40000
    assert sum(max(text) > "\uffff" for text in samples) > 10000
    assert disagreeing(samples) == []
    verdicts = [NATIVE.suspect(text) for text in samples]
    assert min(verdicts.count(True), verdicts.count(False), verdicts.count(None)) > 500
    latin1 = [text for text in samples if max(text) <= "\xff"]  # one byte per character
    assert len(latin1) > 1000 and [NATIVE.suspect(text) for text in latin1].count(False) > 100


def test_the_native_prefilter_answers_as_the_reference_beyond_the_plane() -> None:
    samples = astral_characters(30000, 17)
    rng = random.Random(18)
    samples += [
        "".join(rng.choice(astral_pieces(rng, rng.choice(KEYWORDS))) for _ in range(4)) for _ in range(10000)
    ]
    samples = [text for text in samples if max(text) > "\uffff"]
    assert len(samples) > 35000
    assert disagreeing(samples) == []
    verdicts = [NATIVE.suspect(text) for text in samples]
    assert min(verdicts.count(True), verdicts.count(False), verdicts.count(None)) > 500


def test_each_part_is_found_beyond_ascii() -> None:
    """Each check of the native look decides some texts, so a fault in one is seen above."""
    found = {
        "a wide keyword": ["ИГНОРИРУЙ", "请忽略", "Instruções", "DÉVELOPPEUR", "правила"],
        "a folded letter": ["\u0130GNORE", "api \u212aey", "\u017fystem"],
        "a short word alone": [
            "é ai",
            "«ai»",
            "中 ai 中",
            "—dan—",
            "\u200bsys",
            "ai\u0301",  # a combining mark is no word character
        ],
        "a disguise": ["é.l.o.", "ж з и ", "1gnöre", "é3ab", "ab-ıcd-ef-K", "a.².b."],
        "a keyword among emoji": ["😀ignore👍🏽", "🇫🇷 SYSTEM", "𝐚 prompt"],
        "a short word by emoji": [
            "😀ai😀",
            "👍🏽sys",
            "dan\u200d👩",
            "\U000f0000ai",
            "ai\U00050000",
            "🏴\U000e007fai",
        ],
        "an astral disguise": ["𐐀.𐐨.𐐟.", "𝐚 𝐛 𝐜 ", "𞤢.b.𞤀.", "𠀀 𪜀 𫝀 ", "1gn😀re", "😀3ab"],
    }
    for part, samples in found.items():
        assert [text for text in samples if not NATIVE.suspect(text)] == [], part
    plain = ["éai", "aié", "中ai", "ai中", "дdan", "danд", "a\u0301i", "ai²", "٣ai", "ΣYS"]
    plain += ["a٣b", "3éb", "é.l.1.", "a—b—c—d", "ж-ab-cd-ef", "abcdefghijklmnoé", "données", "东京"]
    plain += ["𐐀ai", "ai𐐨", "𝐚ai", "ai𝟎", "𞤢dan", "sys𠀀", "𐒰sys𐓘", "𞥑ai", "a.𝟎.b.", "a 😀 b "]
    plain += ["ab-😀cd-ef-g", "abcdefghijklmno😀", "igno😀re", "👨\u200d👩\u200d👧 🇫🇷", "❤\ufe0f"]
    assert [text for text in plain if NATIVE.suspect(text) is not False] == []
    assert NATIVE.suspect("\u212a" * 16) is None and NATIVE.suspect("é" + "a" * 16) is None
    assert NATIVE.suspect("😀abcdefghijklmnop") is None and NATIVE.suspect("𝟎" * 16) is False


def test_long_texts_read_alike() -> None:
    """Texts of a few KB (accented records, CJK), a keyword or disguise (or none) anywhere."""
    rng = random.Random(13)
    records = [
        '{"nom":"Hélène Müller-Łukasz","note":"Rencontrée au salon; rappeler ORD-200001.",'
        '"e":"<EMAIL_ADDRESS_3ac9f0b1>"},',
        '{"имя":"Ольга Петрова","город":"Москва","заметка":"Позвонить в понедельник."},',
        '{"名前":"山田太郎","メモ":"来週の会議について連絡する。","電話":"<PHONE_NUMBER_a1e47f03>"},',
        '{"from":"<PERSON_3ac9f0b1>","msg":"great news 🎉🎉 see you at 10 👍🏽 — 𠀀𪜀 𝐛𝐨𝐥𝐝 🇫🇷"},',
    ]
    samples = []
    for _ in range(300):
        text = rng.choice(records) * rng.randint(1, 40)
        at = rng.randint(0, len(text))
        samples.append(
            text[:at] + "".join(rng.choice(pieces(rng)) for _ in range(rng.randint(0, 2))) + text[at:]
        )
    assert disagreeing(samples) == []
    assert sum(NATIVE.suspect(text) is False for text in samples) > 20
    assert sum(max(text) > "\uffff" for text in samples) > 20


def test_the_gateway_reads_text_beyond_ascii_natively() -> None:
    """`suspect` is the reference's verdict on any text, and `quick_verdict` the native one
    on every text (without its machine ids), with a character beyond the plane too."""
    samples = texts(3000, 14) + [text + "\U0001f600" for text in texts(300, 15)] + ["\U0001d7ce ai", "😀"]
    assert [text for text in samples if injection.suspect(text) != injection.reference_suspect(text)] == []
    assert [
        text for text in samples if injection.quick_verdict(text) != python_verdict(without_machine_ids(text))
    ] == []
    assert NATIVE.suspect("ai \U0001d7ce") is True and NATIVE.suspect("ai\U0001d7ce") is False
    with pytest.raises(ValueError):  # no tables given
        Prefilter(["ignor"], ["ai"]).suspect("é")
    bmp_only = Prefilter(["ignor"], ["ai"])
    bmp_only.read_unicode(*prefilter_tables.tables(lowering))
    assert bmp_only.suspect("é ai") is True
    with pytest.raises(ValueError):  # no tables of the planes beyond
        bmp_only.suspect("😀 ai")


def test_the_tables_are_pythons_rules() -> None:
    """Each code point's class and lowering as `re` and `str.lower` give them one by one, and
    no keyword holds the only letter whose lowering hangs on what follows it (Σ: σ or ς)."""
    lowered, classes = prefilter_tables.tables(lambda chars: injection._folded(chars).lower())
    rng = random.Random(16)
    points = [
        *range(0x300),
        0x130,
        0x131,
        0x17F,
        0x212A,
        0x3A3,
        *(rng.randrange(0x10000) for _ in range(4000)),
    ]
    patterns = {
        prefilter_tables.LETTER: prefilter_tables._LETTERS,
        prefilter_tables.AZ: prefilter_tables._AZ,
        prefilter_tables.BASE64: prefilter_tables._BASE64,
    }
    for point in points:
        char = chr(point)
        lower = injection._folded(char).lower()
        assert lowered[point] == lower
        flags = sum(flag for flag, pattern in patterns.items() if pattern.fullmatch(char))
        flags += prefilter_tables.WORD if lower.isalnum() or lower == "_" else 0
        assert classes[point] & 15 == flags, hex(point)
    assert not any("σ" in word or "ς" in word for word in KEYWORDS)


def test_the_astral_tables_are_pythons_rules() -> None:
    """Each plane beyond the first is built from `re` and `str.lower` as the first is, or found
    to hold nothing (no class, each code point its own lowering): checked here one code point
    at a time, all of those with a class or a lowering of their own and random others."""
    built, empty = prefilter_tables.astral(lowering)
    assert sorted([number for number, _, _ in built] + empty) == list(range(1, 17))
    assert [number for number, _, _ in built][:3] == [1, 2, 3]
    patterns = {
        prefilter_tables.LETTER: prefilter_tables._LETTERS,
        prefilter_tables.AZ: prefilter_tables._AZ,
        prefilter_tables.BASE64: prefilter_tables._BASE64,
    }
    rng = random.Random(19)
    planes = [(number, lowered, classes) for number, lowered, classes in built]
    planes += [
        (number, "".join(map(chr, range(number << 16, (number + 1) << 16))), bytes(0x10000))
        for number in empty
    ]
    for number, lowered, classes in planes:
        first = number << 16
        points = [index for index in range(0x10000) if classes[index] or ord(lowered[index]) != first + index]
        points = points[:3000] + [rng.randrange(0x10000) for _ in range(1500)] + [0, 0xFFFD, 0xFFFF]
        for index in points:
            char = chr(first + index)
            lower = lowering(char)
            assert lowered[index] == lower, hex(first + index)  # one character, whichever plane
            flags = sum(flag for flag, pattern in patterns.items() if pattern.fullmatch(char))
            flags += prefilter_tables.WORD if lower.isalnum() or lower == "_" else 0
            assert classes[index] == flags, hex(first + index)
    classes_1 = built[0][2]
    for char in "𐐀𐐨𞤀𝐚𠀀":  # letters, whose lowering is a word character
        plane = ord(char) >> 16
        table = next(classes for number, _, classes in built if number == plane)
        assert table[ord(char) & 0xFFFF] == prefilter_tables.LETTER | prefilter_tables.WORD
    assert classes_1[0xD7CE] == prefilter_tables.WORD and classes_1[0xF600] == 0  # 𝟎 (Nd), 😀
    assert lowering("𐐀") == "𐐨" and lowering("𞤀") == "𞤢"


def test_tables_that_do_not_fit_are_refused() -> None:
    lowered, classes = prefilter_tables.tables(lambda chars: injection._folded(chars).lower())
    prefilter = Prefilter(["игнор"], ["ai"])
    with pytest.raises(ValueError):  # ASCII read otherwise than natively
        prefilter.read_unicode(lowered, bytes([classes[0] ^ prefilter_tables.LETTER]) + classes[1:])
    with pytest.raises(ValueError):  # a keyword's character not lower case
        prefilter.read_unicode(lowered.replace("и", "И"), classes)
    with pytest.raises(ValueError):
        prefilter.read_unicode(lowered[:-1], classes)
    with pytest.raises(ValueError):
        Prefilter(["ИГНОР"], []).read_unicode(lowered, classes)
    built, empty = prefilter_tables.astral(lowering)
    number, lowered_1, classes_1 = built[0]
    for planes, numbers in [
        (built, empty[1:]),  # a plane missing
        (built, [*empty, number]),  # a plane given twice
        (built, [0, *empty]),
        (built, [*empty, 17]),
        ([(number, lowered_1[:-1], classes_1), *built[1:]], empty),
        ([(number, lowered_1, classes_1[:-1]), *built[1:]], empty),
        ([(number, lowered_1, b"\x50" + classes_1[1:]), *built[1:]], empty),  # a space beyond ASCII
    ]:
        with pytest.raises(ValueError):
            prefilter.read_astral(planes, numbers)
