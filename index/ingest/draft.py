"""What every ingest format shares: the Draft article, plain-text paragraphs, dates, dedup keys."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
import time
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..text import clean_paragraph

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
# Invisible characters that only break words apart (soft hyphen, zero-width space, BOM).
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[T ]\d)")
_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
# 20240314, and PDF dates such as D:20240314120000Z
_COMPACT = re.compile(r"^(?:D:)?((?:19|20)\d{2})(\d{2})(\d{2})(?:\d{0,6}.*)?$")
_WRITTEN = ("%B %d, %Y", "%b %d, %Y", "%b. %d, %Y", "%d %B %Y", "%d %b %Y", "%B %d %Y",
            "%A, %B %d, %Y", "%A %d %B %Y")
_TRACKING = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|ref|cmpid)$", re.I)


@dataclass
class Draft:
    """An article taken from a source, before it gets its id and file in the corpus."""

    title: str | None
    body: str
    source: str | None = None
    published: str | None = None
    url: str | None = None
    language: str | None = None
    author: str | None = None
    origin: str = ""              # where it came from: a path, path#entry-2, path:line 3, a URL
    extra: dict = field(default_factory=dict)
    raw: str | None = None        # a .md file's own text, copied as it is when nothing changes
    explicit_id: str | None = None  # an `id:` from a .md front matter


def body_from_paragraphs(paragraphs) -> str:
    """The corpus body form: plain paragraphs separated by one blank line, ending in a newline."""
    kept = [p for p in (clean_paragraph(x) for x in paragraphs) if p]
    return "\n\n".join(kept) + "\n" if kept else ""


def paragraphs_of_text(text: str) -> list[str]:
    """Paragraphs of plain text: blank-line separated when it has blank lines, else one a line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return [p for p in parts if p.strip()]


def drop_leading_title(paragraphs: list[str], title: str | None) -> list[str]:
    """Pages often repeat the headline as the first line of the text: keep it once, as title."""
    if paragraphs and title and clean_paragraph(paragraphs[0]).casefold() == \
            clean_paragraph(title).casefold():
        return paragraphs[1:]
    return paragraphs


def title_from_text(paragraphs: list[str], fallback: str) -> str:
    """A headline-like first paragraph (short, no full stop) as title; else ``fallback``."""
    if paragraphs:
        first = clean_paragraph(paragraphs[0])
        if 0 < len(first) <= 200 and len(first.split()) <= 25 and not first.endswith("."):
            return first
    return fallback


def word_count(text: str) -> int:
    return len(re.findall(r"\w+", text))


# -- dates ---------------------------------------------------------------------------------
def _ymd(y, m, d) -> str | None:
    try:
        return dt.date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def normalize_date(value) -> str | None:
    """An ISO ``YYYY-MM-DD`` for a full date in a common form; None when the day is not known.

    Never guesses: "March 2024", "yesterday" or an unreadable string give None, so no
    article gets a date its source did not state.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, time.struct_time):
        return _ymd(value.tm_year, value.tm_mon, value.tm_mday)
    text = " ".join(str(value).split())
    for pattern in (_ISO, _SLASHED, _COMPACT):
        m = pattern.match(text)
        if m:
            return _ymd(*m.groups())
    try:  # RFC 822 / 2822, as RSS writes dates: the day as written, in its own time zone
        parsed = email.utils.parsedate_to_datetime(text)
        if parsed is not None:
            return parsed.date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    for fmt in _WRITTEN:
        try:
            return dt.datetime.strptime(cleaned, fmt).date().isoformat()
        except ValueError:
            continue
    return None


# -- duplicate detection -------------------------------------------------------------------
def url_key(url: str | None) -> str | None:
    """The same page under small spelling differences: scheme, www., trailing /, tracking."""
    if not url or not str(url).strip():
        return None
    parts = urlsplit(str(url).strip())
    if not parts.netloc:
        return str(url).strip()
    host = parts.netloc.lower().removeprefix("www.")
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING.match(k)))
    path = parts.path.rstrip("/")
    return f"{host}{path}" + (f"?{query}" if query else "")


def text_key(body: str) -> str:
    """The same text whatever its spacing, case, punctuation or line breaks."""
    words = re.findall(r"\w+", unicodedata.normalize("NFKC", body).casefold())
    return hashlib.sha256(" ".join(words).encode()).hexdigest()
