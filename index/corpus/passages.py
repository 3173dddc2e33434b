"""Passages (paragraphs) and sentences, each with character offsets into the article body."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .articles import Article

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_LINE = re.compile(r"\n")
_TERMINAL = tuple('.!?:;"”’)»…')
HEADING_MAX_WORDS = 12


@dataclass
class Passage:
    """A paragraph of an article: ``body[start:end]``, its sentences and the heading above it."""

    id: str
    article_id: str
    paragraph: int
    start: int
    end: int
    sentences: list[tuple[int, int]] = field(default_factory=list)
    heading: str | None = None


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # a rule-based segmenter that knows abbreviations such as "U.S." and "A."

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_blocks(body: str) -> list[tuple[int, int]]:
    """Paragraph spans: blank-line separated when the body has blank lines, else one per line."""
    sep = _BLANK_LINE if _BLANK_LINE.search(body) else _LINE
    spans, pos = [], 0
    for m in sep.finditer(body):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(body)))
    out = []
    for s, e in spans:
        s, e = _strip_span(body, s, e)
        if e > s:
            out.append((s, e))
    return out


def is_heading(text: str) -> bool:
    """A short line without sentence punctuation at its end is a section heading."""
    if text.startswith("#"):
        return True
    return (len(text.split()) <= HEADING_MAX_WORDS and "\n" not in text
            and not text.rstrip().endswith(_TERMINAL))


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (shifted by ``offset``), whitespace trimmed, covering all words."""
    spans = []
    for span in _segmenter().segment(text):
        s, e = _strip_span(text, span.start, span.end)
        if e > s:
            spans.append((s + offset, e + offset))
    if not spans and text.strip():
        s, e = _strip_span(text, 0, len(text))
        spans = [(s + offset, e + offset)]
    return spans


def make_passages(article: Article) -> list[Passage]:
    """Split an article into passages; ids are ``<article id>:p<n>`` over text paragraphs."""
    passages, heading, n = [], None, 0
    body = article.body
    for start, end in split_blocks(body):
        text = body[start:end]
        if is_heading(text):
            heading = text.lstrip("#").strip()
            continue
        n += 1
        passages.append(Passage(id=f"{article.id}:p{n}", article_id=article.id, paragraph=n,
                                start=start, end=end, sentences=split_sentences(text, start),
                                heading=heading))
    return passages


def passage_text(article: Article, passage: Passage) -> str:
    """What is embedded and indexed for a passage: the title and heading give it context."""
    head = f"{article.title}. {passage.heading}." if passage.heading else f"{article.title}."
    return f"{head}\n{article.body[passage.start:passage.end]}"
