"""How many SMS segments a text costs: GSM 03.38 (7-bit) when every character allows it, else UCS-2.

GSM-7: 160 septets in a single segment, 153 per part of a concatenated message (the user data header takes
the rest); a character of the extension table costs two septets (escape + code) and is never split across
parts. UCS-2: 70 code units single, 67 per part; a character outside the Basic Multilingual Plane is a
surrogate pair (two units) and is never split either. The tables are the standard's, not configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
# (units in a single segment, units per part of a longer message)
_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True, slots=True)
class SegmentCount:
    encoding: str
    segments: int
    characters: int
    units: int  # septets for GSM-7, 16-bit code units for UCS-2


def _costs(text: str) -> tuple[str, list[int]]:
    """The encoding and each character's cost in units of that encoding."""
    gsm: list[int] = []
    for char in text:
        if char in GSM7_BASIC:
            gsm.append(1)
        elif char in GSM7_EXTENSION:
            gsm.append(2)
        else:
            return UCS2, [2 if ord(c) > 0xFFFF else 1 for c in text]
    return GSM7, gsm


def count_segments(text: str) -> SegmentCount:
    """The encoding the text needs and the number of segments it is sent in."""
    encoding, costs = _costs(text)
    single, part = _LIMITS[encoding]
    units = sum(costs)
    if units <= single:
        return SegmentCount(encoding, 1, len(text), units)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return SegmentCount(encoding, segments, len(text), units)
