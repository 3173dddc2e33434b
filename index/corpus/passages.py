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
# pysbd's time grows quadratically with the length of what it is given (a 1 MB paragraph
# without punctuation never finished): a longer paragraph is split in windows of at most this
# many characters, each ending at a space, so splitting is linear in the paragraph's length.
SENTENCE_WINDOW = 2000
# Embedding costs time by the token: a "sentence" longer than LONG_SENTENCE_CHARS (the model
# reads only about its first 1,000 characters anyway) is embedded from its first
# LONG_SENTENCE_HEAD characters, so a 1 MB run-on paragraph embeds in seconds, not minutes.
LONG_SENTENCE_CHARS = 1000
LONG_SENTENCE_HEAD = 200


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
    from pysbd.utils import TextSpan

    class Segmenter(pysbd.Segmenter):
        """pysbd's segmenter, its sentences found in the text by ``str.find`` instead of a
        regex compiled for each sentence: the same spans (tests/index/corpus/test_passages.py)
        in 0.6x the splitting time. Those compilations also pushed pysbd's own abbreviation
        patterns out of ``re``'s cache, so each was compiled again (docs/benchmarks.md)."""

        def sentences_with_char_spans(self, sentences):
            # pysbd: for each sentence, the first match of re.escape(sent) + r"\s*" (matches
            # taken left to right, not overlapping) that ends after the sentence before it.
            text, spans, prior = self.original_text, [], 0
            if not all(sentences):  # an empty "sentence" matches anywhere: pysbd's own way
                return super().sentences_with_char_spans(sentences)
            for sent in sentences:
                pos = 0
                while (start := text.find(sent, pos)) >= 0:
                    end = start + len(sent)
                    while end < len(text) and text[end].isspace():  # re's \s is str.isspace
                        end += 1
                    if end > prior:
                        spans.append(TextSpan(text[start:end], start, end))
                        prior = end
                        break
                    pos = end
            return spans

    return Segmenter(language="en", clean=False, char_span=True)


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


def _window_end(text: str, start: int) -> int:
    """Where a window from ``start`` ends: after the last space of its second half, or at
    SENTENCE_WINDOW characters when that half has no space (a run of one 'word')."""
    end = start + SENTENCE_WINDOW
    for i in range(end - 1, start + SENTENCE_WINDOW // 2, -1):
        if text[i].isspace():
            return i
    return end


def _segment(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    for span in _segmenter().segment(text[start:end]):
        s, e = _strip_span(text, start + span.start, start + span.end)
        if e > s:
            spans.append((s, e))
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """pysbd's sentences of ``text``, in linear time: windows of SENTENCE_WINDOW characters.

    A window's last sentence may run past its end, so the next window starts at that sentence
    (when that still moves at least half a window on); a sentence longer than half a window is
    therefore cut at a space. Short texts (nearly every paragraph) are one window: pysbd's own
    answer.
    """
    if len(text) <= SENTENCE_WINDOW:
        return _segment(text, 0, len(text))
    spans, pos = [], 0
    while pos < len(text):
        if len(text) - pos <= SENTENCE_WINDOW:
            spans += _segment(text, pos, len(text))
            break
        cut = _window_end(text, pos)
        found = _segment(text, pos, cut)
        if len(found) > 1 and found[-1][0] - pos >= SENTENCE_WINDOW // 2:
            spans += found[:-1]
            pos = found[-1][0]
        else:
            spans += found
            pos = cut
    return spans


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (shifted by ``offset``), whitespace trimmed, covering all words."""
    spans = [(s + offset, e + offset) for s, e in sentence_spans(text)]
    if not spans and text.strip():
        s, e = _strip_span(text, 0, len(text))
        spans = [(s + offset, e + offset)]
    return spans


def sentence_embed_text(body: str, start: int, end: int) -> str:
    """What is embedded for the sentence ``body[start:end]`` (see LONG_SENTENCE_CHARS)."""
    if end - start <= LONG_SENTENCE_CHARS:
        return body[start:end]
    head = body[start:start + LONG_SENTENCE_HEAD]
    cut = head.rfind(" ")
    return head[:cut] if cut > LONG_SENTENCE_HEAD // 2 else head


def paragraph_blocks(body: str):
    """(paragraph number, start, end, heading above it) of each text paragraph of ``body``:
    headings are not counted, so citation ids ``<article id>:p<n>`` survive edits to them."""
    heading, n = None, 0
    for start, end in split_blocks(body):
        text = body[start:end]
        if is_heading(text):
            heading = text.lstrip("#").strip()
            continue
        n += 1
        yield n, start, end, heading


def make_passages(article: Article) -> list[Passage]:
    """Split an article into passages; ids are ``<article id>:p<n>`` over text paragraphs."""
    body = article.body
    return [Passage(id=f"{article.id}:p{n}", article_id=article.id, paragraph=n, start=start,
                    end=end, sentences=split_sentences(body[start:end], start), heading=heading)
            for n, start, end, heading in paragraph_blocks(body)]


def passage_text(article: Article, passage: Passage) -> str:
    """What is embedded and indexed for a passage: the title and heading give it context."""
    head = f"{article.title}. {passage.heading}." if passage.heading else f"{article.title}."
    return f"{head}\n{article.body[passage.start:passage.end]}"
