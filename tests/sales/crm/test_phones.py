"""Phone parsing: E.164 out, national numbers in the default region, a reason for every refusal."""

from __future__ import annotations

import pytest

from salesboost.sales.crm.phones import InvalidPhoneError, to_e164


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+1 (415) 555-0101", "US", "+14155550101"),
        ("415.555.0101", "US", "+14155550101"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("030 23125 000", "DE", "+493023125000"),
        ("0044 20 7946 0958", "DE", "+442079460958"),
    ],
)
def test_to_e164(raw: str, region: str, e164: str) -> None:
    assert to_e164(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("hello", "not a phone number"),
        ("12", "too short"),
        ("+999 1234 5678", "country code"),
        ("+1 415 555 01011234567", "too long"),
        ("+1 099 555 0101", "not a valid number"),
    ],
)
def test_refusals_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneError, match=reason):
        to_e164(raw, "US")
