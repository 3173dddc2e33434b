"""Rendering of the one Answer model as terminal text and JSON (Telegram HTML: bot/telegram_render)."""

from __future__ import annotations

import json
import textwrap

from index.answer import Answer, ArticleRef, Citation

NOT_FOUND = "Not found in the articles."


def citation_line(article: ArticleRef, paragraph: int | None = None,
                  citation_id: str | None = None) -> str:
    """'Title — Source, date, paragraph N [id] url': every known field, none invented."""
    parts = [article.title]
    tail = [x for x in (article.source, article.published) if x]
    if paragraph:
        tail.append(f"paragraph {paragraph}")
    line = f"{parts[0]} — {', '.join(tail)}" if tail else parts[0]
    if citation_id:
        line += f" [{citation_id}]"
    if article.url:
        line += f" {article.url}"
    return line


def _quote_block(c: Citation, n: int, width: int) -> str:
    wrapped = textwrap.fill(f"“{c.quote}”", width=width, initial_indent=f"{n}. ",
                            subsequent_indent="   ")
    lines = [wrapped, "   — " + citation_line(c.article, c.paragraph, c.id)]
    if c.also_in:
        lines.append("     also in: " + "; ".join(a.title for a in c.also_in))
    return "\n".join(lines)


def answer_text(answer: Answer, width: int = 88, covered: list[str] | None = None) -> str:
    """Plain text for a terminal: numbered quotes, each followed by its citation."""
    head = []
    if answer.context:
        head.append(f"(read as a follow-up to: {answer.context})")
    if not answer.answered:
        msg = NOT_FOUND
        if covered:
            msg += " The articles cover: " + "; ".join(covered) + "."
        return "\n".join(head + [msg])
    return "\n".join(head + [_quote_block(c, i, width)
                             for i, c in enumerate(answer.citations, 1)])


def answer_json(answer: Answer) -> str:
    """One JSON object per answer (the stable shape in README)."""
    return json.dumps(answer.to_dict(), ensure_ascii=False)


def source_text(view) -> str:
    """A passage with the paragraphs around it, the cited one marked."""
    out = [citation_line(view.article, view.paragraph, view.id), ""]
    for cid, text in view.before:
        out += [f"  [{cid}] {text}", ""]
    out += [f"> {view.text}", ""]
    for cid, text in view.after:
        out += [f"  [{cid}] {text}", ""]
    return "\n".join(out).rstrip() + "\n"
