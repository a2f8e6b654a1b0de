"""Write the demo knowledge base's PDF (a plain-text PDF built by hand, byte-for-byte reproducible).

    .venv/bin/python scripts/make_demo_pdf.py            # rewrites the committed PDF
    .venv/bin/python scripts/make_demo_pdf.py --check    # exits 1 when the committed PDF differs

Its text lives in data/demo/pdf-sources/implementation-timeline.txt (outside the ingested folder): the first
line is the title, a line "--- page ---" starts a new page. Only ASCII is used, so the standard Helvetica font
renders it.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "demo" / "pdf-sources" / "implementation-timeline.txt"
TARGET = ROOT / "data" / "demo" / "knowledge" / "onboarding" / "implementation-timeline.pdf"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(title: str, pages: list[list[str]]) -> bytes:
    """A valid PDF with one page per list of lines (Helvetica 11 pt, A4-ish Letter), and a /Title."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for pid, lines in zip(page_ids, pages, strict=True):
        body = "BT /F1 11 Tf 14 TL 72 740 Td\n" + "".join(f"({_escape(line)}) Tj T*\n" for line in lines) + "ET"
        stream = body.encode("ascii")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {pid + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info_id = len(objects) + 1
    objects.append(f"<< /Title ({_escape(title)}) /Producer (salesboost make_demo_pdf) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def pages_from_text(text: str, width: int = 90, lines_per_page: int = 48) -> tuple[str, list[list[str]]]:
    """Title (the first line) and pages: a line "--- page ---" starts a new page; long lines wrap."""
    title, _, rest = text.partition("\n")
    pages: list[list[str]] = []
    for block in rest.split("\n--- page ---\n"):
        lines: list[str] = []
        for line in block.rstrip("\n").splitlines():
            lines.extend(textwrap.wrap(line, width) or [""])
        for start in range(0, max(len(lines), 1), lines_per_page):
            pages.append(lines[start : start + lines_per_page])
    return title.strip(), pages


def build() -> bytes:
    title, pages = pages_from_text(SOURCE.read_text(encoding="ascii"))
    return text_pdf(title, pages)


def main() -> int:
    data = build()
    if "--check" in sys.argv[1:]:
        same = TARGET.exists() and TARGET.read_bytes() == data
        print("up to date" if same else f"{TARGET} differs from its source; run scripts/make_demo_pdf.py")
        return 0 if same else 1
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_bytes(data)
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
