"""Rendering of the one Answer model as Telegram HTML messages.

Telegram's HTML: every piece of article or user text escaped (``<``, ``>``, ``&``), only the tags
``blockquote``, ``b``, ``i``, ``a``, ``code``; a message holds at most 4,096 characters (counted
here on the HTML source in UTF-16 units, stricter than Telegram's count of the visible text).
Long replies are split between quotes. One reply is at most a few messages: a quote longer
than MAX_QUOTE (or than what its message has room for) shows its beginning, cut between words,
then "… (N more characters: /source ID:START-END)", the exact range of the rest; paragraphs
around a /source are cut at MAX_CONTEXT the same way, and /cite shows MAX_CITE_SHOWN matches.
A reply never exceeds MAX_REPLY_MESSAGES messages.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from index import Answer, ArticleRef, Citation

from ..dates import date_label, dates_differ

MAX_MESSAGE = 4096
MAX_TITLE = 200            # longer titles are shortened in citation lines
MAX_ID = 300               # (an id that long cannot be used with /source anyway)
MAX_URL = 2048             # longer URLs are not made links (browsers and Telegram balk)
MAX_ALSO_IN = 5            # "also in" lists this many titles, then "and N more"
MAX_TAIL = 3000            # a citation line never takes more of a message than this
MAX_HELP_ARTICLES = 30     # /help lists this many articles, then "and N more"
MAX_QUOTE = 3000           # a quote shows at most this much (escaped UTF-16 units, ~characters)
MAX_CONTEXT = 1000         # each paragraph around a /source, likewise
MAX_CITE_SHOWN = 5         # /cite lists this many occurrences (and says how many there are)
MAX_REPLY_MESSAGES = 5     # /source and /cite replies; an answer: 1 + 2 per quote at most
MORE_BUTTON = "More sources"
_OPEN, _CLOSE = "<blockquote>", "</blockquote>"


def esc(text: str) -> str:
    """Text escaped for Telegram HTML (quotes need no escaping outside attributes)."""
    return html.escape(text or "", quote=False)


def tg_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, limit: int = MAX_TITLE) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def esc_short(text: str, limit: int = MAX_TITLE) -> str:
    """``shorten`` then escape, shorter still when escaping more than doubled it (a field full
    of ``&`` or ``<``): the escaped field stays under 2 × ``limit`` characters."""
    out = esc(shorten(text, limit))
    while tg_len(out) > 2 * limit and limit > 1:
        limit //= 2
        out = esc(shorten(text, limit))
    return out


def link(url: str | None, label: str = "link") -> str:
    """An <a> for http(s) URLs only (a javascript: or data: URL is never made a link), and
    not for absurdly long ones."""
    if not url or len(url) > MAX_URL or not re.match(r"^https?://\S+$", url, re.I):
        return ""
    return f'<a href="{html.escape(url, quote=True)}">{esc(label)}</a>'


def citation_html(article: ArticleRef, paragraph: int | None = None,
                  citation_id: str | None = None, with_link: bool = True,
                  as_of: bool = False) -> str:
    """'— Title, Source, date, paragraph N [id] link': every known field, none invented
    (the date reads "as of <date>" when ``as_of``: an answer mixing dates)."""
    parts = [f"<b>{esc_short(article.title)}</b>"]
    parts += [esc_short(x) for x in (article.source, date_label(article.published, as_of)) if x]
    if paragraph:
        parts.append(f"paragraph {paragraph}")
    line = "— " + ", ".join(parts)
    if citation_id:
        line += f" <code>{esc_short(citation_id, MAX_ID)}</code>"
    url_link = link(article.url) if with_link else ""
    if url_link and tg_len(line) + tg_len(url_link) >= MAX_TAIL:
        url_link = ""  # a URL that would crowd out the rest: the citation itself matters more
    return f"{line} {url_link}" if url_link else line


def split_text(text: str, budget: int) -> list[str]:
    """Chunks of ``text`` whose escaped form fits ``budget``; joined, they are ``text``."""
    chunks, cur = [], ""
    for tok in re.findall(r"\S+\s*|\s+", text):
        if tg_len(esc(cur + tok)) <= budget:
            cur += tok
            continue
        if cur:
            chunks.append(cur)
            cur = ""
        while tg_len(esc(tok)) > budget:  # one "word" longer than a message: cut inside it
            lo, hi = 1, len(tok)  # the longest prefix that fits (binary search: no n² scans)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if tg_len(esc(tok[:mid])) <= budget:
                    lo = mid
                else:
                    hi = mid - 1
            chunks.append(tok[:lo])
            tok = tok[lo:]
        cur = tok
    if cur:
        chunks.append(cur)
    return chunks


def quote_blocks(quote: str, tail: str, limit: int = MAX_MESSAGE) -> list[str]:
    """A blockquote of ``quote`` followed by ``tail`` (its citation): split only when too long."""
    whole = f"{_OPEN}{esc(quote)}{_CLOSE}\n{tail}" if tail else f"{_OPEN}{esc(quote)}{_CLOSE}"
    if tg_len(whole) <= limit:
        return [whole]
    chunks = split_text(quote, limit - len(_OPEN) - len(_CLOSE))
    blocks = [f"{_OPEN}{esc(c)}{_CLOSE}" for c in chunks]
    if tail and tg_len(f"{blocks[-1]}\n{tail}") <= limit:
        blocks[-1] += f"\n{tail}"
    elif tail:
        blocks.append(tail)
    return blocks


def more_note(article_id: str, start: int, end: int) -> str:
    """'… (N more characters: /source ID:START-END)': where the rest of a cut text is."""
    return (f"<i>… ({end - start:,} more characters: </i><code>/source "
            f"{esc_short(f'{article_id}:{start}-{end}', MAX_ID)}</code><i>)</i>")


def _head(text: str, budget: int) -> str:
    """The longest beginning of ``text`` cut between words whose escaped form fits ``budget``.
    Only ``budget + 1`` characters are looked at (escaping never shortens): a 1 MB text costs
    what a short one does."""
    return split_text(text[:budget + 1], budget)[0].rstrip() or text[:1]


def cut_text(text: str, start: int, article_id: str, budget: int) -> tuple[str, str]:
    """(the shown beginning of ``text``, the note on the rest, or ""): ``text`` stands at
    ``start`` in the article's body; the beginning is cut between words and fits ``budget``
    once escaped. The shown part is the body's own characters, a prefix of ``text``."""
    if tg_len(esc(text)) <= budget:
        return text, ""
    shown = _head(text, max(budget, 1))
    rest = len(shown) + len(text[len(shown):]) - len(text[len(shown):].lstrip())
    return shown, more_note(article_id, start + rest, start + len(text))


