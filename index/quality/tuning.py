"""Choosing SearchParams by measurement: a grid over the stage-2 and quote weights, scored on
SQuAD-format data and cross-validated by leaving one article out.

Every setting is scored with the Searcher's own functions (stage2_score, unit_match, best_span)
on evidence gathered once per question, so the tuned formula is the shipped formula. A setting's
figure is the mean of passage recall@1 and answer-in-quote@1 (without "not found": the threshold
is calibrated separately, evaluate.calibrate). For each article, the setting that is best on the
other articles' questions is then scored on that article's questions: the held-out figures.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from ..search.lexical import tokenize
from ..search.params import SearchParams, clean_question, stage2_score
from ..search.quotes import unit_match
from ..search.searcher import Searcher

GRID = {
    "w_bm25": (0.0, 0.05, 0.1, 0.2, 0.3),
    "match_share": (0.3, 0.4, 0.5, 0.6, 0.7),  # w_match / (w_dense + w_match)
    "m_lex": (0.5, 1.0, 1.5),
    "m_phrase": (0.5, 1.0, 1.5),
    "q_type": (0.0, 0.15, 0.3, 0.5),
}


def params_for(base: SearchParams, w_bm25, match_share, m_lex, m_phrase, q_type) -> SearchParams:
    """A grid point as SearchParams (stage-2 weights sum to 1)."""
    rest = 1.0 - w_bm25
    return replace(base, w_bm25=w_bm25, w_dense=round(rest * (1 - match_share), 4),
                   w_match=round(rest * match_share, 4), m_lex=m_lex, m_phrase=m_phrase,
                   q_type=q_type)


def _gather(searcher: Searcher, questions, vecs, golds):
    """Per question: its Query and its stage-1 top passages with their sentence evidence."""
    out = []
    for q, v, gold in zip(questions, vecs, golds):
        text = clean_question(q.question)
        query = searcher.query(text, v, tokenize(text))
        ranked = searcher.rank(query, rerank=searcher.params.rerank)
        head = ranked[: searcher.params.rerank]
        out.append((query, head, gold, q.answers))
    return out


def grid_scores(searcher: Searcher, questions, vecs, golds, grid: dict = GRID):
    """(settings, recall@1 hits, answer-in-quote@1 hits): arrays of settings x questions."""
    gathered = _gather(searcher, questions, vecs, golds)
    keys = list(grid)
    settings = [dict(zip(keys, values)) for values in itertools.product(*grid.values())]
    r1 = np.zeros((len(settings), len(questions)), dtype=bool)
    inq = np.zeros_like(r1)
    tuner = searcher.with_params(searcher.params)  # sentences analysed once, for all settings
    for s_i, setting in enumerate(settings):
        p = params_for(searcher.params, **setting)
        tuner.params = p
        for q_i, (query, head, gold, answers) in enumerate(gathered):
            if not head:
                continue
            best, best_score, best_feats = None, -1e9, None
            for i, _, f in head:
                match = unit_match(p, f["evidence"])
                score = stage2_score(p, f["dense"], f["bm25"], float(match.max()))
                if score > best_score:
                    best, best_score, best_feats = i, score, {**f, "match": match}
            r1[s_i, q_i] = tuner.store.passages[best].id in gold
            start, end, _, _ = tuner.best_span(query, best, best_feats)
            body = tuner.store.article_by_id[tuner.store.passages[best].article_id].body
            inq[s_i, q_i] = any(a in body[start:end] for a in answers)
    return settings, r1, inq


def _choose(settings, objective: np.ndarray, defaults: dict) -> int:
    """The best setting; among equals, the one nearest the defaults (stable under ties)."""
    top = objective.max()
    tied = [i for i in range(len(settings)) if objective[i] >= top - 1e-12]
    return min(tied, key=lambda i: sum(abs(settings[i][k] - defaults.get(k, 0))
                                       for k in settings[i]))


def cross_validate(searcher: Searcher, questions, vecs, golds, grid: dict = GRID) -> dict:
    """Leave-one-article-out: per article, the setting chosen on the others and its figures."""
    settings, r1, inq = grid_scores(searcher, questions, vecs, golds, grid)
    objective = (r1.astype(float) + inq.astype(float)) / 2
    p = searcher.params
    defaults = {"w_bm25": p.w_bm25, "match_share": p.w_match / (p.w_dense + p.w_match),
                "m_lex": p.m_lex, "m_phrase": p.m_phrase, "q_type": p.q_type}
    articles = np.array([q.article_id for q in questions])
    folds, held_r1, held_inq = [], 0.0, 0.0
    for article in sorted(set(articles)):
        test = articles == article
        train = ~test
        pick = _choose(settings, objective[:, train].mean(1), defaults)
        folds.append({"held_out": article, "questions": int(test.sum()),
                      "setting": settings[pick],
                      "train_recall@1": float(r1[pick, train].mean()),
                      "train_answer_in_quote@1": float(inq[pick, train].mean()),
                      "recall@1": float(r1[pick, test].mean()),
                      "answer_in_quote@1": float(inq[pick, test].mean())})
        held_r1 += r1[pick, test].sum()
        held_inq += inq[pick, test].sum()
    best = _choose(settings, objective.mean(1), defaults)
    n = len(questions)
    here = next((i for i, st in enumerate(settings) if all(
        abs(st[k] - defaults[k]) < 1e-9 for k in st)), None)
    return {"settings": len(settings), "folds": folds,
            "defaults": None if here is None else {
                "setting": settings[here], "recall@1": float(r1[here].mean()),
                "answer_in_quote@1": float(inq[here].mean()),
                "per_article": {a: {"recall@1": float(r1[here, articles == a].mean()),
                                    "answer_in_quote@1": float(inq[here, articles == a].mean())}
                                for a in sorted(set(articles))}},
            "held_out": {"recall@1": held_r1 / n, "answer_in_quote@1": held_inq / n},
            "best": {"setting": settings[best], "recall@1": float(r1[best].mean()),
                     "answer_in_quote@1": float(inq[best].mean()),
                     "params": {k: getattr(params_for(p, **settings[best]), k)
                                for k in ("w_dense", "w_bm25", "w_match", "m_lex", "m_phrase",
                                          "q_type")}}}
