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

import numpy as np

from .lexical import analyze, bigrams, type_match

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


@dataclass
class Sentences:
    """A passage's sentences, tokenized (the Searcher caches them between questions)."""

    spans: list[tuple[int, int]]
    texts: list[str]
    content: list[frozenset[str]]
    pairs: list[set[tuple[str, str]]]
    # A leaning sentence without its reference ("Both countries", "This hypothesis"): what it
    # adds to its antecedent. The reference names the antecedent's subject again; it is no
    # evidence of its own.
    lean_content: list[frozenset[str]]
    lean_pairs: list[set[tuple[str, str]]]
    # For a leaning sentence k: where its quote starts in the sentence before (the start of
    # that sentence, or a clause start when the two pass the budget; None: no pair fits), and
    # the stems of the antecedent's quoted part.
    pair_start: list[int | None]
    ante_content: list[frozenset[str]]
    ante_pairs: list[set[tuple[str, str]]]
    context_terms: frozenset[str] = frozenset()  # content stems of its title and heading


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
    """Tokenize a passage's sentences; ``context``: its article's title and its heading, whose
    terms count for its sentences at m_context (news names its subject in the title)."""
    texts = [body[s:e] for s, e in spans]
    analysed = [analyze(t) for t in texts]
    leans = [_LEANS_BACK.match(t) for t in texts]
    # The rest of a leaning sentence after its reference word and the word that follows.
    rest = [analyze(_AFTER_WORD.sub("", t[m.end():], count=1)) if m else a
            for t, m, a in zip(texts, leans, analysed)]
    pair_start, ante = [], []
    for k, m in enumerate(leans):
        start = None
        if m and k > 0:
            start = spans[k - 1][0] if spans[k][1] - spans[k - 1][0] <= QUOTE_BUDGET else \
                _clause_start(texts[k - 1], spans[k - 1][0], spans[k][1])
        pair_start.append(start)
        if start is None:
            ante.append(([], frozenset()))
        else:
            ante.append(analysed[k - 1] if start == spans[k - 1][0]
                        else analyze(body[start:spans[k - 1][1]]))
    context_terms = _context_terms(context) if context else frozenset()
    pairs = [bigrams(s) for s, _ in analysed]
    # A sentence that leans on none is its own rest (the same pairs, not made again).
    return Sentences(spans=list(spans), texts=texts, content=[c for _, c in analysed],
                     pairs=pairs, lean_content=[c for _, c in rest],
                     lean_pairs=[bigrams(r[0]) if m else p for r, m, p in zip(rest, leans, pairs)],
                     pair_start=pair_start, ante_content=[c for _, c in ante],
                     ante_pairs=[bigrams(a[0]) if a[0] else set() for a in ante],
                     context_terms=context_terms)


def evidence(q: Query, s: Sentences, cos: np.ndarray, vectors: np.ndarray) -> dict:
    """What each sentence unit says for the question, as arrays over the sentences: the unit
    (first, last sentence), its cosine, its share of the question's term weight and of the
    question's word pairs. ``cos``: the sentences' cosines; ``vectors``: their vectors."""
    n_pairs = max(1, len(q.pairs))
    m = len(s.texts)
    ev = {"units": [], "cos": np.zeros(m), "terms": np.zeros(m), "pairs": np.zeros(m),
          "context": np.zeros(m)}
    for k in range(m):
        first = k - 1 if s.pair_start[k] is not None else k
        c = float(cos[k])
        if first < k and s.pair_start[k] == s.spans[first][0]:
            # The cosine of the two whole sentences together, from their vectors.
            dot = float(np.dot(vectors[first], vectors[k]))
            c = max(c, float(cos[first] + cos[k]) / math.sqrt(max(1e-6, 2 + 2 * dot)))
        terms = s.lean_content[k] | s.ante_content[k] if first < k else s.content[k]
        pairs = s.lean_pairs[k] | s.ante_pairs[k] if first < k else s.pairs[k]
        ev["units"].append((first, k))
        ev["cos"][k] = c
        ev["terms"][k] = coverage(q, terms)
        if q.kind_nouns:  # for "not found": the answer names the city, not "city"
            ev.setdefault("terms_named", np.zeros(m))[k] = coverage(q, terms, q.kind_nouns)
        # News prose names its subject in the title and says "the festival" after that.
        ev["context"][k] = coverage(q, s.context_terms - terms)
        ev["pairs"][k] = len(q.pairs & pairs) / n_pairs
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