def bounded_quote_blocks(quote: str, start: int, article_id: str, tail: str,
                         cap: int = MAX_QUOTE) -> list[str]:
    """``quote_blocks`` for a quote shown whole up to ``cap``, else cut with a note on the
    rest: the quote, its note and ``tail`` fit one message when the tail leaves room."""
    room = MAX_MESSAGE - len(_OPEN) - len(_CLOSE) - tg_len(tail) - 2 \
        - tg_len(more_note(article_id, start, start + len(quote)))
    shown, note = cut_text(quote, start, article_id, max(min(cap, room), 200))
    if note:
        tail = f"{note}\n{tail}" if tail else note
    return quote_blocks(shown, tail)


def cap_messages(messages: list[str], limit: int = MAX_REPLY_MESSAGES) -> list[str]:
    """At most ``limit`` messages; a longer reply (which the cuts above should prevent) ends
    with a line saying it was cut."""
    if len(messages) <= limit:
        return messages
    return messages[:limit - 1] + ["<i>… (the rest of this reply is left out: at most "
                                   f"{limit} messages a reply)</i>"]


def text_blocks(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Plain (escaped) text as blocks that each fit a message."""
    if tg_len(esc(text)) <= limit:
        return [esc(text)]
    return [esc(c) for c in split_text(text, limit)]


def pack(blocks: Iterable[str], limit: int = MAX_MESSAGE, sep: str = "\n\n") -> list[str]:
    """Messages of whole blocks (each block already fits), as few as the limit allows."""
    messages, cur = [], ""
    for block in blocks:
        if not block:
            continue
        if tg_len(block) > limit:
            raise ValueError("a block longer than a message (split it first)")
        candidate = f"{cur}{sep}{block}" if cur else block
        if tg_len(candidate) <= limit:
            cur = candidate
        else:
            messages.append(cur)
            cur = block
    if cur:
        messages.append(cur)
    return messages


def also_in_html(articles: list[ArticleRef]) -> str:
    """The line naming the other articles with the same words (at most MAX_ALSO_IN)."""
    names = "; ".join(shorten(a.title) for a in articles[:MAX_ALSO_IN])
    more = len(articles) - MAX_ALSO_IN
    return (f"<i>also in: {esc_short(names, 400)}" + (f" and {more} more" if more > 0 else "")
            + "</i>")


def citation_blocks(c: Citation, as_of: bool = False) -> list[str]:
    """One quote with its citation (and where else the same words stand)."""
    tail = citation_html(c.article, c.paragraph, c.id, as_of=as_of)
    if c.also_in:
        tail += "\n" + also_in_html(c.also_in)
    return bounded_quote_blocks(c.quote, c.start, c.article.id, tail)


def context_html(previous_question: str) -> str:
    """The line that says a question was read as a follow-up."""
    return (f"<i>Read as a follow-up to “{esc(shorten(previous_question, 300))}”. "
            "Send /new to start a new topic.</i>")


def articles_blocks(articles: list[ArticleRef], limit: int = MAX_HELP_ARTICLES) -> list[str]:
    """• Title — source, date, one line per article, the newest first."""
    ordered = sorted(articles, key=lambda a: (a.published or "", a.title), reverse=True)
    lines = []
    for a in ordered[:limit]:
        tail = ", ".join(esc(shorten(x)) for x in (a.source, a.published) if x)
        lines.append(f"• <b>{esc(shorten(a.title))}</b>" + (f" — {tail}" if tail else ""))
    if len(ordered) > limit:
        lines.append(f"…and {len(ordered) - limit} more.")
    return lines


def not_found_messages(covered: list[ArticleRef]) -> list[str]:
    """The short "not found" reply, with what the articles do cover."""
    head = "<b>Not found in the articles.</b> I only quote the articles I hold"
    lines = [head + (", which cover:" if covered else ".")]
    lines += articles_blocks(covered, limit=5)
    lines.append("Try other words, or send /help for the full list.")
    return pack(lines, sep="\n")


def answer_messages(answer: Answer, covered: list[ArticleRef] | None = None) -> list[str]:
    """An answer as messages: the follow-up note, then each quote with its citation."""
    if not answer.answered:
        msgs = not_found_messages(covered or [])
        return msgs
    blocks = [context_html(answer.context)] if answer.context else []
    mixed = dates_differ(answer.citations)
    for c in answer.citations:
        blocks += citation_blocks(c, mixed)
    # Each quote fits one message with its citation (two when the citation line alone nearly
    # fills one): never more than that, and no citation is dropped.
    return cap_messages(pack(blocks), 1 + 2 * len(answer.citations))


def more_messages(citations: list[Citation]) -> list[str]:
    """Further sources for an answer (the **More sources** button)."""
    blocks = ["<b>More sources:</b>"]
    mixed = dates_differ(citations)
    for c in citations:
        blocks += citation_blocks(c, mixed)
    return cap_messages(pack(blocks), 1 + 2 * len(citations))


def inline_message(c: Citation, as_of: bool = False) -> str | None:
    """The message an inline result posts: the quote and its citation (None if too long)."""
    blocks = citation_blocks(c, as_of)
    return blocks[0] if len(blocks) == 1 else None


def inline_description(c: Citation, as_of: bool = False) -> str:
    """The line under an inline result: its article, date (when known) and paragraph."""
    parts = [c.article.title, date_label(c.article.published, as_of),
             f"paragraph {c.paragraph}"]
    return shorten(" — ".join(x for x in parts if x), 120)


def source_messages(view) -> list[str]:
    """A passage (``/source``) in context: the paragraphs around it, the cited one quoted;
    each cut (MAX_CONTEXT, MAX_QUOTE) with a note on where the rest is."""
    aid = view.article.id

    def around(cid: str, text: str) -> list[str]:
        if tg_len(esc(text)) <= MAX_CONTEXT:
            return text_blocks(text)
        shown = _head(text, MAX_CONTEXT)
        return [f"{esc(shown)} <i>… ({len(text) - len(shown):,} more characters: </i>"
                f"<code>/source {esc_short(cid, MAX_ID)}</code><i>)</i>"]

    blocks = [citation_html(view.article, view.paragraph, view.id)]
    for cid, text in view.before:
        blocks += around(cid, text)
    blocks += bounded_quote_blocks(view.text, view.start, aid, "")
    for cid, text in view.after:
        blocks += around(cid, text)
    return cap_messages(pack(blocks))


def help_messages(articles: list[ArticleRef], username: str | None,
                  follow_up_minutes: int = 5, cite: bool = False) -> list[str]:
    """/start and /help: what the bot knows (the articles) and how to ask."""
    at = f"@{esc(username)}" if username else "the bot"
    intro = ("<b>citebot</b> answers questions about news articles with <b>verbatim quotes</b> "
             "from them, each with its citation. It never writes an answer of its own: when the "
             "articles do not say it, it tells you so.")
    listing = [f"<b>The articles ({len(articles)}):</b>", *articles_blocks(articles)]
    how = ["<b>How to ask</b>",
           "Send a question as a message, or <code>/ask your question</code>. In a group: "
           f"<code>/ask …</code>, mention {at}, or reply to one of my messages.",
           f"A short follow-up within {follow_up_minutes} minutes (“How many were there?”) is "
           "read with your previous question; /new starts a new topic.",
           "<b>More sources</b> under an answer shows further quotes.",
           "<code>/source id</code> shows a cited paragraph in context; the ids are the "
           "<code>article:pN</code> codes under each quote."]
    if cite:
        how.append("<code>/cite text</code> finds where a quote comes from and whether it is "
                   "quoted right (also as a reply to a message holding the quote).")
    how.append(f"In any chat, type <code>{at} your words</code> to share a quote.")
    # The article list is packed line by line: a large corpus spreads over several messages.
    return pack([intro, *pack(listing, sep="\n"), "\n".join(how)])


def cite_messages(result) -> list[str]:
    """A citation lookup (``/cite``): where the text comes from, and how its wording differs."""
    from ..render import diff_inline

    if result.kind == "exact":
        times = "once" if result.total == 1 else f"{result.total} times"
        shown = min(len(result.matches), MAX_CITE_SHOWN)
        head = f"<b>Found word for word {times}</b>" + (
            f" (the first {shown} shown):" if result.total > shown else ":")
    elif result.kind == "close":
        head = ("<b>Not found word for word.</b> The closest wording in the articles "
                "(<i>[-…-]</i> the article's words, <b>{+…+}</b> the text's own):")
    else:
        return ["<b>Not found in the articles:</b> no sentence is close enough to this text."]
    blocks = [head]
    for m in result.matches[:MAX_CITE_SHOWN]:
        tail = citation_html(m.article, m.paragraph, m.id)
        tail += f" <code>{esc(f'{m.article.id}:{m.start}-{m.end}')}</code>"
        if not m.exact:
            limit, full = 1500, diff_inline(m.diff)
            while True:  # escaping may grow the diff (a text full of & and <): shorten more
                diff = f"\nsimilarity {m.similarity:.2f} · differences: " \
                       f"{_diff_html(shorten(full, limit))}"
                if tg_len(tail + diff) <= MAX_TAIL or limit <= 50:
                    break
                limit //= 2
            tail += diff
        blocks += bounded_quote_blocks(m.quote, m.start, m.article.id, tail)
    return cap_messages(pack(blocks))


def _diff_html(diff: str) -> str:
    """The CLI's inline diff, escaped, with its markers set in italics and bold."""
    out = esc(diff)
    out = re.sub(r"\[-(.*?)-\]", lambda m: f"<i>[-{m.group(1)}-]</i>", out, flags=re.S)
    return re.sub(r"\{\+(.*?)\+\}", lambda m: f"<b>{{+{m.group(1)}+}}</b>", out, flags=re.S)
