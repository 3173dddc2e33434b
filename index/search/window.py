"""The first quote of a news answer as a window over its article: the run of sentences,
across paragraph breaks, most likely to hold the answer.

News paragraphs are a sentence or two; a question often restates one sentence while the thing
it asks for is named in the next paragraph or in the lede, where news names its subject
("Which show was green-lit?": the lede names the show, the sentence the question restates
says "the show"). So for a dated (news) article the first quote is chosen among the windows
of consecutive sentences, within QUOTE_BUDGET characters, over the best passage, its
neighbouring paragraphs (REACH) and the article's first paragraphs (LEDE): each sentence gets
the probability that it is the one holding the answer (a conditional logit over the
candidate sentences of the question: its match to the question, whether it names the kind of
thing asked for and what the question does not already say, whether it names the article's
title subject or a name the article keeps repeating, whether it is the page's promotion of a
newsletter or podcast, where it stands), and the window holding the most probability is
quoted (never opening or closing on a promotion). Only for questions that ask for a kind of
thing (lexical.question_type); the others keep the quote of quotes.quote_span.

The weights are fitted by benchmarks/fit_quote_window.py on the news dev set (cross-validated
there; docs/benchmarks.md, "Answer quality"). Undated articles (reference text such as the
SQuAD subset, where the lede is no summary) keep the quote of quotes.quote_span: fitted on
both, one model lost on each (answer-in-quote@1 SQuAD 0.905 -> 0.89, news 0.72 -> 0.66).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np

from .lexical import CALENDAR, type_match
from .quotes import QUOTE_BUDGET, Query, coverage, unit_match

# How far from the best passage the window may reach, in paragraphs; the article's first
# LEDE paragraphs are candidates too.
REACH = 1
LEDE = 2
_KINDS = ("when", "number", "name", "place", "entity")
_NAMED = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'’-]+")
_FIGURE = re.compile(r"\d[\d,.]*")
_WORD = re.compile(r"[\w'’-]+")
_FIRST = re.compile(r"\W*([A-Z][\w'’-]+)")
_LOWER = re.compile(r"(?<![\w'’-])[a-z][\w'’-]*")
_PROMO = re.compile(r"\b(?:newsletters?|sign up|subscribe|podcast|episode|inbox)\b", re.I)
_QUOTED = re.compile(r"[“\"]([^”\"]{2,80})[”\"]")

FEATURES = ("cos", "terms", "pairs", "match_gap", "best", "after", "before", "far", "leans",
            "named_new", "figure_new", "type", *(f"type_{k}" for k in _KINDS), "lede",
            "title_new", "title_named", "article_first", "position", "restates",
            *(f"lede_{k}" for k in _KINDS), "salient", "quoted_new", "promo")
# Fitted by benchmarks/fit_quote_window.py on news dev (--l2 0.003; cross-validated 0.740-0.753,
# in-sample 0.760). "salient": how often the article names the sentence's new names (news
# names its subject again and again); "quoted_new": a quoted phrase the question lacks;
# "promo": a web page's "sign up for our newsletter / listen to the podcast" line, which
# scraped articles open with and which carries the article-first and lede priors otherwise.
FITTED = {
    "cos": 0.804, "terms": 0.367, "pairs": 0.243, "match_gap": 1.533, "best": -0.084,
    "after": -0.136, "before": 0.221, "far": -0.466, "leans": -0.718, "named_new": 0.357,
    "figure_new": 0.475, "type": 1.135, "type_when": 0.037, "type_number": 0.812,
    "type_name": 0.027, "type_place": -0.089, "type_entity": 0.349, "lede": 0.259,
    "title_new": 1.214, "title_named": 0.309, "article_first": 0.639, "position": 0.104,
    "restates": -0.162, "lede_when": -0.217, "lede_number": -0.619, "lede_name": 0.347,
    "lede_place": 0.475, "lede_entity": 0.167, "salient": 0.771, "quoted_new": 0.608,
    "promo": -0.847}
WEIGHTS = np.array([FITTED[name] for name in FEATURES])


def _new_names(text: str, asked: set[str], plain: set[str]) -> set[str]:
    """The capitalised words of a sentence the question does not have (days and months are
    no names), lower-cased, possessives dropped. The sentence's first word is a name when the
    article never writes it in lower case (``plain``): "Antarctica's glacier…"."""
    found = [m.group(0) for m in _NAMED.finditer(text)]
    first = _FIRST.match(text)
    if first and _bare(first.group(1)) not in plain:
        found.append(first.group(1))
    return {w for w in map(_bare, found) if w not in asked and w not in CALENDAR}


def _bare(word: str) -> str:
    w = word.lower().strip(".,")
    return w[:-2] if w.endswith(("'s", "’s")) else w


def _new_figures(text: str, asked: set[str]) -> int:
    return sum(1 for m in _FIGURE.finditer(text) if m.group(0).strip(".,") not in asked)


@lru_cache(maxsize=256)
def _article_words(body: str) -> tuple[dict[str, int], frozenset[str]]:
    """How often the article names each capitalised word, and the words it writes in lower
    case (both lower-cased, possessives dropped); cached: a bot asks about the same articles."""
    counts: dict[str, int] = {}
    for m in _NAMED.finditer(body):
        w = _bare(m.group(0))
        counts[w] = counts.get(w, 0) + 1
    return counts, frozenset(map(_bare, _LOWER.findall(body)))


def sentence_table(searcher, q: Query, i: int, match_of) -> tuple[list, np.ndarray]:
    """The candidate sentences of passage ``i``'s article, in article order: those of ``i``,
    of its REACH neighbours and of the first LEDE paragraphs; ([(start, end, passage row,
    index in passage)], features (n, FEATURES)). ``match_of(j, cos, vectors)``: the unit match
    of passage ``j``'s sentences (quotes.unit_match), given their cosines and vectors."""
    store = searcher.store
    article_id = store.passages[i].article_id
    article = store.article_by_id[article_id]
    rows = store.article_rows(article_id)
    near = range(max(rows.start, i - REACH), min(rows.stop, i + REACH + 1))
    chosen = sorted(set(near) | set(range(rows.start, min(rows.stop, rows.start + LEDE))))
    analysed = {j: searcher.sentences(j) for j in chosen}
    vectors = {j: np.asarray(store.sentence_vectors[slice(*store.sentence_rows(j))],
                             dtype=np.float32) for j in chosen}
    cosines = {j: vectors[j] @ q.vec if len(vectors[j]) else np.zeros(0) for j in chosen}
    matches = {j: match_of(j, cosines[j], vectors[j]) for j in chosen}
    best_match = float(matches[i].max()) if len(matches[i]) else 0.0
    best_pos = sum(len(analysed[j].spans) for j in chosen if j < i) + \
        (int(np.argmax(matches[i])) if len(matches[i]) else 0)
    title = analysed[i].context_terms
    title_new = title - set(q.weights) - {t for t in title if t in q.asked}
    title_words = {w.lower() for w in _WORD.findall(article.title or "")}
    first_row = int(store.sentence_offsets[rows.start])
    mentions, plain = _article_words(article.body)
    sents, feats = [], []
    for j in chosen:
        s = analysed[j]
        lo = store.sentence_rows(j)[0]
        cos = cosines[j]
        lede = j - rows.start < LEDE
        for k, (a, b) in enumerate(s.spans):
            d = len(sents) - best_pos
            text = s.texts[k]
            t = type_match(q.kind, text, q.asked) if q.kind else 0.0
            names = _new_names(text, q.asked, plain)
            if not t and q.kind in ("name", "place", "entity") and names:
                t = 1.0  # a name the article never writes in lower case, first in its sentence
            sents.append((a, b, j, k))
            feats.append([
                float(cos[k]), coverage(q, s.content[k]),
                len(q.pairs & s.pairs[k]) / max(1, len(q.pairs)),
                float(matches[j][k]) - best_match, float(d == 0), float(d > 0), float(d < 0),
                float(abs(d) >= 2), float(s.pair_start[k] is not None),
                min(3, len(names)) / 3, min(3, _new_figures(text, q.asked)) / 3,
                # The kind asked for, shared by all kinds and per kind (few "who" questions:
                # the penalty on weights draws theirs to the shared one).
                t, *(t * (q.kind == kind) for kind in _KINDS),
                # The title's subject and the article's first sentence hint at the answer
                # only where the sentence names the kind of thing asked for: a lede that
                # restates the question and names nothing new is context.
                float(lede), float(bool(title_new & s.content[k])) * t,
                float(bool(names & title_words)),
                float(j == rows.start and k == 0) * t,
                math.log1p(lo - first_row + k) / math.log(30),
                # Repeats the question without the kind of thing it asks for: context at best.
                coverage(q, s.content[k]) * (q.kind is not None and not t),
                *(float(lede and q.kind == kind) for kind in _KINDS),
                min(1.0, math.log1p(max((mentions.get(w, 0) for w in names), default=0))
                    / math.log(20)),
                float(any(set(w.lower() for w in _WORD.findall(m.group(1))) - q.asked
                          for m in _QUOTED.finditer(text))),
                float(bool(_PROMO.search(text)))])
    return sents, np.asarray(feats, dtype=np.float64).reshape(len(sents), len(FEATURES))


