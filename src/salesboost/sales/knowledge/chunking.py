"""Turning a Markdown, text or PDF file into titled, heading-scoped chunks of bounded size.

A chunk never spans two sections, so its heading says where it comes from; a long section is cut at sentence
boundaries into windows of at most `max_chars`, each starting with about `overlap` characters of the one
before, so that a sentence cut at a boundary is still found whole in one chunk.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = frozenset({".md", ".markdown", ".txt", ".pdf"})
CHUNKER_VERSION = "2"
DEFAULT_MAX_CHARS = 1200
DEFAULT_OVERLAP = 200

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.+?)[\"']?\s*$", re.MULTILINE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


class DocumentError(ValueError):
    """A file that cannot be read as a document (a corrupt PDF, undecodable text)."""


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    text: str


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    title: str
    sections: tuple[Section, ...]


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int
    heading: str
    content: str


def content_hash(data: bytes, max_chars: int = DEFAULT_MAX_CHARS, overlap: int = DEFAULT_OVERLAP) -> str:
    """Hash of the file and of how it is chunked: a change to either re-ingests the file."""
    digest = hashlib.sha256(data)
    digest.update(f"|chunker={CHUNKER_VERSION}|{max_chars}|{overlap}".encode())
    return digest.hexdigest()


def humanize(stem: str) -> str:
    """A title from a file name: `pricing-policy_v2` becomes `Pricing policy v2`."""
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else stem


def parse_document(path: Path, data: bytes) -> ParsedDocument:
    """Title and sections of a file, by its suffix."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _parse_pdf(data, humanize(path.stem))
    text = _decode(data)
    if suffix in (".md", ".markdown"):
        return parse_markdown(text, humanize(path.stem))
    return _parse_text(text, humanize(path.stem))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_markdown(text: str, fallback_title: str) -> ParsedDocument:
    """Sections by heading; a section's heading is its path under the title ("Discounts > Approval")."""
    title = None
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_TITLE.search(front.group(1))
        title = found.group(1) if found else None
        text = text[front.end() :]
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    body: list[str] = []
    in_fence = False

    def flush() -> None:
        content = "\n".join(body).strip()
        if content:
            # The document's own H1 is its title, not part of the heading path.
            path = " > ".join(h for level, h in stack if not (level == 1 and h == title))
            sections.append(Section(path or title or fallback_title, content))
        body.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading is None:
            body.append(line)
            continue
        flush()
        level, name = len(heading.group(1)), heading.group(2).strip()
        if title is None and level == 1:
            title = name
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, name))
    flush()
    return ParsedDocument(title or fallback_title, tuple(sections))


def _parse_text(text: str, fallback_title: str) -> ParsedDocument:
    """Plain text: the first line is the title when it is short, the rest one section."""
    lines = text.strip().splitlines()
    title = fallback_title
    if len(lines) > 1 and 0 < len(lines[0].strip()) <= 100:
        title, lines = lines[0].strip(), lines[1:]
    body = "\n".join(lines).strip()
    return ParsedDocument(title, (Section(title, body),) if body else ())


def _parse_pdf(data: bytes, fallback_title: str) -> ParsedDocument:
    """One section per page with text; the title from the PDF's metadata when it has one."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise DocumentError(f"not a readable PDF: {exc}") from None
    title = meta_title.strip() or fallback_title
    sections = tuple(
        Section(f"{title} (page {number})", text.strip())
        for number, text in enumerate(pages, start=1)
        if text.strip()
    )
    return ParsedDocument(title, sections)


def chunk_document(
    document: ParsedDocument, max_chars: int = DEFAULT_MAX_CHARS, overlap: int = DEFAULT_OVERLAP
) -> list[Chunk]:
    """The document's chunks, numbered in reading order."""
    if not 0 <= overlap < max_chars:
        raise ValueError("overlap must be at least 0 and smaller than max_chars")
    chunks: list[Chunk] = []
    for section in document.sections:
        for window in _windows(_units(section.text, max_chars), max_chars, overlap):
            chunks.append(Chunk(len(chunks), section.heading, window))
    return chunks


def _units(text: str, max_chars: int) -> list[str]:
    """Sentences (paragraph ends kept as a blank line), none longer than max_chars."""
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if units:
            units[-1] += "\n\n"
        for sentence in _SENTENCE.split(paragraph):
            units.extend(_hard_split(sentence, max_chars))
    return units


def _hard_split(sentence: str, max_chars: int) -> Iterator[str]:
    """A sentence longer than max_chars, cut between words (or anywhere, for a very long word)."""
    while len(sentence) > max_chars:
        cut = sentence.rfind(" ", 0, max_chars)
        cut = cut if cut > 0 else max_chars
        yield sentence[:cut]
        sentence = sentence[cut:].lstrip()
    if sentence:
        yield sentence


def _join(units: list[str]) -> str:
    out = ""
    for unit in units:
        out += unit if not out or out.endswith("\n\n") else " " + unit
    return out.strip()


def _windows(units: list[str], max_chars: int, overlap: int) -> Iterator[str]:
    start = 0
    while start < len(units):
        end, size = start, 0
        while end < len(units) and (end == start or size + len(units[end]) + 1 <= max_chars):
            size += len(units[end]) + 1
            end += 1
        yield _join(units[start:end])
        if end >= len(units):
            return
        # Back up over whole sentences worth at most `overlap` characters, always moving forward.
        back, carried = end, 0
        while back - 1 > start and carried + len(units[back - 1]) + 1 <= overlap:
            back -= 1
            carried += len(units[back]) + 1
        start = back
