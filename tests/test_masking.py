from __future__ import annotations

import timeit
import unicodedata

import pytest

from salesboost.masking import mask, preview
from salesboost.pii import find_emails


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


def test_masks_addresses_the_compliance_pack_also_finds() -> None:
    text = "mail jürgen.müller@bücher.de, sarah@contoso.co.uk or ops+alerts@example.io; not user@host"
    assert mask(text) == "mail j***@bücher.de, s***@contoso.co.uk or o***@example.io; not user@host"
    assert [text[a:b] for a, b in find_emails(text)] == [
        "jürgen.müller@bücher.de", "sarah@contoso.co.uk", "ops+alerts@example.io"
    ]


@pytest.mark.parametrize(
    "shape",
    ["a", "a.", "a@", "1-", "(1"],
    ids=["word-run", "dotted-run", "at-run", "dashed-digits", "bracketed-digits"],
)
def test_masking_time_grows_linearly(shape: str) -> None:
    # A long run of word characters without "@" once made the e-mail pattern backtrack from every position:
    # 80,000 characters took seconds. Linear time means five times the text takes about five times as long.
    def seconds(length: int) -> float:
        text = shape * (length // len(shape)) + "a"
        return min(timeit.repeat(lambda: mask(text), number=1, repeat=3))

    small, large = seconds(200_000), seconds(1_000_000)
    assert large / small < 10, (small, large)


def test_preview_reads_a_bounded_prefix_of_a_huge_text() -> None:
    """A 10 MB payload previews as fast as a line does (it used to be masked whole, on the event loop)."""
    small, huge = "a b " * 50, "a b " * 2_500_000
    small_s = min(timeit.repeat(lambda: preview(small), number=200, repeat=5))
    huge_s = min(timeit.repeat(lambda: preview(huge), number=200, repeat=5))
    assert huge_s < small_s * 20


def test_a_number_cut_by_the_preview_is_masked_not_shown_in_part() -> None:
    text = "x" * 90 + " call +1 415 555 0123 or mail jane.doe@example.com " + "y" * 5000
    shown = preview(text)
    assert len(shown) <= 100
    assert "415" not in shown
    assert "555" not in shown


@pytest.mark.parametrize(
    "text",
    [
        '{"note": "call me\\n+14155550123"}',  # after a JSON-escaped newline, as an audit preview reads it
        "tel4155550123 today",  # glued to letters
        "call ４１５５５５０１２３",  # full-width digits
        "call ４１５－５５５－０１２３",  # full-width digits and hyphens
        "call 415\u3000555\u30000123",  # ideographic spaces
    ],
)
def test_masks_a_number_wherever_it_stands(text: str) -> None:
    masked = preview(text, 200)
    digits = "".join(c for c in unicodedata.normalize("NFKC", masked) if c.isdigit())
    assert "555" not in digits, masked