def answer_odds(feats: np.ndarray, weights: np.ndarray = WEIGHTS) -> np.ndarray:
    """The probability that each candidate sentence is the one holding the answer."""
    z = feats @ weights
    e = np.exp(z - z.max()) if len(z) else z
    return e / e.sum() if len(z) else e


def quotable(table: np.ndarray) -> np.ndarray:
    """Which candidate sentences (rows of sentence_table's features) a window may open or
    close on: all but a page's promotions."""
    return table[:, FEATURES.index("promo")] == 0


def best_window(sents: list, prob: np.ndarray, budget: int = QUOTE_BUDGET,
                keep: np.ndarray | None = None) -> tuple[int, int]:
    """(first, last) sentence of the window within ``budget`` characters that holds the most
    answer probability. A window never skips a paragraph; a lone sentence over the budget is
    a window of its own. Ties go to the earlier, shorter window. Sentences not in ``keep``
    (quotable: not a page's promotion) count for nothing and never start or end one."""
    if keep is not None:
        prob = np.where(keep, prob, 0.0)
    best, choice = -1.0, (0, 0)
    for a in range(len(sents)):
        total = 0.0
        for b in range(a, len(sents)):
            if b > a and (sents[b][1] - sents[a][0] > budget
                          or sents[b][2] - sents[b - 1][2] > 1):
                break
            total += float(prob[b])
            if total > best + 1e-12:
                best, choice = total, (a, b)
    a, b = choice
    if keep is not None:  # a promotion beside the answer adds nothing: not quoted
        while a < b and not keep[a]:
            a += 1
        while b > a and not keep[b]:
            b -= 1
    return a, b


