"""HTML: a web page's main text and metadata with trafilatura; HTML fragments (feeds) to text."""

from __future__ import annotations

import logging
import re

from ..errors import IngestError
from ..text import clean_paragraph
from .draft import (
    Draft,
    body_from_paragraphs,
    drop_leading_title,
    normalize_date,
    paragraphs_of_text,
    title_from_text,
    word_count,
)

_LANG = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)",
                   re.I)
# Block-level tags: each starts and ends a paragraph of the fragment's text.
_BLOCKS = {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
           "pre", "table", "tr", "section", "article", "header", "footer", "figure",
           "figcaption", "dd", "dt", "dl", "hr", "aside", "main", "address"}
_SKIP = {"script", "style", "noscript", "template", "iframe", "object", "svg", "head", "title"}
MIN_WORDS = 3  # fewer words than this is no article (a page of menus, an error page)


def page_language(data: bytes) -> str | None:
    """The page's declared language, ``<html lang="en">``."""
    m = _LANG.search(data[:20_000])
    return m.group(1).decode("ascii").lower() if m else None


def extract_page(data: bytes, origin: str, url: str | None = None) -> Draft:
    """The article of a saved (or fetched) web page: main text, title, site, date, author, URL.

    Menus, ads, related links and the comment section are dropped by trafilatura. Dates come
    from the page's markup only (meta tags, <time>, structured data), never from its prose.
    """
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    if not data.strip():
        raise IngestError(f"{origin}: the file is empty")
    try:
        doc = trafilatura.bare_extraction(
            data, url=url, with_metadata=True, include_comments=False, include_tables=False,
            date_extraction_params={"extensive_search": False, "original_date": True})
    except Exception as exc:  # noqa: BLE001 - any parser failure means "not a readable page"
        raise IngestError(f"{origin}: not a readable HTML page ({type(exc).__name__})") from exc
    text = getattr(doc, "text", None) or ""
    if word_count(text) < MIN_WORDS:
        raise IngestError(f"{origin}: no article text found in the page "
                          "(empty, or only menus and links)")
    paragraphs = paragraphs_of_text(text)
    title = clean_paragraph(doc.title or "") or None
    paragraphs = drop_leading_title(paragraphs, title)
    if not title:
        title = title_from_text(paragraphs, "")
        paragraphs = drop_leading_title(paragraphs, title)
    body = body_from_paragraphs(paragraphs)
    if not body:
        raise IngestError(f"{origin}: no article text found besides the headline")
    return Draft(title=title or None, body=body, source=clean_paragraph(doc.sitename or "") or None,
                 published=normalize_date(doc.date), url=doc.url or url,
                 language=page_language(data), author=clean_paragraph(doc.author or "") or None,
                 origin=origin)


def fragment_paragraphs(fragment: str) -> list[str]:
    """The text of an HTML fragment (a feed entry's content), one item per block element."""
    from lxml import etree, html

    if not fragment or not fragment.strip():
        return []
    try:
        root = html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return paragraphs_of_text(fragment)
    paragraphs: list[str] = []
    buf: list[str] = []

    def flush():
        # One <br> breaks a line inside the paragraph; two in a row end the paragraph.
        for part in re.split(r"\x00\s*\x00", "".join(buf)):
            text = clean_paragraph(part.replace("\x00", " "))
            if text:
                paragraphs.append(text)
        buf.clear()

    def walk(el):
        tag = el.tag.lower() if isinstance(el.tag, str) else None  # None: a comment
        if tag in _SKIP or tag is None:
            return
        if tag == "br":
            buf.append("\x00")
            return
        block = tag in _BLOCKS
        if block:
            flush()
        if el.text:
            buf.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                buf.append(child.tail)
        if block:
            flush()

    walk(root)
    flush()
    return paragraphs


def looks_like_html(text: str) -> bool:
    """Does this text carry HTML markup (a JSON export's or feed's body)?"""
    return bool(re.search(r"</?(p|div|br|span|a|b|i|em|strong|li|h[1-6])\b[^>]*>", text, re.I))
