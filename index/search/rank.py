"""Search: rank passages (dense + BM25, then sentence evidence), quote the best ones, or say
"not found".

Ranking, in two stages (every weight is in SearchParams, measured by `citebot eval`):
1. every candidate passage (the best ``candidates`` by cosine and by BM25) gets a cheap score:
   its cosine, its best sentence's cosine and its BM25 score divided by the question's best;
2. the best ``rerank`` are scored again with what their sentences say (quotes.py: each
   sentence, with the one before when it leans on it, matched by cosine, question terms and
   question word pairs); a passage's score adds its best unit's match to its cosine.

Quotes are chosen in quotes.py; near-duplicate quotes of other articles become "also in".
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

import numpy as np

from ..answer import Answer, ArticleRef, Citation
from ..errors import UsageError
from ..store.store import IndexStore
from ..text import norm_words, strip_markup, words
from .lexical import (
    analyze,
    answer_kind_nouns,
    bigrams,
    idf,
    near_duplicate,
    question_terms,
    question_type,
    tokenize,
)
from .params import (
    SearchParams,
    clean_question,
    confidence_of,
    is_search,
    stage1_score,
    stage2_score,
)
from .quotes import (
    QUOTE_BUDGET,
    Query,
    Sentences,
    analyse_passage,
    coverage,
    evidence,
    quote_span,
    type_bonus,
    unit_match,
)
from .timeframe import TimeTerms, passage_days, read_timeframe, to_date
from .window import answer_window

_ANALYSIS_CACHE = 4096  # passages whose sentences stay tokenized between questions


class Searcher:
    """Answers questions from one loaded index with one question embedder."""

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

    def with_params(self, params: SearchParams) -> Searcher:
        """The same index and embedder with other params, sharing the sentence analyses."""
        other = Searcher(self.store, self.embedder, params)
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
    def _sentence_cosines(self, cand: np.ndarray, qvec: np.ndarray):
        """Cosine of every sentence of the candidate passages, and each passage's best; also
        the sentences' vectors as read (stage 2 reuses them: one read of the memory map)."""
        offsets = self.store.sentence_offsets
        lo, hi = offsets[cand], offsets[cand + 1]
        counts = hi - lo
        rows = np.repeat(lo - np.cumsum(np.r_[0, counts[:-1]]), counts) + np.arange(counts.sum())
        vecs = np.asarray(self.store.sentence_vectors[rows], dtype=np.float32)
        cos = (vecs @ qvec) if len(rows) else np.zeros(0)
        starts = np.cumsum(np.r_[0, counts[:-1]])
        best = np.full(len(cand), -1.0)
        has = counts > 0
        if has.any():
            best[has] = np.maximum.reduceat(cos, starts[has])
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
        dense_idx, dense_sc = self._dense(q.vec, min(n, p.candidates), rows, allowed)
        dense_rows = dense_idx.tolist()
        dense = dict(zip(dense_rows, dense_sc.tolist()))
        if mode != "dense" and q.tokens:
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
        cos, starts, counts, best, svecs = self._sentence_cosines(cand_arr, q.vec)
        best = np.where(counts > 0, best, d)
        if mode == "dense":
            score = d
        elif mode == "bm25":
            score = bm_c
        else:
            score = stage1_score(p, d, best, bn)
            if bonus is not None:
                score = score + bonus(cand_arr)
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

    # -- quotes ------------------------------------------------------------------------------
    def best_span(self, q: Query, passage_idx: int, feats: dict,
                  mode: str = "hybrid") -> tuple[int, int, int, int]:
        """The quote of a passage: (start, end, first, last sentence of its core unit); the
        baselines quote their best sentence by their own scoring."""
        s = self.sentences(passage_idx)
        if mode in ("dense", "bm25"):
            scores = feats["sent_scores"] if mode == "dense" else \
                [coverage(q, c) for c in s.content]
            k = int(np.argmax(scores))
            return s.spans[k][0], s.spans[k][1], k, k
        if "evidence" not in feats:
            feats["evidence"] = self.evidence(q, passage_idx, feats["sent_scores"])
            feats["match"] = unit_match(self.params, feats["evidence"])
        return quote_span(self.params, q, s, feats["match"], feats["evidence"]["units"])

    def across(self, i: int, start: int, end: int) -> tuple[int, int]:
        """Widen a quote into the next paragraph's first sentences (then the previous one's
        last) while it stays within QUOTE_BUDGET: news paragraphs are a sentence or two, and
        the one that names what a question asks for often follows the one that restates it."""
        store = self.store
        passage = store.passages[i]
        rows = store.article_rows(passage.article_id)
        if i + 1 < rows.stop:
            for _a, b in self.sentences(i + 1).spans:
                if b - start > QUOTE_BUDGET:
                    break
                end = b
        if end == passage.end or end <= passage.end:
            if i - 1 >= rows.start:
                for a, _b in reversed(self.sentences(i - 1).spans):
                    if end - a > QUOTE_BUDGET:
                        break
                    start = a
        return start, end

    def confidence(self, q: Query, ranked) -> float:
        """How sure the best passage answers (confidence_of), 0 when nothing was ranked."""
        if not ranked:
            return 0.0
        i, _, f = ranked[0]
        if "evidence" not in f:  # the baselines rank without sentence evidence
            f["evidence"] = self.evidence(q, i, f["sent_scores"])
            f["match"] = unit_match(self.params, f["evidence"])
        if not len(f["match"]):
            return 0.0
        return confidence_of(self.params, f["dense"], f["evidence"], int(np.argmax(f["match"])),
                             len(q.weights))

    def holds_all(self, q: Query, ranked_row) -> bool:
        """Does the passage's best unit hold every term of the question?"""
        i, _, f = ranked_row
        if "evidence" not in f:
            f["evidence"] = self.evidence(q, i, f["sent_scores"])
            f["match"] = unit_match(self.params, f["evidence"])
        terms = f["evidence"]["terms"]
        return bool(len(terms)) and float(terms.max()) >= 1.0 - 1e-9

    # -- the answer --------------------------------------------------------------------------
    def ask(self, question: str, k: int = 3, more: int = 7, mode: str | None = None,
            retrieval_text: str | None = None, threshold: float | None = None,
            articles: set[str] | None = None, as_of=None) -> Answer:
        """Answer a question with up to ``k`` cited quotes, or not found (as of ``as_of``:
        articles published after that date are not used)."""
        q = clean_question(question)
        # What is searched for leaves out pasted markup; the question is echoed as written.
        text = retrieval_text or q
        text = strip_markup(text) or text
        qvec = self.embedder.encode_query(text)
        return self.answer_from(q, text, qvec, tokenize(text), k=k, more=more, mode=mode,
                                threshold=threshold, articles=articles, as_of=as_of)

    def answer_from(self, question, text, qvec, tokens, k=3, more=7, mode=None,
                    threshold=None, articles=None, as_of=None) -> Answer:
        """The answer for an embedded, tokenized question (eval reuses the vectors)."""
        day = None
        if as_of is not None:  # later articles are left out like --since/--source ones
            day = to_date(as_of)
            if day is None:
                raise UsageError(f"not a date: {as_of!r}", fix="use YYYY-MM-DD")
        mode = mode or self.params.mode
        threshold = self.params.threshold if threshold is None else threshold
        q = self.query(text, qvec, tokens)
        p = self.params
        time = self.time_terms(text, day)
        tf = time.tf
        stamp = day.isoformat() if day is not None else None
        # Every passage that may be shown is scored fully.
        ranked = self.rank(q, mode=mode, articles=articles, rerank=max(p.rerank, k + more),
                           time=time)
        if not ranked:
            return Answer(question=question, answered=False, confidence=0.0, as_of=stamp)
        conf = self.confidence(q, ranked)
        search = is_search(q) if mode == "hybrid" else None
        if search == "keywords":  # the passages that hold every word searched for, if any do
            ranked = [r for r in ranked[: k + more + 5] if self.holds_all(q, r)] or ranked
        if search and ranked and conf < threshold and self.holds_all(q, ranked[0]):
            conf = threshold
        if conf < threshold or not ranked:
            return Answer(question=question, answered=False, confidence=conf, as_of=stamp)
        top_score = ranked[0][1]
        shown: list[tuple[tuple[str, ...], tuple[str, ...], Citation]] = []
        cites: list[Citation] = []
        for i, score, feats in ranked[: k + more + 5]:
            if len(cites) >= k + more:
                break
            passage = self.store.passages[i]
            article = self.store.article_by_id[passage.article_id]
            if mode == "hybrid" and p.window and not cites and article.published and \
                    not search:  # keyword searches quote the words searched for
                # The first quote of a news article: window.py.
                i, start, end, core_start, core_end = answer_window(self, q, i, feats)
                passage = self.store.passages[i]
            else:
                start, end, first, last = self.best_span(q, i, feats, mode)
                s = self.sentences(i)
                core_start, core_end = s.spans[first][0], s.spans[last][1]
                if mode == "hybrid" and p.cross and not cites:  # the first quote only
                    start, end = self.across(i, start, end)
            if any(c.article.id == article.id and c.start < end and start < c.end
                   for c in cites):  # already inside an earlier, wider quote
                continue
            core = norm_words(article.body[core_start:core_end])
            whole = norm_words(article.body[start:end])
            ref = ArticleRef(**article.meta())
            twin = next((c for c_core, c_whole, c in shown
                         if near_duplicate(core, c_core) or near_duplicate(whole, c_whole)), None)
            if twin is not None:  # the same words in another article: "also in"
                if ref.id != twin.article.id and ref not in twin.also_in:
                    twin.also_in.append(ref)
                continue
            c = Citation(id=passage.id, article=ref, quote=article.body[start:end], start=start,
                         end=end, score=score, paragraph=passage.paragraph)
            shown.append((core, whole, c))
            cites.append(c)
        main = [c for j, c in enumerate(cites[:k])
                if j == 0 or mode != "hybrid" or c.score >= p.relative_cut * top_score]
        rest = [c for c in cites if c not in main]
        if tf.present and p.newest_first and mode == "hybrid":
            # "What is the latest…": of the first quotes, the newest article's comes first
            # (stable: same-day or undated ones keep their order; undated count as oldest).
            main.sort(key=lambda c: c.article.published or "", reverse=True)
        return Answer(question=question, answered=True, citations=main, more=rest,
                      confidence=conf, as_of=stamp)