def window_table(searcher, q: Query, i: int, feats: dict) -> tuple[list, np.ndarray]:
    """The candidate sentences of a first quote around ranked passage ``i`` (``feats``: its
    ranking features, Searcher.rank) and their features (sentence_table)."""
    if "evidence" not in feats:
        feats["evidence"] = searcher.evidence(q, i, feats["sent_scores"])
        feats["match"] = unit_match(searcher.params, feats["evidence"])

    def match_of(j: int, cos: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        if j == i:  # ranked: its evidence is there already
            return feats["match"]
        return unit_match(searcher.params, searcher.evidence(q, j, cos, vectors))

    return sentence_table(searcher, q, i, match_of)


def answer_window(searcher, q: Query, i: int, feats: dict) -> tuple[int, int, int, int, int]:
    """The first quote of a news answer around ranked passage ``i``: (the passage row of its
    likeliest sentence, which the citation names; start, end; that sentence's span)."""
    sents, table = window_table(searcher, q, i, feats)
    if not sents:  # a passage without sentences: quoted whole
        passage = searcher.store.passages[i]
        return i, passage.start, passage.end, passage.start, passage.end
    prob = answer_odds(table)
    a, b = best_window(sents, prob, keep=quotable(table))
    top = a + int(np.argmax(prob[a:b + 1]))
    return sents[top][2], sents[a][0], sents[b][1], sents[top][0], sents[top][1]
