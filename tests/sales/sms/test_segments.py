"""SMS segment counting: GSM 03.38 with its extension table, UCS-2 with surrogate pairs, part boundaries."""

from __future__ import annotations

import pytest

from salesboost.sales.sms.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments


def test_the_tables_are_the_standards() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes, one of them the escape to the extension table
    assert set("\f^{}\\[~]|€") == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        ("", "GSM-7", 1, 0),
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 306, "GSM-7", 2, 306),
        ("a" * 307, "GSM-7", 3, 307),
        ("a" * 1530, "GSM-7", 10, 1530),
        ("€" * 80, "GSM-7", 1, 160),  # extension characters take two septets
        ("€" * 81, "GSM-7", 2, 162),
        ("a" * 152 + "€", "GSM-7", 1, 154),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 2, 164),  # the escape pair is not split: part one holds 152
        ("Grüße aus Köln, ¿qué tal? Ñoño @ 5£", "GSM-7", 1, 35),  # accented letters in the basic set
        ("ç", "UCS-2", 1, 1),  # only Ç is GSM-7
        ("Привет", "UCS-2", 1, 6),
        ("ж" * 70, "UCS-2", 1, 70),
        ("ж" * 71, "UCS-2", 2, 71),
        ("ж" * 134, "UCS-2", 2, 134),
        ("ж" * 135, "UCS-2", 3, 135),
        ("😀" * 35, "UCS-2", 1, 70),  # outside the BMP: a surrogate pair each
        ("😀" * 36, "UCS-2", 2, 72),
        ("ж" * 66 + "😀" + "ж" * 4, "UCS-2", 2, 72),
        ("Thanks 🙏 see you soon", "UCS-2", 1, 22),
    ],
)
def test_count_segments(text: str, encoding: str, segments: int, units: int) -> None:
    count = count_segments(text)
    assert (count.encoding, count.segments, count.units) == (encoding, segments, units)
    assert count.characters == len(text)


def test_a_pair_at_a_part_boundary_moves_to_the_next_part() -> None:
    # 66 units, then a surrogate pair: 68 units would overflow part one (67), so the pair starts part two.
    assert count_segments("ж" * 66 + "😀" + "ж" * 65).segments == 2
    assert count_segments("ж" * 66 + "😀" + "ж" * 66).segments == 3
