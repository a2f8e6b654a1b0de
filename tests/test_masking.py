from __future__ import annotations

from salesboost.masking import mask, preview


def test_masks_phones_emails_and_secrets() -> None:
    text = 'call +1 (415) 555-0100 or 4155550199, mail jane.doe@example.com, {"api_key": "sk-123456"}'
    masked = mask(text)
    assert "555-0100" not in masked
    assert "4155550199" not in masked
    assert "jane.doe@example.com" not in masked
    assert "sk-123456" not in masked
    assert "+***00" in masked
    assert "j***@example.com" in masked


def test_keeps_ordinary_numbers() -> None:
    assert mask("order 12345 costs 99.50 in 2026") == "order 12345 costs 99.50 in 2026"


def test_preview_is_one_line_and_bounded() -> None:
    out = preview("a\n" * 200)
    assert len(out) == 100
    assert "\n" not in out
    assert out.endswith("…")
