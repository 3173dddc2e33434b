"""Sentences of a passage as evidence for a question, and the quote chosen from them.

Each sentence is matched to the question as a unit: the sentence itself, or, when it leans on
the sentence before ("Both countries…", "This hypothesis…"), the two together. A unit's match is
its cosine to the question, plus the share of the question's term weight (idf) it holds, plus
the share of the question's word pairs it holds (questions reuse the answer sentence's phrases).
The quote of a passage is its best unit (preferring, for when / how many / who questions, one
that holds a date, number or name the question does not), widened with the neighbouring
sentences that match best while it stays within QUOTE_BUDGET characters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress

import numpy as np

from ..text import ASCII_NON_WORD, stopwords, words
from .lexical import analyze, bigrams, content_stems, stem_words, type_match

QUOTE_BUDGET = 300
# A sentence that opens with one of these (within its first words) leans on the one before.
_LEANS_BACK = re.compile(r"^(?:\W*\w+\W+){0,2}?(both|this|these|that|those|they|them|it|its|"
                         r"he|she|him|his|her|their|however|but|despite|such|the two|there|"
                         r"then|also|the latter|the former)\b", re.I)
_AFTER_WORD = re.compile(r"^\W*\w+")
_CLAUSE = re.compile(r"[,;:–—]\s+(?=\w)")


@dataclass
class Query:
    """A question, embedded and analysed once."""

    text: str
    vec: np.ndarray                 # (dim,)
    tokens: list[str]               # content stems, as BM25 indexes them
    weights: dict[str, float]       # idf of each distinct stem that names something
    pairs: set[tuple[str, str]]     # adjacent stems, stop words included
    kind: str | None
    asked: set[str]                 # lower-cased words of the question
    kind_nouns: frozenset[str] = frozenset()  # "Which city…": stems naming the kind of answer


def coverage(q: Query, terms, skip: frozenset[str] = frozenset()) -> float:
    """The share of the question's term weight that ``terms`` hold (``skip``: terms left out)."""
    total = sum(w for t, w in q.weights.items() if t not in skip)
    return sum(w for t, w in q.weights.items() if t in terms and t not in skip) / total \
        if total else 0.0


