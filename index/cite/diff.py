"""Text comparison for citation lookups: normalization with an index map, and word diffs.

``normalize_map(text)`` gives a normalized string plus, for every normalized character, the
index of the original character it came from, so a match found in normalized text maps back to
the article's own wording: ``body[idx[i]:idx[j - 1] + 1]``.

Normalization ignores what a quote loses when it is pasted, retyped or reformatted:
- case (``str.casefold``) and compatibility forms (NFKD per character: ligatures, full-width
  letters, ``…`` -> ``...``, precomposed vs combining accents);
- curly vs straight quotes (``‘ ’ ‚ ‛ ′ ` ´`` -> ``'``; ``“ ” „ ‟ ″ « »`` -> ``"``);
- dashes (hyphen, en/em dash, minus ... -> ``-``) and the spaces around them (``Haiti – The``
  equals ``Haiti-The``, because typographers differ on spacing dashes);
- whitespace (any run, newlines included, is one space; none at either end) and invisible
  format characters (soft hyphen, zero-width space).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..text import norm_char


def normalize_map(text: str) -> tuple[str, list[int]]:
    """(normalized text, original index of each normalized character)."""
    out: list[str] = []
    idx: list[int] = []
    for i, ch in enumerate(text):
        n = norm_char(ch)
        if not n:
            continue
        if n == " ":
            if not out or out[-1] in (" ", "-"):
                continue  # collapse runs; no space at the start or after a dash
        elif n[0] == "-" and out and out[-1] == " ":
            out.pop()  # no space before a dash
            idx.pop()
        for c in n:
            out.append(c)
            idx.append(i)
    if out and out[-1] == " ":
        out.pop()
        idx.pop()
    return "".join(out), idx


def normalize(text: str) -> str:
    """Just the normalized text."""
    return normalize_map(text)[0]


def is_wordish(ch: str) -> bool:
    """A character that continues a word: letters, digits and combining marks."""
    return ch.isalnum() or unicodedata.category(ch).startswith("M")


# -- word diff ---------------------------------------------------------------------------------

# Words (with inner apostrophes, hyphens, dots and thousands separators: "government’s",
# "Nations-backed", "U.S", "2,500") and a trailing percent sign; currency signs stand alone so
# that "$21 million" vs "21 million dollars" reads: dropped "$", added "dollars". Punctuation
# glued to a word belongs to its span (so diffs keep "support," and "(MSS)") but not its key.
_CUR = "$€£¥₹"
_TOKEN = re.compile(rf"[{_CUR}]|(?:[^\w\s{_CUR}]*)(?P<core>[^\W_]+(?:[’'.,\-‐‑–—][^\W_]+)*%?)"
                    rf"(?:[^\w\s{_CUR}]*)")


@dataclass
class Token:
    """A word of a text with its offsets and its comparison key."""

    key: str
    start: int
    end: int


def word_tokens(text: str, offset: int = 0) -> list[Token]:
    """Word tokens of ``text``; offsets are shifted by ``offset``."""
    return [Token(normalize(m.group("core") or m.group()), m.start() + offset, m.end() + offset)
            for m in _TOKEN.finditer(text)]


@dataclass
class DiffOp:
    """One step of a word diff between the given text and the article's wording.

    ``op`` is ``same`` (both say it), ``added`` (only the given text says it), ``dropped``
    (the article says it, the given text left it out), ``changed`` (the given text has other
    words in its place) or ``context`` (article words before or after the part the given
    text quotes). ``article == body[start:end]`` whenever the article side is not empty.
    """

    op: str
    given: str | None
    article: str | None
    start: int | None = None
    end: int | None = None

    def to_dict(self) -> dict:
        return {"op": self.op, "given": self.given, "article": self.article,
                "start": self.start, "end": self.end}


def _given_text(given: str, toks: list[Token]) -> str | None:
    return given[toks[0].start:toks[-1].end] if toks else None


def _article_op(op: str, given: str, gtoks: list[Token], body: str,
                atoks: list[Token]) -> DiffOp:
    if atoks:
        s, e = atoks[0].start, atoks[-1].end
        return DiffOp(op, _given_text(given, gtoks), body[s:e], s, e)
    return DiffOp(op, _given_text(given, gtoks), None)


STOP_WEIGHT = 0.2  # a shared stop word counts this much against a shared content word


def _matching_pairs(gk: list[str], ak: list[str]) -> list[tuple[int, int]]:
    """A weighted longest common subsequence of two word lists: (given index, article index).

    difflib's longest-block-first matching lets one early run of common words ("in July
    2023") win over more content words in another order; here each shared content word counts
    1 and a shared stop word STOP_WEIGHT, and the best total is found exactly.
    """
    from ..text import stopwords

    stop = stopwords()
    n, m = len(gk), len(ak)
    w = [STOP_WEIGHT if k.strip("'") in stop else 1.0 for k in gk]
    dp = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, nxt, gi, wi = dp[i], dp[i + 1], gk[i], w[i]
        for j in range(m - 1, -1, -1):
            best = nxt[j] if nxt[j] >= row[j + 1] else row[j + 1]
            if gi == ak[j] and nxt[j + 1] + wi > best:
                best = nxt[j + 1] + wi
            row[j] = best
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        # Forward walk over suffix scores; on ties a word is matched as late as possible in
        # the article, next to the words matched after it ("the" before "trust fund").
        if gk[i] == ak[j] and dp[i][j] == dp[i + 1][j + 1] + w[i] and dp[i][j + 1] < dp[i][j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif dp[i][j + 1] >= dp[i + 1][j]:
            j += 1
        else:
            i += 1
    return pairs


def _opcodes(gk: list[str], ak: list[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes (equal / delete / insert / replace) from the matched pairs."""
    codes, i0, j0 = [], 0, 0
    run = None  # the current block of consecutive pairs: [i, j, length]
    blocks = []
    for i, j in _matching_pairs(gk, ak):
        if run and i == run[0] + run[2] and j == run[1] + run[2]:
            run[2] += 1
        else:
            run = [i, j, 1]
            blocks.append(run)
    for i, j, n in [*blocks, [len(gk), len(ak), 0]]:
        if i > i0 or j > j0:
            tag = "replace" if i > i0 and j > j0 else ("delete" if i > i0 else "insert")
            codes.append((tag, i0, i, j0, j))
        if n:
            codes.append(("equal", i, i + n, j, j + n))
        i0, j0 = i + n, j + n
    return codes


