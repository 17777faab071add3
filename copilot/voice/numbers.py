"""Numbers as words, per locale, and the spoken values of a numeric argument's range.

English: "two hundred ten", "six point five". Korean (Sino-Korean, one word per digit group):
"이 백 십", "칠 점 오". A range is spoken on a grid fine enough to be useful and coarse enough
to keep the grammar small: the smallest step of 0.1, 0.5, 1, 5, 10, 50, 100, 500, 1000 that gives
at most :data:`MAX_VALUES` values, and whole numbers only when the range spans 10 or more.
"""

from __future__ import annotations

from decimal import Decimal

from copilot.voice.types import Locale

MAX_VALUES = 100
STEPS = (
    Decimal("0.1"),
    Decimal("0.5"),
    Decimal(1),
    Decimal(5),
    Decimal(10),
    Decimal(50),
    Decimal(100),
    Decimal(500),
    Decimal(1000),
)

_EN_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_EN_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_KO_DIGITS = ["영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]


def _en_int(n: int) -> list[str]:
    if n < 20:
        return [_EN_ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_EN_TENS[tens]] + ([_EN_ONES[ones]] if ones else [])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return [_EN_ONES[hundreds], "hundred"] + (_en_int(rest) if rest else [])
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        return [*_en_int(thousands), "thousand"] + (_en_int(rest) if rest else [])
    raise ValueError(f"{n} is too large to speak")


def _ko_int(n: int) -> list[str]:
    if n == 0:
        return ["영"]
    if n >= 100_000:
        raise ValueError(f"{n} is too large to speak")
    words: list[str] = []
    for unit, word in ((10_000, "만"), (1000, "천"), (100, "백"), (10, "십")):
        d, n = divmod(n, unit)
        if d:
            words += [word] if d == 1 else [_KO_DIGITS[d], word]
    if n:
        words.append(_KO_DIGITS[n])
    return words


def int_words(n: int, locale: Locale) -> list[str]:
    """The words of a whole number ``0 <= n < 1,000,000`` (Korean: below 100,000)."""
    return _en_int(n) if locale == "en" else _ko_int(n)


def number_words(value: Decimal, locale: Locale, point: str) -> tuple[str, ...]:
    """The words of ``value`` (non-negative, at most one decimal) in ``locale``."""
    if value < 0:
        raise ValueError("negative numbers are not spoken")
    integer = int(value)
    frac = value - integer
    say = _en_int if locale == "en" else _ko_int
    words = say(integer)
    if frac:
        digits = str(frac.normalize()).split(".")[1]
        words += [point] + [
            (_EN_ONES[int(d)] if locale == "en" else _KO_DIGITS[int(d)]) for d in digits
        ]
    return tuple(words)


def grid(lo: float, hi: float) -> list[Decimal]:
    """The spoken values of ``[lo, hi]``: the finest step of :data:`STEPS` that stays small."""
    dlo, dhi = Decimal(str(lo)), Decimal(str(hi))
    finest = Decimal(1) if dhi - dlo >= 10 else STEPS[0]
    for step in (s for s in STEPS if s >= finest):
        first = (dlo / step).to_integral_value(rounding="ROUND_CEILING") * step
        count = int((dhi - first) / step) + 1
        if count <= MAX_VALUES:
            return [first + i * step for i in range(count) if first + i * step >= 0]
    return [dlo, dhi]
