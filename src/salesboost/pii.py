"""Finding e-mail addresses and phone numbers in text: the one detector of each, for masking and compliance.

Masking (logs, audit, previews) hides anything phone-like, fast and without a region; the compliance pack
flags only numbers valid for their region (libphonenumber). Both find e-mail addresses the same way.

Each pattern runs in time linear in the text: an e-mail match may only start where a run of address
characters starts, so a long run without `@` is scanned once rather than once from every position in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers

Span = tuple[int, int]

EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}\b")
# An optional +, then 7 or more digits with common separators between them, wherever the run of digits stands:
# glued to letters ("tel4155550123") or after a JSON escape ("\\n+14155550123") it is still a number. Run it on
# NFKC-normalised text, where full-width digits and separators are the ASCII ones.
PHONE_LIKE = re.compile(r"(?<!\d)\+?\d(?:[\s().-]{0,2}\d){6,}(?!\d)")


def find_emails(text: str) -> Iterator[Span]:
    for match in EMAIL.finditer(text):
        yield match.span()


def find_phones(text: str, region: str = "US") -> Iterator[Span]:
    """Numbers valid for their region (national ones read as numbers of `region`)."""
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        yield match.start, match.end


def mask_email(address: str) -> str:
    """`jane.doe@example.com` -> `j***@example.com`: the domain and the first letter stay recognisable."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"
