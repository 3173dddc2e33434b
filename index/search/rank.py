"""Ranking: the passages for a question (dense + BM25, then sentence evidence), best first.
searcher.py quotes the best ones or says "not found".

Ranking, in two stages (every weight is in SearchParams, measured by `citebot eval`):
1. every candidate passage (the best ``candidates`` by cosine and by BM25) gets a cheap score:
   its cosine, its best sentence's cosine and its BM25 score divided by the question's best;
2. the best ``rerank`` are scored again with what their sentences say (quotes.py: each
   sentence, with the one before when it leans on it, matched by cosine, question terms and
   question word pairs); a passage's score adds its best unit's match to its cosine.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..store.store import IndexStore
from ..text import words
from .lexical import (
    analyze,
    answer_kind_nouns,
    bigrams,
    idf,
    question_terms,
    question_type,
    tokenize,
)
from .params import (
    SearchParams,
    stage1_score,
    stage2_score,
)
from .quotes import (
    Query,
    Sentences,
    analyse_passage,
    evidence,
    type_bonus,
    unit_match,
)
from .timeframe import TimeTerms, passage_days, read_timeframe

_ANALYSIS_CACHE = 4096  # passages whose sentences stay tokenized between questions
# Archive indexes with sentence codes: the candidates whose exact sentence vectors are read
# (a fresh question at 10M read all ~100 candidates' from disk: ~11 ms), and how far past the
# passages stage 2 scores again every one must have them (the answer quotes up to 5 more).
# On news dev the exact stage-1 top 10 was within the codes' top 30 for all 300 questions.
SENT_EXACT = 30
SENT_MARGIN = 8
_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The threads that run archive indexes' BM25 searches beside their dense ones."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=2, thread_name_prefix="citebot-bm25"))
            _numpy_blas_alone()
        return _POOL[0]


def _numpy_blas_alone() -> None:
    """numpy's BLAS at one thread from now on in this process (which answers questions).

    A question's products are small (2,048 x 384 at most) and OpenBLAS splits any above
    ~9,000 values over its threads: with the other core busy (an archive index's BM25 thread,
    another chat's question) each product waited for a thread to be free. At 10M passages a
    fresh question's dense search took 8 ms beside BM25, 4.5 ms with one thread; the full
    answer 15-16 -> 12-13 ms p50 (docs/benchmarks.md). FAISS's own BLAS (its k-means in a
    build) keeps its threads."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # a dependency; without it, answers are the same, only slower
        return
    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and "faiss" not in lib.filepath:
            lib.set_num_threads(1)


