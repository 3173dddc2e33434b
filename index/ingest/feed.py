"""Sources of many articles: RSS/Atom feeds (feedparser) and JSON Lines / JSON exports."""

from __future__ import annotations

import io
import json
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
from .html import fragment_paragraphs, looks_like_html

# One entry that cannot be used: (where, why). The other entries of the file still count.
Failure = tuple[str, str]
# An exported article is an object of fields, a few levels deep at most. Deeper nesting is
# refused before parsing (json's parser recurses: a line of 100,000 "[" is a RecursionError),
# so a hostile line fails alone and the rest of the file is still read.
MAX_JSON_DEPTH = 64
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')

# Field names used by common exports (news scrapers, CMS dumps) for each corpus field.
_FIELDS = {
    "title": ("title", "headline", "name"),
    "text": ("text", "body", "content", "maintext", "article", "full_text"),
    "url": ("url", "link", "canonical_url"),
    "published": ("published", "date", "published_at", "date_publish", "pubDate", "pub_date",
                  "publication_date", "datePublished"),
    "source": ("source", "sitename", "site_name", "outlet", "publisher", "source_domain"),
    "author": ("author", "authors", "byline"),
    "language": ("language", "lang"),
}


def _text_paragraphs(value: str, kind: str = "") -> list[str]:
    if "html" in kind or looks_like_html(value):
        return fragment_paragraphs(value)
    return paragraphs_of_text(value)


def _entry_text(entry) -> list[str]:
    """The entry's full content when the feed carries it, else its summary; HTML stripped."""
    contents = [c for c in entry.get("content") or [] if (c.get("value") or "").strip()]
    if contents:
        best = max(contents, key=lambda c: len(c.get("value") or ""))
        return _text_paragraphs(best["value"], best.get("type") or "")
    detail = entry.get("summary_detail") or {}
    return _text_paragraphs(entry.get("summary") or "", detail.get("type") or "text/html")


def extract_feed(data: bytes, origin: str) -> tuple[list[Draft], list[Failure]]:
    """Every entry of an RSS or Atom feed as an article; the feed's title is their source."""
    import feedparser

    parsed = feedparser.parse(io.BytesIO(data))  # a stream: feedparser never fetches it
    if not parsed.entries:
        if parsed.get("bozo") and not parsed.get("version"):
            reason = type(parsed.get("bozo_exception")).__name__
            raise IngestError(f"{origin}: not a readable RSS/Atom feed ({reason})")
        raise IngestError(f"{origin}: the feed has no entries")
    feed = parsed.feed
    source = clean_paragraph(feed.get("title") or "") or None
    drafts, failures = [], []
    for n, entry in enumerate(parsed.entries, 1):
        where = f"{origin}#{n}"
        paragraphs = _entry_text(entry)
        title = clean_paragraph(entry.get("title") or "") or title_from_text(paragraphs, "")
        paragraphs = drop_leading_title(paragraphs, title)
        body = body_from_paragraphs(paragraphs)
        if word_count(body) == 0:
            failures.append((where, f"the entry {title or n!r} has no text"))
            continue
        # The entry's own date as written (its time zone kept); `updated` when that is all.
        published = next((d for d in map(normalize_date, (
            entry.get("published"), entry.get("published_parsed"), entry.get("updated"),
            entry.get("updated_parsed"))) if d), None)
        language = (entry.get("content") or [{}])[0].get("language") or feed.get("language")
        drafts.append(Draft(title=title or None, body=body, source=source, published=published,
                            url=entry.get("link") or None, language=language or None,
                            author=clean_paragraph(entry.get("author") or "") or None,
                            origin=where))
    return drafts, failures


def _field(record: dict, name: str):
    for key in _FIELDS[name]:
        value = record.get(key)
        if isinstance(value, dict):  # {"name": "Reuters"} style
            value = value.get("name") or value.get("title")
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value if v)
        if value not in (None, ""):
            return value
    return None


def record_to_draft(record, where: str) -> Draft:
    """One exported article (a JSON object with at least its text) as a Draft."""
    if not isinstance(record, dict):
        raise IngestError(f"{where}: expected a JSON object with `title` and `text`")
    text = _field(record, "text")
    if not isinstance(text, str) or word_count(text) == 0:
        raise IngestError(f"{where}: the record has no `text`")
    paragraphs = _text_paragraphs(text)
    title = clean_paragraph(str(_field(record, "title") or "")) or title_from_text(paragraphs, "")
    paragraphs = drop_leading_title(paragraphs, title)
    body = body_from_paragraphs(paragraphs)
    if not body:
        raise IngestError(f"{where}: the record holds a title but no text")

    def opt(name):
        value = _field(record, name)
        return None if value is None else (clean_paragraph(str(value)) or None)

    return Draft(title=title or None, body=body, source=opt("source"),
                 published=normalize_date(_field(record, "published")), url=opt("url"),
                 language=opt("language"), author=opt("author"), origin=where)


def json_depth(text: str, stop: int = MAX_JSON_DEPTH) -> int:
    """How deeply ``text``'s arrays and objects nest (brackets inside strings do not count);
    counting stops past ``stop``. Linear: one regular-expression scan."""
    depth = deepest = 0
    for m in _JSON_TOKENS.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop:
                    break
        elif ch in "]}":
            depth -= 1
    return deepest


def _loads(text: str, where: str):
    """json.loads with the depth limit; IngestError for a too-deep document."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise IngestError(f"{where}: nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text)
    except RecursionError:
        raise IngestError(f"{where}: nested too deep to read") from None


def _decode(data: bytes, origin: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{origin}: not valid UTF-8 text (byte {exc.start})") from exc


def extract_json_lines(data: bytes, origin: str) -> tuple[list[Draft], list[Failure]]:
    """One article per line of a JSON Lines export; a bad line is reported, the rest kept."""
    drafts, failures = [], []
    for n, line in enumerate(_decode(data, origin).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{origin}:{n}"
        try:
            drafts.append(record_to_draft(_loads(line, where), where))
        except json.JSONDecodeError as exc:
            failures.append((where, f"not valid JSON ({exc.msg})"))
        except IngestError as exc:
            failures.append((where, str(exc).removeprefix(f"{where}: ")))
    if not drafts and not failures:
        raise IngestError(f"{origin}: the file is empty")
    return drafts, failures


def extract_json(data: bytes, origin: str) -> tuple[list[Draft], list[Failure]]:
    """A JSON export: one article object, a list of them, or {"articles": [...]}."""
    try:
        doc = _loads(_decode(data, origin), origin)
    except json.JSONDecodeError as exc:
        raise IngestError(f"{origin}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    if isinstance(doc, dict) and isinstance(doc.get("articles") or doc.get("items"), list):
        doc = doc.get("articles") or doc.get("items")
    records = doc if isinstance(doc, list) else [doc]
    drafts, failures = [], []
    for n, record in enumerate(records, 1):
        where = f"{origin}#{n}" if isinstance(doc, list) else origin
        try:
            drafts.append(record_to_draft(record, where))
        except IngestError as exc:
            failures.append((where, str(exc).removeprefix(f"{where}: ")))
    return drafts, failures
