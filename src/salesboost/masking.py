"""Masking of phone numbers, e-mail addresses and secrets in anything we log, audit or preview."""

from __future__ import annotations

import re
import unicodedata

from salesboost.pii import EMAIL, PHONE_LIKE, mask_email

_SECRET = re.compile(
    r"(?i)(\"?(?:api[_-]?key|token|secret|password|authorization|auth_token)\"?\s*[:=]\s*\"?)([^\s\",}]+)"
)


def _mask_phone(match: re.Match[str]) -> str:
    digits = [c for c in match.group(0) if c.isdigit()]
    return "+***" + "".join(digits[-2:]) if match.group(0).startswith("+") else "***" + "".join(digits[-2:])


# Each pattern tries every position of the text (the secret one costs about 0.1 µs a character), so what a match
# cannot do without is looked for first, in C: an "@" for an e-mail; for a secret, in a short ASCII text (a
# preview, a log line), one of its keywords in the lowered text (there the case-insensitive keywords match only
# ASCII letters). A long or non-ASCII text goes to the secret pattern directly, which runs in linear time.
_QUICK_LEN = 4096
# A phone-like match is, from its first digit on, seven or more characters of digits and separators: this
# pattern starts with a character class, which the regex engine skips through without trying a match at each
# position (a fifth of PHONE_LIKE's time on a JSON payload), and it holds for any text, ASCII or not.
_PHONE_HINT = re.compile(r"\d[\d\s().-]{6}")


def _may_name_secret(lowered: str) -> bool:
    return (
        "api" in lowered or "token" in lowered or "secret" in lowered or "password" in lowered
        or "authorization" in lowered
    )


def mask(text: str) -> str:
    """The text with e-mails, phone numbers and secret values masked, read as NFKC-normalised text (so that a
    number in full-width digits is a number, as the phone parser reads it)."""
    text = unicodedata.normalize("NFKC", text)
    quick = len(text) <= _QUICK_LEN and text.isascii()  # else any letter or digit may match: every pattern runs
    if not quick or _may_name_secret(text.lower()):
        text = _SECRET.sub(lambda m: m.group(1) + "***", text)
    if "@" in text:
        text = EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    if _PHONE_HINT.search(text) is None:
        return text
    return PHONE_LIKE.sub(_mask_phone, text)


# Longer than any address or number a preview's cut could split (an e-mail has at most 254 characters).
_MARGIN = 256


def preview(text: str, limit: int = 100) -> str:
    """Masked, on one line, at most `limit` characters. Only a bounded prefix is read: a preview of a megabyte
    costs what a preview of a line does."""
    masked = mask(" ".join(text[: limit + _MARGIN].split()))
    return masked if len(masked) <= limit else masked[: limit - 1] + "…"
