"""Personal data detectors of the compliance pack: payment cards (Luhn) and US social security numbers.

Phone numbers and e-mail addresses are found by `salesboost.pii`, which masking uses too. Each detector
returns `(start, end)` spans; `mask_pii` renders a span masked for `safe_rewrite`. They validate, not just
pattern-match: a 16-digit order number that fails the Luhn check is not a card, an SSN with area 000, 666
or 9xx is not an SSN, and phone numbers must be valid for their region (libphonenumber).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from salesboost.pii import Span, mask_email

# 13 to 19 digits, optionally grouped by single spaces or dashes, not glued to other digits or letters.
_CARD = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w-]|\.\d)")
# Separated SSN (123-45-6789 or 123 45 6789), or nine bare digits right after an SSN cue.
_SSN = re.compile(r"(?<![\w-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w-])")
_SSN_CUED = re.compile(
    r"\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?)\s*(?:is|:|#|number)?\s*(?<!\d)(\d{3})(\d{2})(\d{4})(?!\d)",
    re.IGNORECASE,
)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def find_cards(text: str) -> Iterator[Span]:
    for match in _CARD.finditer(text):
        digits = _digits(match.group(0))
        # Issuer prefixes: Visa 4, Mastercard 2/5, Amex 3, Discover/UnionPay 6; all others are not cards.
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits) and len(set(digits)) > 1:
            yield match.span()


def _ssn_valid(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def find_ssns(text: str) -> Iterator[Span]:
    for match in _SSN.finditer(text):
        if _ssn_valid(match.group(1), match.group(3), match.group(4)):
            yield match.span()
    for match in _SSN_CUED.finditer(text):
        if _ssn_valid(match.group(1), match.group(2), match.group(3)):
            yield match.start(1), match.end(3)


def mask_pii(kind: str, value: str) -> str:
    """The value masked so that it can be recognised but not used: last digits or first letter kept."""
    if kind == "email":
        return mask_email(value)
    digits = _digits(value)
    if kind == "card":
        return "**** **** **** " + digits[-4:]
    if kind == "ssn":
        return "***-**-" + digits[-4:]
    return "***-***-" + digits[-4:]