class Sentences:
    """A passage's sentences (the Searcher caches them between questions).

    What the sentences hold is worked out when first asked for, and in two ways. Ranking
    (``evidence``) only asks whether a sentence holds the question's few terms and word pairs:
    that is read off each sentence's stems joined into one string, without the sets of stems
    and word pairs below (building those for every reranked passage was a third of a
    question's time at 1M passages, docs/benchmarks.md); a neighbouring paragraph that widens a
    quote needs only its spans. The sets (``content``, ``pairs``, …) are made on first use.
    """

    def __init__(self, spans: list[tuple[int, int]], texts: list[str], context: str = ""):
        self.spans = spans
        self.texts = texts
        self._context = context  # its article's title and heading
        self._pair_start: list[int | None] | None = None
        self._leans: list | None = None
        self._own: list[_Piece] | None = None  # each sentence's words
        self._pieces: dict = {}  # ("rest" | "ante", k) -> _Piece
        self._sets: dict[str, list] | None = None
        self._context_terms: frozenset[str] | None = None

    @property
    def leans(self) -> list:
        """Per sentence: the match of the words by which it leans on the one before, or None."""
        if self._leans is None:
            self._leans = [_LEANS_BACK.match(t) for t in self.texts]
        return self._leans

    @property
    def pair_start(self) -> list[int | None]:
        """For a leaning sentence k: where its quote starts in the sentence before (the start of
        that sentence, or a clause start when the two pass the budget; None: no pair fits)."""
        if self._pair_start is None:
            spans, texts, out = self.spans, self.texts, []
            for k, m in enumerate(self.leans):
                start = None
                if m and k > 0:
                    start = spans[k - 1][0] if spans[k][1] - spans[k - 1][0] <= QUOTE_BUDGET \
                        else _clause_start(texts[k - 1], spans[k - 1][0], spans[k][1])
                out.append(start)
            self._pair_start = out
        return self._pair_start

    @property
    def context_terms(self) -> frozenset[str]:
        """Content stems of its title and heading."""
        if self._context_terms is None:
            self._context_terms = _context_terms(self._context) if self._context else frozenset()
        return self._context_terms

    def piece(self, part: str, k: int) -> _Piece:
        """The words of sentence k ("own"); of a leaning sentence without its reference
        ("rest": what it adds to its antecedent; the reference names the antecedent's subject
        again and is no evidence of its own); of the quoted part of its antecedent ("ante")."""
        if part == "own":
            if self._own is None:
                self._own = _pieces(self.texts)
            return self._own[k]
        got = self._pieces.get((part, k))
        if got is None:
            if part == "rest" and not self.leans[k]:
                got = self.piece("own", k)
            elif part == "rest":
                t, m = self.texts[k], self.leans[k]
                got = _Piece(_AFTER_WORD.sub("", t[m.end():], count=1))
            else:
                start, (a, _b) = self.pair_start[k], self.spans[k - 1]
                got = self.piece("own", k - 1) if start == a else \
                    _Piece(self.texts[k - 1][start - a:])
            self._pieces[(part, k)] = got
        return got

    def _set(self, name: str) -> list:
        if self._sets is None:
            m = range(len(self.texts))
            own = [self.piece("own", k) for k in m]
            rest = [self.piece("rest", k) for k in m]
            ante = [self.piece("ante", k) if self.pair_start[k] is not None else None
                    for k in m]
            self._sets = {
                "content": [p.content for p in own], "pairs": [p.pairs for p in own],
                "lean_content": [p.content for p in rest], "lean_pairs": [p.pairs for p in rest],
                "ante_content": [p.content if p else frozenset() for p in ante],
                "ante_pairs": [p.pairs if p else set() for p in ante]}
        return self._sets[name]

    @property
    def content(self) -> list[frozenset[str]]:
        """Each sentence's content stems."""
        return self._set("content")

    @property
    def pairs(self) -> list[set[tuple[str, str]]]:
        """Each sentence's adjacent stem pairs, stop words included."""
        return self._set("pairs")

    @property
    def lean_content(self) -> list[frozenset[str]]:
        """Content stems of each sentence's "rest" piece (its own when it leans on none)."""
        return self._set("lean_content")

    @property
    def lean_pairs(self) -> list[set[tuple[str, str]]]:
        return self._set("lean_pairs")

    @property
    def ante_content(self) -> list[frozenset[str]]:
        """Content stems of the quoted part of each leaning sentence's antecedent."""
        return self._set("ante_content")

    @property
    def ante_pairs(self) -> list[set[tuple[str, str]]]:
        return self._set("ante_pairs")


class _Piece:
    """The words of a sentence or part of one, as its stems joined with spaces: all of them,
    and those of the words that are no stop words. Whether it holds a stem or an adjacent
    pair is one substring search; exact, as no stem holds a space (words are ``\\w+``) and
    none is empty. Only the two strings are kept (the Searcher caches thousands of passages:
    lists of words and stems took four times the memory, and a growing heap costs a page
    fault per new page)."""

    __slots__ = ("_all", "_content", "_lists")

    def __init__(self, text: str | None, ws: list[str] | None = None,
                 stems: list[str] | None = None):
        ws = words(text) if ws is None else ws
        stems = stem_words(ws) if stems is None else stems
        stop = stopwords()
        self._all = f" {' '.join(stems)} "
        self._content = f" {' '.join(compress(stems, [w not in stop for w in ws]))} "
        # An empty stem (none is known) would not come back from the strings: lists kept.
        self._lists = (stems, ws) if "" in stems else None

    @property
    def content(self) -> frozenset[str]:
        if self._lists is not None:
            return content_stems(*self._lists)
        return frozenset(self._content.split())

    @property
    def pairs(self) -> set[tuple[str, str]]:
        return bigrams(self._lists[0] if self._lists is not None else self._all.split())

    def held_terms(self, terms) -> set[str]:
        """Those of ``terms`` that are stems of its words other than stop words."""
        text = self._all
        hits = [t for t in terms if f" {t} " in text]
        if not hits:  # most sentences hold none
            return set()
        text = self._content
        return {t for t in hits if f" {t} " in text}

    def held_pairs(self, pairs) -> set[tuple[str, str]]:
        """Those of ``pairs`` (of stems) that are adjacent in it."""
        text = self._all
        return {p for p in pairs if f" {p[0]} {p[1]} " in text}


