"""PDF: text with pypdf, paragraphs rebuilt from its lines, hyphenation at line ends undone."""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from pathlib import Path

from ..errors import IngestError
from ..text import clean_paragraph
from .draft import (
    Draft,
    body_from_paragraphs,
    drop_leading_title,
    title_from_text,
    word_count,
)

_TERMINAL = tuple('.!?:;"”’)»…')
_PAGE_NUMBER = re.compile(r"^\s*[-–—]?\s*(page\s+)?\d+(\s*(/|of)\s*\d+)?\s*[-–—]?\s*$", re.I)
_LINE_END_HYPHEN = re.compile(r"([^\W\d_]+)-$")
_FIRST_WORD = re.compile(r"[^\W\d_]+")
_HYPHENATED = re.compile(r"\b([^\W\d_]+-[^\W\d_]+)\b")
_JUNK_TITLE = re.compile(r"^(untitled|microsoft word|document\d*$)|\.(docx?|pdf|odt|rtf)$", re.I)


def _page_lines(page) -> list[str]:
    """A page's lines; layout mode keeps vertical gaps as blank lines (paragraph breaks)."""
    try:
        text = page.extract_text(extraction_mode="layout")
    except Exception:  # noqa: BLE001 - layout mode fails on some fonts; plain mode still reads
        text = page.extract_text() or ""
    return [ln.rstrip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def _edge_lines(page: list[str]) -> list[int]:
    body = [i for i, ln in enumerate(page) if ln.strip()]
    return [body[0], body[-1]] if body else []


def drop_running_heads(pages: list[list[str]]) -> list[list[str]]:
    """Drop page numbers, and headers or footers repeated at the top or bottom of most pages."""
    def shape(line):
        return re.sub(r"\d+", "#", " ".join(line.split()).lower())

    repeated = set()
    if len(pages) >= 2:
        counts = Counter(shape(p[i]) for p in pages for i in set(_edge_lines(p)))
        repeated = {s for s, n in counts.items() if n >= max(2, 0.6 * len(pages))}
    out = []
    for page in pages:
        edges = set(_edge_lines(page))
        kept = [ln for i, ln in enumerate(page)
                if not (i in edges and (_PAGE_NUMBER.match(ln) or shape(ln) in repeated))]
        while kept and not kept[-1].strip():  # the gap above a footer is no paragraph break
            kept.pop()
        while kept and not kept[0].strip():
            kept.pop(0)
        out.append(kept)
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def group_paragraphs(pages: list[list[str]]) -> list[list[str]]:
    """Lines grouped into paragraphs: a break at a blank line, a first-line indent, or after
    a short line; a paragraph that runs on at the end of a page continues on the next."""
    lengths = sorted(len(ln.strip()) for p in pages for ln in p if ln.strip())
    if not lengths:
        return []
    full = lengths[int(0.9 * (len(lengths) - 1))]  # the width of a full line, in characters
    paragraphs: list[list[str]] = []
    cur: list[str] = []
    for page in pages:
        margin = min((_indent(ln) for ln in page if ln.strip()), default=0)
        new_page = True
        for line in page:
            text = line.strip()
            if not text:
                if cur:
                    paragraphs.append(cur)
                cur = []
                continue
            if cur:
                prev = cur[-1]
                if prev.endswith("-"):
                    brk = False
                elif new_page:
                    brk = prev.endswith(_TERMINAL)
                else:
                    brk = len(prev) < 0.7 * full or _indent(line) - margin >= 2
                if brk:
                    paragraphs.append(cur)
                    cur = []
            cur.append(text)
            new_page = False
    if cur:
        paragraphs.append(cur)
    return paragraphs


def join_lines(lines: list[str], hyphenated: set[str]) -> str:
    """One paragraph from its lines; "chan-" + "nel" is "channel", but "long-" + "term" stays
    "long-term" when the document writes "long-term" elsewhere."""
    out = lines[0]
    for nxt in lines[1:]:
        head = _LINE_END_HYPHEN.search(out)
        tail = _FIRST_WORD.match(nxt)
        if out.endswith("\u00ad"):
            out = out[:-1] + nxt
        elif head and tail and nxt[:1].islower():
            word = f"{head.group(1)}-{tail.group(0)}".lower()
            out = out + nxt if word in hyphenated else out[:-1] + nxt
        else:
            out = f"{out} {nxt}"
    return out


def _meta(reader, key: str) -> str | None:
    try:
        value = (reader.metadata or {}).get(key)
    except Exception:  # noqa: BLE001 - a damaged info dictionary is no reason to fail
        return None
    value = clean_paragraph(str(value)) if value else ""
    return value or None


def extract_pdf(data: bytes, origin: str) -> Draft:
    """The text of a PDF as paragraphs; title from its metadata or first line; author if set.

    The PDF's creation date is when the file was made, not when the article was published:
    it is not used as the date.
    """
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(f"{origin}: the PDF is encrypted (decrypt it first)")
        pages = [_page_lines(p) for p in reader.pages]
    except IngestError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever pypdf raised, the file is not usable
        raise IngestError(f"{origin}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    pages = drop_running_heads(pages)
    # Hyphenated words written inside a line (not split at its end) are real compounds.
    inline = " ".join(_LINE_END_HYPHEN.sub("", ln.strip()) for p in pages for ln in p)
    hyphenated = {w.lower() for w in _HYPHENATED.findall(inline)}
    paragraphs = [join_lines(g, hyphenated) for g in group_paragraphs(pages)]
    if word_count(" ".join(paragraphs)) < 3:
        raise IngestError(f"{origin}: the PDF has no text layer (a scan? run OCR on it first)")
    title = _meta(reader, "/Title")
    if title and _JUNK_TITLE.search(title):
        title = None
    if title:
        paragraphs = drop_leading_title(paragraphs, title)
    else:
        title = title_from_text(paragraphs, Path(origin).stem)
        paragraphs = drop_leading_title(paragraphs, title)
    body = body_from_paragraphs(paragraphs)
    if not body:
        raise IngestError(f"{origin}: the PDF holds a title but no text")
    return Draft(title=title, body=body, author=_meta(reader, "/Author"), origin=origin)
