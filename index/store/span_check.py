"""Are these paragraph and sentence spans a valid split of this body?

The build trusts spans it did not compute when they come from the passage cache
(cache/passages.json): a cache edited, restored from elsewhere or damaged in a way that is still
valid JSON could shift them, and every quote would then start or end mid-word. Before cached
spans are used they are checked against the body itself, in linear time:

- the paragraphs are exactly those split_blocks() finds (it is a regular expression: cheap),
  headings included, numbered from 1;
- the sentences of a paragraph lie inside it, in order, without overlap, trimmed of whitespace,
  with only whitespace between them, covering every word; and no sentence boundary falls
  inside a word (letters or digits on both sides with nothing between).

``index verify`` applies the same sentence checks to the index's own passage table
(store.cache.verify_spans_and_caches).
"""

from __future__ import annotations


def _inside_word(body: str, at: int) -> bool:
    """A boundary at ``at`` splits a word: letters or digits on both sides. A run of letters
    and digits longer than half a sentence window (no space to cut at: a pasted blob) is the
    one place the splitter itself cuts inside a "word"."""
    from ..corpus.passages import SENTENCE_WINDOW

    if not (0 < at < len(body) and body[at - 1].isalnum() and body[at].isalnum()):
        return False
    half, lo, hi = SENTENCE_WINDOW // 2, at, at
    while lo > 0 and at - lo <= half and body[lo - 1].isalnum():
        lo -= 1
    while hi < len(body) and hi - at <= half and body[hi].isalnum():
        hi += 1
    return hi - lo <= half


def sentences_ok(body: str, start: int, end: int, sentences) -> bool:
    """The sentence spans of the paragraph ``body[start:end]`` are a clean split of it."""
    if _inside_word(body, start) or _inside_word(body, end):
        return False
    pos = start
    for n, item in enumerate(sentences):
        if len(item) != 2:
            return False
        s, e = item
        if not (isinstance(s, int) and isinstance(e, int) and pos <= s < e <= end):
            return False
        if body[s].isspace() or body[e - 1].isspace() or body[pos:s].strip():
            return False
        if n and s == pos and _inside_word(body, s):
            return False
        pos = e
    return not body[pos:end].strip()


def cached_rows_ok(body: str, rows) -> bool:
    """Rows ``[paragraph, start, end, heading, sentences]`` (PassageCache) fit ``body``."""
    from ..corpus.passages import paragraph_blocks

    try:
        want = list(paragraph_blocks(body))
        if len(rows) != len(want):
            return False
        for row, (n, s, e, heading) in zip(rows, want):
            if list(row[:4]) != [n, s, e, heading]:
                return False
            if not sentences_ok(body, s, e, [tuple(x) for x in row[4]]):
                return False
    except (TypeError, ValueError, IndexError):
        return False
    return True


def bad_passages(store, limit: int = 5) -> list[str]:
    """Ids of passages of a loaded index whose sentence spans are not a clean split."""
    bad = []
    for p in store.passages:
        body = store.article_by_id[p.article_id].body
        if not (0 <= p.start < p.end <= len(body)) or \
                not sentences_ok(body, p.start, p.end, p.sentences):
            bad.append(p.id)
            if len(bad) >= limit:
                break
    return bad