_WORD_OR_BREAK = re.compile(r"\w+|\x00")
_ASCII_NON_WORD_BUT_NUL = {k: v for k, v in ASCII_NON_WORD.items() if k != 0}


def _pieces(texts: list[str]) -> list[_Piece]:
    """Each text's _Piece, with one tokenizer and one stemmer call for all of them (the texts
    joined by a NUL between spaces, NUL being no word character: the same words as
    text.words on each, and a NUL token between texts)."""
    joined = " \x00 ".join(texts)
    if len(texts) < 2 or joined.count("\x00") != len(texts) - 1:  # NUL in a text: one each
        return [_Piece(t) for t in texts]
    if joined.isascii():
        flat = joined.lower().translate(_ASCII_NON_WORD_BUT_NUL).split()
    else:
        flat = [w.lower() for w in _WORD_OR_BREAK.findall(joined)]
    stems = stem_words([w for w in flat if w != "\x00"])
    out, a = [], 0
    for k in range(len(texts)):
        b = flat.index("\x00", a) if k < len(texts) - 1 else len(flat)
        out.append(_Piece(None, flat[a:b], stems[a - k:b - k]))
        a = b + 1
    return out


def _clause_start(text: str, start: int, end: int) -> int | None:
    """Where to start quoting ``text`` (at ``start`` in the body) for the quote to end at
    ``end`` within the budget: the earliest clause start (after a comma, semicolon, colon or
    dash) that fits, keeping a few words. A leaning sentence refers to the end of the one
    before ("…a veto from China and Russia. Both countries…"); that end is what it needs."""
    for m in _CLAUSE.finditer(text):
        at = start + m.end()
        if end - at <= QUOTE_BUDGET and len(text[m.end():].split()) >= 4:
            return at
    return None


@lru_cache(maxsize=4096)
def _context_terms(context: str) -> frozenset[str]:
    """A title and heading's content stems: the same for every paragraph under them."""
    return analyze(context)[1]


def analyse_passage(body: str, spans: list[tuple[int, int]], context: str = "") -> Sentences:
    """A passage's sentences, to be tokenized as needed; ``context``: its article's title and
    its heading, whose terms count for its sentences at m_context (news names its subject in
    the title)."""
    return Sentences(list(spans), [body[s:e] for s, e in spans], context)


