"""A cited passage shown in its article: `citebot source` and the bot's "in context" button."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..answer import ArticleRef
from ..errors import UnknownCitation
from ..store.store import IndexStore

# The last colon splits: article ids from front matter may hold colons themselves.
# At most 12 digits: no article is a terabyte long, and int() of thousands of digits fails.
_RANGE_ID = re.compile(r"^(?P<article>\S+):(?P<start>\d{1,12})-(?P<end>\d{1,12})$")
# Ids are printed as "[art:p3]" or "(art:120-240)": what was copied around them is dropped.
_ID_WRAPPING = " \t\r\n[]()<>`'\"“”‘’"


def _shown(text: str, room: int = 80) -> str:
    """A user's input quoted back in an error line: the middle of a long one left out."""
    return text if len(text) <= room else f"{text[:room - 20]}…{text[-19:]}"


@dataclass
class SourceView:
    """A cited passage with the paragraphs around it."""

    id: str
    article: ArticleRef
    paragraph: int | None
    text: str
    start: int
    end: int
    before: list[tuple[str, str]]  # (citation id, paragraph text)
    after: list[tuple[str, str]]

    def to_dict(self) -> dict:
        return {"id": self.id, "article": self.article.to_dict(), "paragraph": self.paragraph,
                "text": self.text, "start": self.start, "end": self.end,
                "before": [{"id": i, "text": t} for i, t in self.before],
                "after": [{"id": i, "text": t} for i, t in self.after]}


def source_view(store: IndexStore, citation_id: str, around: int = 1) -> SourceView:
    """``Citebot.source`` on a loaded store: only the cited article's passage rows are read."""
    cid = (citation_id or "").strip(_ID_WRAPPING)
    m = _RANGE_ID.match(cid)
    if m:
        article = store.article_by_id.get(m["article"])
        start, end = int(m["start"]), int(m["end"])
        if article is None or not (0 <= start < end <= len(article.body)):
            raise UnknownCitation(f"no such citation: {_shown(cid)!r}",
                                  fix="ids look like article-id:p3 or article-id:120-240")
        inside = [i for i in store.article_rows(article.id)
                  if store.passages[i].start < end and start < store.passages[i].end]
        idx = inside[0] if inside else None
        last = inside[-1] if inside else None  # a range may span paragraphs
    else:
        idx = store.passage_by_id.get(cid)
        if idx is None:
            raise UnknownCitation(f"no such citation: {_shown(cid)!r}",
                                  fix="ids look like article-id:p3; see `citebot ask`")
        article = store.article_by_id[store.passages[idx].article_id]
        start, end = store.passages[idx].start, store.passages[idx].end
        last = idx
    siblings = list(store.article_rows(article.id))
    pos = siblings.index(idx) if idx is not None else 0

    def _text(i):
        p = store.passages[i]
        return p.id, article.body[p.start:p.end]

    before = [_text(i) for i in siblings[max(0, pos - around):pos]] if idx is not None else []
    pos_last = siblings.index(last) if last is not None else 0
    after = ([_text(i) for i in siblings[pos_last + 1:pos_last + 1 + around]]
             if idx is not None else [])
    return SourceView(id=cid, article=ArticleRef(**article.meta()),
                      paragraph=store.passages[idx].paragraph if idx is not None else None,
                      text=article.body[start:end], start=start, end=end,
                      before=before, after=after)