def word_diff(given: str, body: str, start: int, end: int) -> list[DiffOp]:
    """Word-by-word differences between ``given`` and the article wording ``body[start:end]``.

    Article words before the first shared word and after the last one are ``context``: the
    given text quotes part of the sentence, which is no misquote.
    """
    g = word_tokens(given)
    a = word_tokens(body[start:end], offset=start)
    gk, ak = [t.key for t in g], [t.key for t in a]
    codes = _opcodes(gk, ak)
    equal = [n for n, c in enumerate(codes) if c[0] == "equal"]
    if not equal:
        return [_article_op("changed", given, g, body, a)] if (g or a) else []
    first, last = equal[0], equal[-1]
    ops: list[DiffOp] = []
    for n, (tag, i1, i2, j1, j2) in enumerate(codes):
        gt, at = g[i1:i2], a[j1:j2]
        if n < first or n > last:
            # At the edges the given text's own words are additions and the article's are
            # context; leading context comes first and trailing context last, as they read.
            edge = []
            if gt:
                edge.append(DiffOp("added", _given_text(given, gt), None))
            if at:
                ctx = _article_op("context", given, [], body, at)
                edge = [ctx, *edge] if n < first else [*edge, ctx]
            ops.extend(edge)
            continue
        tag = {"equal": "same", "delete": "added", "insert": "dropped",
               "replace": "changed"}[tag]
        ops.append(DiffOp(tag, _given_text(given, gt), None) if tag == "added"
                   else _article_op(tag, given, gt, body, at))
    return ops

