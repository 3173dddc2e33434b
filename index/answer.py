"""The one answer model every front end renders: an Answer holds Citations of Articles."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ArticleRef:
    """The citation fields of an article."""

    id: str
    title: str
    source: str | None = None
    published: str | None = None
    url: str | None = None

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "source": self.source,
                "published": self.published, "url": self.url}


@dataclass
class Citation:
    """A verbatim quote: ``quote == article body[start:end]``, from paragraph ``paragraph``."""

    id: str
    article: ArticleRef
    quote: str
    start: int
    end: int
    score: float
    paragraph: int
    also_in: list[ArticleRef] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {"id": self.id, "article": self.article.to_dict(), "quote": self.quote,
             "start": self.start, "end": self.end, "score": round(float(self.score), 4),
             "paragraph": self.paragraph}
        if self.also_in:
            d["also_in"] = [a.to_dict() for a in self.also_in]
        return d


@dataclass
class Answer:
    """What citebot says to a question: cited quotes, or ``answered=False`` for not found."""

    question: str
    answered: bool
    citations: list[Citation] = field(default_factory=list)
    more: list[Citation] = field(default_factory=list)  # further results ("More sources")
    context: str | None = None  # the earlier question a follow-up was read with
    confidence: float | None = None  # how sure the best passage answers (search.py; not in JSON)
    as_of: str | None = None  # the moment asked about (ISO date) when one was given

    def to_dict(self) -> dict:
        d = {"question": self.question, "answered": self.answered,
             "citations": [c.to_dict() for c in self.citations]}
        if self.context:
            d["context"] = self.context
        if self.as_of:
            d["as_of"] = self.as_of
        return d
