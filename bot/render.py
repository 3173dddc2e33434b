"""Rendering of the one Answer model as terminal text and JSON (Telegram HTML: bot/telegram_render)."""

from __future__ import annotations

import functools
import json
import re
import shutil
import textwrap

from index import Answer, ArticleRef, Citation

from .dates import date_label, dates_differ

NOT_FOUND = "Not found in the articles."

# What a terminal would obey instead of print: C0 controls (ESC starts colour, title, OSC 8
# link and clear-screen sequences; CR overwrites a line), DEL, C1 controls (0x9B is an 8-bit
# CSI) and the bidirectional overrides that reorder what is shown. Article text, titles, URLs
# and error lines are printed without them; newlines and tabs stay. JSON keeps the exact text,
# with these characters written as \u escapes.
_TERMINAL_CONTROLS = dict.fromkeys(
    [c for c in range(32) if c not in (9, 10)] + list(range(127, 160))
    + list(range(0x202A, 0x202F)) + list(range(0x2066, 0x206A)), None)
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def clean(text: str) -> str:
    """``text`` without the characters a terminal would act on (see _TERMINAL_CONTROLS)."""
    return text.translate(_TERMINAL_CONTROLS)


def json_line(data) -> str:
    """JSON on one line: the exact text, with control characters escaped (json escapes C0)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}",
                            json.dumps(data, ensure_ascii=False))


def terminal_safe(fn):
    """A renderer whose text is printed to a terminal: its result goes through clean()."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return clean(fn(*args, **kwargs))

    return wrapper


def terminal_width(fallback: int = 88) -> int:
    """The terminal's width (COLUMNS when set), never under 40; ``fallback`` when not a tty."""
    return max(40, shutil.get_terminal_size((fallback, 24)).columns)


def wrap(text: str, width: int, first: str, rest: str) -> str:
    """Wrapped at spaces only: ids, URLs and hyphenated words are never cut across lines."""
    # "as of 2024-05-07" stays on one line: glued by no-break spaces while wrapping.
    text = text.replace("as of ", "as\u00a0of\u00a0")
    return textwrap.fill(text, width=width, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False,
                         break_on_hyphens=False).replace("as\u00a0of\u00a0", "as of ")


def citation_line(article: ArticleRef, paragraph: int | None = None,
                  citation_id: str | None = None, as_of: bool = False) -> str:
    """'Title — Source, date, paragraph N [id] url': every known field, none invented
    (the date reads "as of <date>" when ``as_of``: an answer mixing dates)."""
    parts = [article.title]
    tail = [x for x in (article.source, date_label(article.published, as_of)) if x]
    if paragraph:
        tail.append(f"paragraph {paragraph}")
    line = f"{parts[0]} — {', '.join(tail)}" if tail else parts[0]
    if citation_id:
        line += f" [{citation_id}]"
    if article.url:
        line += f" {article.url}"
    return line


def _quote_block(c: Citation, n: int, width: int, as_of: bool = False) -> str:
    lines = [wrap(f"“{c.quote}”", width, f"{n}. ", "   "),
             wrap(citation_line(c.article, c.paragraph, c.id, as_of), width, "   — ", "     ")]
    if c.also_in:
        lines.append(wrap("; ".join(a.title for a in c.also_in), width, "     also in: ",
                          "       "))
    return "\n".join(lines)


@terminal_safe
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
    mixed = dates_differ(answer.citations)
    return "\n".join(head + [_quote_block(c, i, width, mixed)
                             for i, c in enumerate(answer.citations, 1)])


def answer_json(answer: Answer) -> str:
    """One JSON object per answer (the stable shape in README)."""
    return json_line(answer.to_dict())


@terminal_safe
def source_text(view, width: int = 88) -> str:
    """A passage with the paragraphs around it, the cited one marked."""
    out = [wrap(citation_line(view.article, view.paragraph, view.id), width, "", "  "), ""]
    for cid, text in view.before:
        out += [f"  [{cid}] {text}", ""]
    out += [f"> {view.text}", ""]
    for cid, text in view.after:
        out += [f"  [{cid}] {text}", ""]
    return "\n".join(out).rstrip() + "\n"


# -- pasteable citation forms (text / markdown) and citation lookups (`citebot cite`) ---------

FORMATS = ("text", "markdown", "json")
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|"})


def md_escape(text: str) -> str:
    """Escape Markdown's inline syntax so the rendered text reads exactly as written."""
    return text.translate(_MD_SPECIAL)


def citation_markdown(article: ArticleRef, paragraph: int | None = None,
                      as_of: bool = False) -> str:
    """'— [Title](url), Source, date, ¶3': every known field, none invented."""
    title = md_escape(article.title)
    if article.url:
        title = f"[{title}]({article.url.replace(')', '%29').replace(' ', '%20')})"
    parts = [title] + [md_escape(x) for x in (article.source,
                                               date_label(article.published, as_of)) if x]
    if paragraph:
        parts.append(f"¶{paragraph}")
    return "— " + ", ".join(parts)


