"""Recipient numbers for texts: E.164 as the CRM reads them, plus the NANP numbers reserved for fiction.

The North American Numbering Plan keeps area code 555 and the exchange 555-0100 to 555-0199 of every area code
for films, books and documentation: they reach nobody. `phonenumbers` calls some of them invalid (area code 555
is not assigned), so they are recognised here first. The log provider (which texts nobody) accepts them, marked
`test_number`; a real provider refuses them, as texting one would fail at the carrier anyway.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from salesboost.sales.crm.phones import InvalidPhoneError, to_e164

_FICTIONAL_NANP = re.compile(r"^\+1(?:555\d{7}|\d{3}55501\d{2})$")


def is_fictional(e164: str) -> bool:
    """True for a reserved fictional NANP number (+1 555 xxx xxxx, or +1 aaa 555 01xx)."""
    return _FICTIONAL_NANP.match(e164) is not None


def recipient_e164(raw: str, default_region: str) -> str:
    """`raw` in E.164 form, a fictional NANP number included (`InvalidPhoneError` says why not)."""
    try:
        number = phonenumbers.parse(raw.strip(), default_region)
    except NumberParseException:
        number = None
    if number is not None and number.country_code == 1:
        candidate = str(phonenumbers.format_number(number, PhoneNumberFormat.E164))
        if is_fictional(candidate):
            return candidate
    return to_e164(raw, default_region)


__all__ = ["InvalidPhoneError", "is_fictional", "recipient_e164"]