class Ranker:
    """Ranks passages of one loaded index for questions embedded by one question embedder."""

    def __init__(self, store: IndexStore, embedder, params: SearchParams | None = None):
        self.store = store
        self.embedder = embedder
        self.params = params or SearchParams()
        self.n_docs = max(1, len(store.passages))
        self._analysis: OrderedDict[int, Sentences] = OrderedDict()
        self._analysis_lock = threading.Lock()
        self._filter = None  # (article id set, its passage rows, their mask): see _rows_of
        self._days: np.ndarray | None = None  # passages' publication days (timeframe.py)
        self._last_day = -1
        self._cutoff = None  # (article id set, day, passage rows, mask): see _allowed_rows

    def with_params(self, params: SearchParams) -> Ranker:
        """The same index and embedder with other params, sharing the sentence analyses."""
        other = type(self)(self.store, self.embedder, params)
        other._analysis, other._analysis_lock = self._analysis, self._analysis_lock
        other._days, other._last_day = self._days, self._last_day
        return other

    # -- time --------------------------------------------------------------------------------
    @property
    def days(self) -> np.ndarray:
        """Each passage's publication day ordinal (-1: undated), computed once per index from
        its articles' dates (not per passage)."""
        if self._days is None:
            days = passage_days(self.store)
            self._last_day = int(days.max()) if len(days) else -1
            self._days = days
        return self._days

    def time_terms(self, question: str, as_of: dt.date | None) -> TimeTerms:
        """What the question's time asks of the ranking (timeframe.TimeTerms): the last day
        usable and the bonuses, computed for the candidates only."""
        tf = read_timeframe(question, as_of)
        p = self.params
        days = self.days
        day = tf.as_of.toordinal()
        return TimeTerms(tf, days, cutoff=day if self._last_day > day else None,
                         weight=p.t_present if tf.present else p.t_any, tau=p.t_tau,
                         period=p.t_period)

    # -- the question ------------------------------------------------------------------------
    def query(self, text: str, qvec: np.ndarray, tokens: list[str] | None = None) -> Query:
        """Everything ranking needs to know about a question."""
        tokens = tokenize(text) if tokens is None else tokens
        df = self.store.doc_freq
        weights = {t: idf(df.get(t, 0), self.n_docs) for t in question_terms(tokens)}
        if self.params.wh_noun != 1.0:
            for t in answer_kind_nouns(text):
                if t in weights:
                    weights[t] *= self.params.wh_noun
        stems, _ = analyze(text)
        return Query(text=text, vec=np.asarray(qvec, dtype=np.float32).reshape(-1),
                     tokens=tokens, weights=weights, pairs=bigrams(stems),
                     kind=question_type(text), asked=set(words(text)),
                     kind_nouns=frozenset(answer_kind_nouns(text)) & weights.keys())

    # -- sentences of a passage --------------------------------------------------------------
    def sentences(self, i: int) -> Sentences:
        """Passage ``i``'s sentences with their stems (kept for the next questions; front ends
        answer from several threads, hence the lock)."""
        with self._analysis_lock:
            got = self._analysis.get(i)
            if got is not None:
                self._analysis.move_to_end(i)
                return got
        passage = self.store.passages[i]
        article = self.store.article_by_id[passage.article_id]
        got = analyse_passage(article.body, passage.sentences,
                              f"{article.title} {passage.heading or ''}")
        with self._analysis_lock:
            self._analysis[i] = got
            if len(self._analysis) > _ANALYSIS_CACHE:
                self._analysis.popitem(last=False)
        return got

    def evidence(self, q: Query, i: int, cos: np.ndarray,
                 vectors: np.ndarray | None = None) -> dict:
        """What each sentence unit of passage ``i`` says for the question (quotes.evidence);
        ``vectors``: its sentences' vectors when the caller has read them already."""
        if vectors is None:
            lo, hi = self.store.sentence_rows(i)
            vectors = np.asarray(self.store.sentence_vectors[lo:hi], dtype=np.float32)
        return evidence(q, self.sentences(i), cos, vectors)

    # -- ranking -----------------------------------------------------------------------------
    def _sentence_rows(self, cand: np.ndarray):
        """The rows of the candidates' sentences, one candidate after another: (rows, where
        each candidate's start, how many each has)."""
        offsets = self.store.sentence_offsets
        lo, hi = offsets[cand], offsets[cand + 1]
        counts = hi - lo
        starts = np.zeros(len(counts), dtype=np.int64)  # where each one's sentences start
        np.cumsum(counts[:-1], out=starts[1:])
        rows = np.repeat(lo - starts, counts) + np.arange(counts.sum())
        return rows, starts, counts

    @staticmethod
    def _best(cos: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
        best = np.full(len(counts), -1.0)
        has = counts > 0
        if has.any():
            best[has] = np.maximum.reduceat(cos, starts[has])
        return best

    def _sentence_cosines(self, cand: np.ndarray, qvec: np.ndarray):
        """Cosine of every sentence of the candidate passages, and each passage's best; also
        the sentences' vectors as read (stage 2 reuses them: one read of the memory map)."""
        rows, starts, counts = self._sentence_rows(cand)
        self.store.prefetch_sentences(rows)
        vecs = np.asarray(self.store.sentence_vectors[rows], dtype=np.float32)
        cos = (vecs @ qvec) if len(rows) else np.zeros(0)
        return cos, starts, counts, self._best(cos, starts, counts), vecs

    def _sentence_cosines_coarse(self, cand: np.ndarray, qvec: np.ndarray, codes,
                                 fill: np.ndarray, score_of, need: int):
        """_sentence_cosines for an archive index with sentence codes (archive.SentenceCodes):
        every cosine from the codes first; then the exact vectors of the SENT_EXACT best
        candidates by ``score_of(best cosines, ``fill`` where none)``, and again of any of the
        best ``need`` still scored from codes, until none is. The vectors of the others are
        left zero: stage 2 and the quotes use only the first ones."""
        rows, starts, counts = self._sentence_rows(cand)
        cos = codes.cosines(rows, qvec)
        vecs = np.zeros((len(rows), len(qvec)), dtype=np.float32)
        done = np.zeros(len(cand), dtype=bool)
        best = self._best(cos, starts, counts)
        take = np.argsort(-score_of(np.where(counts > 0, best, fill)), kind="stable")[:SENT_EXACT]
        while len(take):
            fresh = np.zeros(len(cand), dtype=bool)
            fresh[take] = True
            done |= fresh
            at = np.flatnonzero(np.repeat(fresh, counts))  # their sentences' positions
            self.store.prefetch_sentences(rows[at])
            vecs[at] = np.asarray(self.store.sentence_vectors[rows[at]], dtype=np.float32)
            cos[at] = vecs[at] @ qvec
            best = self._best(cos, starts, counts)
            top = np.argsort(-score_of(np.where(counts > 0, best, fill)), kind="stable")[:need]
            take = top[~done[top]]
        return cos, starts, counts, best, vecs

    def rank(self, q: Query, mode: str | None = None, articles: set[str] | None = None,
             rerank: int | None = None,
             time: TimeTerms | None = None) -> list[tuple[int, float, dict]]:
        """Passages for a question, best first: (passage index, score, features).

        ``articles``, when given, keeps only passages of those article ids (--since, --source);
        ``time``: the question's time (time_terms): passages of articles published after its
        day are not searched, and its bonus is added to the candidates' scores (hybrid only);
        a passage of an article not published in the period the question names that names
        the period's year is about it, and gets t_period;
        ``rerank``: how many get the second stage (default SearchParams.rerank).
        """
        p = self.params
        mode = mode or p.mode
        n = len(self.store.passages)
        rows, allowed = self._allowed_rows(articles, time.cutoff if time else None)
        bonus = time.bonus if time is not None and mode == "hybrid" else None
        lexical = mode != "dense" and bool(q.tokens)
        # An archive index (millions of passages) takes ~10 ms for each of the two searches:
        # BM25 runs in a second thread meanwhile (both release the GIL for their work), and
        # the dense candidates' BM25 scores are looked up after (bitwise the same values).
        pending = _pool().submit(self.store.bm25_top, q.tokens, p.candidates, allowed) \
            if lexical and getattr(self.store, "exact", None) is not None else None
        dense_idx, dense_sc = self._dense(q.vec, min(n, p.candidates), rows, allowed)
        dense_rows = dense_idx.tolist()
        dense = dict(zip(dense_rows, dense_sc.tolist()))
        if pending is not None:
            hits, hit_sc = pending.result()
            dense_bm = self.store.bm25_scores_of(q.tokens, dense_idx)
        elif lexical:
            hits, hit_sc, dense_bm = self.store.bm25_top(q.tokens, p.candidates,
                                                         allowed=allowed, also=dense_idx)
        else:
            hits, hit_sc = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            dense_bm = np.zeros(len(dense_idx), dtype=np.float32)
        hit_rows = hits.tolist()
        bm = dict(zip(dense_rows, dense_bm.tolist()))
        bm.update(zip(hit_rows, hit_sc.tolist()))
        if mode == "bm25":
            cand = hit_rows
        elif mode == "dense":
            cand = list(dense)
        else:
            cand = list(dict.fromkeys([*dense, *hit_rows]))
        if not cand:
            return []
        cand_arr = np.asarray(cand, dtype=np.int64)
        d = np.array([dense.get(i, 0.0) for i in cand], dtype=np.float64)
        # BM25-only candidates' cosines, from their stored vectors read in one batch (each
        # row's own dot product, as one at a time gave).
        miss = [j for j, i in enumerate(cand) if i not in dense]
        if miss:
            vecs = self.store.passage_vectors(cand_arr[miss])
            d[miss] = [float(v @ q.vec) for v in vecs]
        bm_c = np.array([bm.get(i, 0.0) for i in cand], dtype=np.float64)
        bm_max = float(bm_c.max()) if len(bm_c) else 0.0
        bn = bm_c / bm_max if bm_max > 0 else np.zeros(len(cand))
        extra = bonus(cand_arr) if bonus is not None else 0.0
        codes = getattr(self.store, "sentence_codes", None)
        if mode == "hybrid" and codes is not None and len(cand) > SENT_EXACT:
            cos, starts, counts, best, svecs = self._sentence_cosines_coarse(
                cand_arr, q.vec, codes, d, lambda b: stage1_score(p, d, b, bn) + extra,
                max(1, rerank or p.rerank) + SENT_MARGIN)
        else:
            cos, starts, counts, best, svecs = self._sentence_cosines(cand_arr, q.vec)
        best = np.where(counts > 0, best, d)
        if mode == "dense":
            score = d
        elif mode == "bm25":
            score = bm_c
        else:
            score = stage1_score(p, d, best, bn) + extra
        # Python floats in one conversion per array, not one per candidate and feature.
        order = np.argsort(-score, kind="stable").tolist()
        score_l, d_l, best_l = score.tolist(), d.tolist(), best.tolist()
        bn_l, bm_l = bn.tolist(), bm_c.tolist()
        starts_l, counts_l = starts.tolist(), counts.tolist()
        out = [(cand[j], score_l[j],
                {"dense": d_l[j], "sent": best_l[j], "bm25": bn_l[j], "bm25_raw": bm_l[j],
                 "sent_scores": cos[starts_l[j]:starts_l[j] + counts_l[j]]}) for j in order]
        if mode != "hybrid":
            return out
        # Stage 2: the best few again, with what their sentences say.
        head = out[: max(1, rerank or p.rerank)]
        self.store.prefetch_bodies([i for i, _, _ in out[: len(head) + SENT_MARGIN]])
        year = time.tf.year if time is not None and time.period else None
        if bonus is not None:
            head_bonus = bonus(np.asarray([i for i, _, _ in head], dtype=np.int64))
        if year:
            about = time.about(np.asarray([i for i, _, _ in head], dtype=np.int64))
        for j, (i, _, f) in enumerate(head):
            at = starts_l[order[j]]
            f["evidence"] = self.evidence(q, i, f["sent_scores"],
                                          svecs[at:at + len(f["sent_scores"])])
            f["match"] = unit_match(p, f["evidence"])
            m = f["match"]
            if p.w_type and q.kind and len(m):
                m = m + p.w_type * type_bonus(p, q, self.sentences(i), f["evidence"]["units"])
            best_match = float(m.max()) if len(m) else 0.0
            f["time"] = float(head_bonus[j]) if bonus is not None else 0.0
            if year and not about[j] and \
                    any(year in t for t in self.sentences(i).texts):
                f["time"] += p.t_period
            head[j] = (i, stage2_score(p, f["dense"], f["bm25"], best_match) + f["time"], f)
        head.sort(key=lambda r: -r[1])
        return head + out[len(head):]

    def _dense(self, qvec, k: int, rows, allowed):
        """The k nearest allowed passages. When most passages are allowed (as of a recent
        date), the unfiltered search 4k deep holds them: a FAISS selector over most of the
        index costs more than it saves (news dev as_of p50 31.6 -> 14.7 ms, consecutive
        runs on the shared machine)."""
        if rows is not None and 2 * len(rows) > len(allowed):
            idx, sc = self.store.dense_search(qvec, min(len(allowed), 4 * k))
            keep = allowed[idx]
            if keep.sum() >= k:
                return idx[keep][:k], sc[keep][:k]
        return self.store.dense_search(qvec, k, rows=rows)

    def _allowed_rows(self, articles: set[str] | None, cutoff: int | None):
        """The passage rows that may be used and their mask, or (None, None) for all: those of
        ``articles`` (None: any) published by day ordinal ``cutoff`` (None: any), undated ones
        too. The last answer is kept: a session or an eval run asks with the same ones."""
        if articles is None and cutoff is None:
            return None, None
        cached = self._cutoff
        if cached is not None and cached[0] is articles and cached[1] == cutoff:
            return cached[2], cached[3]
        allowed = self.days <= cutoff if cutoff is not None else None
        if articles is not None:
            rows, by_article = self._rows_of(articles)
            if allowed is None:
                return rows, by_article
            allowed = allowed & by_article
        rows = np.flatnonzero(allowed)
        self._cutoff = (articles, cutoff, rows, allowed)
        return rows, allowed

    def _rows_of(self, articles: set[str]) -> tuple[np.ndarray, np.ndarray]:
        """The passage rows of these articles and their mask (the last set's kept: a session's
        --since/--source asks with the same set every time)."""
        cached = self._filter
        if cached is not None and cached[0] is articles:
            return cached[1], cached[2]
        rows = self.store.rows_of_articles(articles)
        allowed = np.zeros(len(self.store.passages), dtype=bool)
        allowed[rows] = True
        self._filter = (articles, rows, allowed)
        return rows, allowed
