"""The first quote as a window over the article: the run of sentences, across paragraph
breaks, most likely to hold the answer.

News paragraphs are a sentence or two, and the sentence that names what a question asks for
often follows (or precedes) the one that restates the question. So the first quote is chosen
among the windows of consecutive sentences, within QUOTE_BUDGET characters, around the best
passage: each sentence gets the probability that it holds the answer (a logistic model of a
few features: its match to the question, whether it names the kind of thing asked for and
what the question does not already say, where it stands relative to the best-matching
sentence), and the window with the highest chance that at least one of its sentences holds the
answer is quoted. The weights are fitted by benchmarks/fit_quote_window.py on the news dev set
and the SQuAD subset (docs/benchmarks.md, "Answer quality").
"""

from __future__ import annotations

import math
import re

import numpy as np

from .lexical import type_match
from .quotes import QUOTE_BUDGET, Query, coverage

# How far from the best passage the window may reach, in paragraphs.
REACH = 1
_KINDS = ("when", "number", "name", "place", "entity")
_NAMED = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'’-]+")
_FIGURE = re.compile(r"\d[\d,.]*")
FEATURES = ("bias", "cos", "terms", "pairs", "match_gap", "best", "after", "before", "far",
            "same_passage", "leans", "first_in_par", "named_new", "figure_new",
            *(f"type_{k}" for k in _KINDS), "no_kind")
# Fitted weights (FEATURES order); see the module docstring.
WEIGHTS = np.zeros(len(FEATURES))


def _new_count(pattern: re.Pattern, text: str, asked: set[str]) -> int:
    return sum(1 for m in pattern.finditer(text) if m.group(0).lower().strip(".,") not in asked)


def sentence_table(searcher, q: Query, i: int, match_of) -> tuple[list, np.ndarray]:
    """The sentences of passage ``i`` and its neighbours in the same article (REACH), in
    article order: ([(start, end, passage row, index in passage)], features (n, FEATURES)).
    ``match_of(j)``: the unit match of passage ``j``'s sentences (quotes.unit_match)."""
    store = searcher.store
    rows = store.article_rows(store.passages[i].article_id)
    first, last = max(rows.start, i - REACH), min(rows.stop - 1, i + REACH)
    sents, feats = [], []
    matches = {j: match_of(j) for j in range(first, last + 1)}
    best_match = float(matches[i].max()) if len(matches[i]) else 0.0
    best_k = int(np.argmax(matches[i])) if len(matches[i]) else 0
    # Article-order position of the best sentence, to measure distances from it.
    order = 0
    best_pos = None
    for j in range(first, last + 1):
        s = searcher.sentences(j)
        if j == i:
            best_pos = order + best_k
        order += len(s.spans)
    pos = 0
    for j in range(first, last + 1):
        s = searcher.sentences(j)
        lo, hi = store.sentence_rows(j)
        vecs = np.asarray(store.sentence_vectors[lo:hi], dtype=np.float32)
        cos = vecs @ q.vec if len(vecs) else np.zeros(0)
        m = matches[j]
        for k, (a, b) in enumerate(s.spans):
            d = pos - best_pos
            text = s.texts[k]
            t = type_match(q.kind, text, q.asked) if q.kind else 0.0
            row = [1.0, float(cos[k]), coverage(q, s.content[k]),
                   len(q.pairs & s.pairs[k]) / max(1, len(q.pairs)),
                   float(m[k]) - best_match, float(d == 0), float(d > 0), float(d < 0),
                   float(abs(d) >= 2), float(j == i), float(s.pair_start[k] is not None),
                   float(k == 0), min(3, _new_count(_NAMED, text, q.asked)) / 3,
                   min(3, _new_count(_FIGURE, text, q.asked)) / 3,
                   *(t * (q.kind == kind) for kind in _KINDS), float(q.kind is None)]
            sents.append((a, b, j, k))
            feats.append(row)
            pos += 1
    return sents, np.asarray(feats, dtype=np.float64)


def answer_odds(feats: np.ndarray, weights: np.ndarray = WEIGHTS) -> np.ndarray:
    """Each sentence's probability of holding the answer."""
    return 1.0 / (1.0 + np.exp(-(feats @ weights)))


def best_window(sents: list, prob: np.ndarray, must: int | None = None,
                budget: int = QUOTE_BUDGET) -> tuple[int, int]:
    """(first, last) sentence of the window within ``budget`` characters with the highest
    chance that one of its sentences holds the answer (1 - prod(1 - p)); ``must``: a sentence
    every window holds. A lone sentence over the budget is a window of its own."""
    logq = np.log1p(-np.clip(prob, 0.0, 1.0 - 1e-9))
    best, choice = math.inf, (0, 0)
    n = len(sents)
    for a in range(n):
        total = 0.0
        for b in range(a, n):
            if b > a and sents[b][1] - sents[a][0] > budget:
                break
            total += logq[b]
            if must is not None and not a <= must <= b:
                continue
            if total < best - 1e-12:
                best, choice = total, (a, b)
    return choice
