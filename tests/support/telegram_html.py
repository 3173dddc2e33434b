"""Telegram's HTML parse mode, checked as strictly as Telegram checks it.

``parse_telegram_html`` refuses what Telegram answers "can't parse entities" to: tags it does
not support, unbalanced or wrongly nested tags, ``<``, ``>`` or ``&`` outside tags and entities,
named entities other than ``&lt; &gt; &amp; &quot;``. It returns the visible text and the tags
used, so tests can check what a user sees (the fake Bot API server uses it on every message).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

TELEGRAM_TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
                           "tg-spoiler", "a", "tg-emoji", "code", "pre", "blockquote"})
_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:=\"[^\"<>]*\")?)*)\s*>"
                    r"|&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});"
                    r"|([^<>&]+)|(.)", re.S)
_ATTR = re.compile(r"([a-zA-Z-]+)(?:=\"([^\"]*)\")?")


class TelegramHTMLError(ValueError):
    """The text would be refused by Telegram's HTML parser ("can't parse entities")."""


@dataclass
class ParsedHTML:
    """Visible text of a Telegram HTML message, and the tags it used (name, attrs, text)."""

    text: str
    tags: list[tuple[str, dict, str]] = field(default_factory=list)


def parse_telegram_html(source: str) -> ParsedHTML:
    """Parse like Telegram: only its tags, balanced, only its entities, no stray ``<>&``."""
    out: list[str] = []
    stack: list[tuple[str, dict, int]] = []
    tags: list[tuple[str, dict, str]] = []
    for m in _TOKEN.finditer(source):
        close, name, attrs, entity, text, stray = m.groups()
        if stray is not None:
            raise TelegramHTMLError(f"unescaped {stray!r} at {m.start()}")
        if text is not None:
            out.append(text)
            continue
        if entity is not None:
            out.append(html.unescape(f"&{entity};"))
            continue
        name = name.lower()
        if name not in TELEGRAM_TAGS:
            raise TelegramHTMLError(f"unsupported tag <{name}> at {m.start()}")
        if close:
            if attrs.strip():
                raise TelegramHTMLError(f"attributes on a closing tag at {m.start()}")
            if not stack or stack[-1][0] != name:
                raise TelegramHTMLError(f"unexpected </{name}> at {m.start()}")
            tname, tattrs, begin = stack.pop()
            tags.append((tname, tattrs, "".join(out)[begin:]))
            continue
        parsed = {k.lower(): html.unescape(v or "") for k, v in _ATTR.findall(attrs)}
        if name == "a" and set(parsed) - {"href"}:
            raise TelegramHTMLError("<a> takes only href")
        if name in ("b", "i", "code", "blockquote") and set(parsed) - {"expandable", "class"}:
            raise TelegramHTMLError(f"unexpected attributes on <{name}>")
        if name == "blockquote" and any(t[0] == "blockquote" for t in stack):
            raise TelegramHTMLError("nested <blockquote>")
        if name == "a" and any(t[0] == "a" for t in stack):
            raise TelegramHTMLError("nested <a>")
        stack.append((name, parsed, len("".join(out))))
    if stack:
        raise TelegramHTMLError(f"unclosed <{stack[-1][0]}>")
    return ParsedHTML("".join(out), tags)


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


# -- what citebot's messages must be ------------------------------------------------------------
OUR_TAGS = frozenset({"blockquote", "b", "i", "a", "code"})  # the tags citebot uses


def checked(call) -> ParsedHTML:
    """A message citebot sent: HTML mode, valid Telegram HTML, only our tags, <= 4,096 chars."""
    assert call.params["parse_mode"] == "HTML"
    assert telegram_length(call.text) <= 4096
    parsed = parse_telegram_html(call.text)
    assert {name for name, _, _ in parsed.tags} <= OUR_TAGS
    return parsed


def quotes_of(parsed: ParsedHTML) -> list[str]:
    """The texts of the blockquotes, in order."""
    return [text for name, _, text in parsed.tags if name == "blockquote"]


def codes_of(parsed: ParsedHTML) -> list[str]:
    """The texts of the <code> tags (citation ids, ranges), in order."""
    return [text for name, _, text in parsed.tags if name == "code"]
