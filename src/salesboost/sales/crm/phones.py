"""Phone numbers: parsed and validated with `phonenumbers`, stored and compared in E.164 form only."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code (write it as +<country code><number>)",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_POSSIBLE_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.INVALID_LENGTH: "wrong length for its country",
    ValidationResult.TOO_LONG: "too long",
}


class InvalidPhoneError(ValueError):
    """The reason a number was refused, phrased for the caller (`SMS_INVALID_PHONE`, `TOOL_INPUT_INVALID`)."""


def to_e164(raw: str, default_region: str) -> str:
    """`raw` in E.164 form; national numbers are read in `default_region` (an ISO 3166 code such as US)."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneError("empty phone number")
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException as exc:
        raise InvalidPhoneError(_PARSE_REASONS.get(exc.error_type, str(exc))) from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible not in (ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        raise InvalidPhoneError(_POSSIBLE_REASONS.get(possible, "not a possible number"))
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number) or default_region
        raise InvalidPhoneError(f"not a valid number in region {region}")
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))