def quote_markdown(quote: str, article: ArticleRef, paragraph: int | None = None,
                   as_of: bool = False) -> str:
    """A block quote followed by its attribution, ready to paste into Markdown."""
    lines = [f"> {md_escape(ln)}".rstrip() for ln in quote.splitlines() or [""]]
    return "\n".join(lines) + "\n\n" + citation_markdown(article, paragraph, as_of)


@terminal_safe
def answer_markdown(answer: Answer, covered: list[str] | None = None) -> str:
    """The answer as Markdown: each quote a block quote with its attribution."""
    if not answer.answered:
        return answer_text(answer, covered=covered)
    mixed = dates_differ(answer.citations)
    return "\n\n".join(quote_markdown(c.quote, c.article, c.paragraph, mixed)
                       for c in answer.citations)


@terminal_safe
def source_markdown(view) -> str:
    """The cited passage (only it, not its neighbours) as a Markdown block quote."""
    return quote_markdown(view.text, view.article, view.paragraph) + "\n"


def _words(text: str, n: int, tail: bool) -> str:
    w = text.split()
    if len(w) <= n:
        return text
    return "…" + " ".join(w[-n:]) if tail else " ".join(w[:n]) + "…"


def diff_inline(ops, markdown: bool = False, context_words: int = 6) -> str:
    """A word diff inline: [-article's words-] {+given words+} (Markdown: ~~dropped~~ **added**).

    Context before and after the quoted part is cut to a few words.
    """
    if markdown:
        drop, add = (lambda t: f"~~{md_escape(t)}~~"), (lambda t: f"**{md_escape(t)}**")
        same = md_escape
    else:
        drop, add, same = (lambda t: f"[-{t}-]"), (lambda t: f"{{+{t}+}}"), (lambda t: t)
    out, last_end = [], None
    for i, d in enumerate(ops):
        if d.op == "context":
            piece = same(_words(d.article, context_words, tail=(i == 0)))
        elif d.op == "same":
            piece = same(d.article)
        elif d.op == "dropped":
            piece = drop(d.article)
        elif d.op == "added":
            piece = add(d.given)
        else:  # changed
            piece = drop(d.article) + add(d.given)
        glued = out and d.start is not None and d.start == last_end  # "$" + "21": no space
        out.append(piece if glued or not out else " " + piece)
        last_end = d.end if d.end is not None else last_end
    return "".join(out)


def _cite_head(result) -> str:
    if result.kind == "exact":
        times = "once" if result.total == 1 else f"{result.total} times"
        shown = f" (the first {len(result.matches)} shown)" if result.total > len(
            result.matches) else ""
        return f"Found word for word {times}{shown}:"
    if result.kind == "close":
        return ("Not found word for word. The closest wording in the articles "
                "([-…-] the article's words, {+…+} the text's own):")
    return "Not found in the articles: no sentence is close enough to this text."


@terminal_safe
def cite_text(result, width: int = 88) -> str:
    """Plain text for a lookup: each match with its citation, range id and word differences."""
    out = [_cite_head(result)]
    for n, m in enumerate(result.matches, 1):
        score = "" if m.exact else f"  (similarity {m.similarity:.2f})"
        # No breaks at hyphens: a copied quote must not gain a space in "Nations-backed".
        out.append(textwrap.fill(f"“{m.quote}”", width=width, initial_indent=f"{n}. ",
                                 subsequent_indent="   ", break_on_hyphens=False) + score)
        out.append(wrap(citation_line(m.article, m.paragraph, m.id)
                        + f" ({m.article.id}:{m.start}-{m.end})", width, "   — ", "     "))
        if not m.exact:
            out.append(textwrap.fill(diff_inline(m.diff), width=width,
                                     initial_indent="   differences: ",
                                     subsequent_indent="     ", break_on_hyphens=False))
    return "\n".join(out)


@terminal_safe
def cite_markdown(result) -> str:
    """Markdown for a lookup: block quotes with attributions, word differences for close ones."""
    if result.kind == "none":
        return _cite_head(result)
    blocks = []
    for m in result.matches:
        block = quote_markdown(m.quote, m.article, m.paragraph)
        if not m.exact:
            block += (f" (similarity {m.similarity:.2f})\n\nDifferences (~~article~~ "
                      f"**given**): {diff_inline(m.diff, markdown=True)}")
        blocks.append(block)
    return "\n\n".join(blocks)


def cite_json(result) -> str:
    """One JSON object per lookup (README, "Citation lookups")."""
    return json_line(result.to_dict())