def evidence(q: Query, s: Sentences, cos: np.ndarray, vectors: np.ndarray) -> dict:
    """What each sentence unit says for the question, as arrays over the sentences: the unit
    (first, last sentence), its cosine, its share of the question's term weight and of the
    question's word pairs. ``cos``: the sentences' cosines; ``vectors``: their vectors."""
    n_pairs = max(1, len(q.pairs))
    m = len(s.texts)
    # Only the question's terms and pairs are looked for (Sentences.piece): a unit's share of
    # them is the same as from its whole sets of stems and pairs. Most units hold none of
    # them: their shares are 0 without summing the weights.
    terms, pairs = list(q.weights), q.pairs
    context_terms = s.context_terms
    in_context = {t for t in terms if t in context_terms}
    pair_start, spans = s.pair_start, s.spans
    units, cos_u, term_u, named_u, context_u, pairs_u = [], [], [], [], [], []
    for k in range(m):
        first = k - 1 if pair_start[k] is not None else k
        c = float(cos[k])
        if first < k:
            if pair_start[k] == spans[first][0]:
                # The cosine of the two whole sentences together, from their vectors.
                dot = float(np.dot(vectors[first], vectors[k]))
                c = max(c, float(cos[first] + cos[k]) / math.sqrt(max(1e-6, 2 + 2 * dot)))
            rest, ante = s.piece("rest", k), s.piece("ante", k)
            held = rest.held_terms(terms) | ante.held_terms(terms)
            held_pairs = rest.held_pairs(pairs) | ante.held_pairs(pairs)
        else:
            own = s.piece("own", k)
            held, held_pairs = own.held_terms(terms), own.held_pairs(pairs)
        units.append((first, k))
        cos_u.append(c)
        term_u.append(coverage(q, held) if held else 0.0)
        # For "not found": the answer names the city, not "city".
        named_u.append(coverage(q, held, q.kind_nouns) if held else 0.0)
        # News prose names its subject in the title and says "the festival" after that.
        context = in_context - held
        context_u.append(coverage(q, context) if context else 0.0)
        pairs_u.append(len(held_pairs) / n_pairs)
    ev = {"units": units, "cos": np.array(cos_u, dtype=np.float64),
          "terms": np.array(term_u, dtype=np.float64),
          "pairs": np.array(pairs_u, dtype=np.float64),
          "context": np.array(context_u, dtype=np.float64)}
    if q.kind_nouns and m:
        ev["terms_named"] = np.array(named_u, dtype=np.float64)
    return ev


def unit_match(p, ev: dict, terms: bool = True, context: bool = True) -> np.ndarray:
    """How well each unit matches the question (``p``: SearchParams); ``terms=False`` leaves
    the share of question terms out, ``context=False`` the terms only the title holds."""
    lex = p.m_lex * ev["terms"] if terms else 0.0
    if terms and context and p.m_context:
        lex = lex + p.m_lex * p.m_context * ev["context"]
    return ev["cos"] + lex + p.m_phrase * ev["pairs"]


def type_bonus(p, q: Query, s: Sentences, units: list[tuple[int, int]]) -> np.ndarray:
    """Per unit: the weight of the question's kind when the unit holds a date / number / name /
    place it asks for and does not already hold ("Which city…" wants a city named)."""
    out = np.zeros(len(units))
    if q.kind:
        weight = getattr(p, f"q_type_{q.kind}", p.q_type)
        for k, (a, b) in enumerate(units):
            out[k] = weight * type_match(q.kind, " ".join(s.texts[a:b + 1]), q.asked)
    return out


def quote_span(p, q: Query, s: Sentences, match: np.ndarray,
               units: list[tuple[int, int]]) -> tuple[int, int, int, int]:
    """(start, end, first, last sentence of the core unit) of a passage's quote."""
    spans = s.spans
    pick = match + type_bonus(p, q, s, units)
    k = int(np.argmax(pick))
    # A leaning sentence with only the end of its antecedent must add clearly to what the
    # whole antecedent says alone; otherwise the antecedent is the quote.
    while units[k][0] < k and pick[units[k][0]] >= pick[k] - (
            p.pair_margin if s.pair_start[k] != spans[units[k][0]][0] else 0.0):
        k = units[k][0]
    lo, hi = units[k]
    core = (lo, hi)
    if lo < hi and s.pair_start[hi] != spans[lo][0]:  # the end of the antecedent only
        return s.pair_start[hi], spans[hi][1], lo, hi
    while p.grow:  # widen with the better-matching neighbour while the budget allows
        options = []
        if lo > 0 and spans[hi][1] - spans[lo - 1][0] <= QUOTE_BUDGET:
            options.append((match[lo - 1], -1))
        if hi + 1 < len(spans) and spans[hi + 1][1] - spans[lo][0] <= QUOTE_BUDGET:
            options.append((match[hi + 1], 1))
        if not options:
            break
        if max(options)[1] < 0:
            lo -= 1
        else:
            hi += 1
    return spans[lo][0], spans[hi][1], core[0], core[1]
