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

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..answer import Answer, ArticleRef, Citation
from ..errors import BadQuestion, UsageError
from ..store.store import IndexStore
from ..text import norm_words, question_text, words
from .lexical import (
    analyze,
    bigrams,
    idf,
    near_duplicate,
    question_terms,
    question_type,
    tokenize,
)
from .quotes import (
    Query,
    Sentences,
    analyse_passage,
    coverage,
    evidence,
    quote_span,
    unit_match,
)

MAX_QUESTION_CHARS = 1000
_ANALYSIS_CACHE = 4096  # passages whose sentences stay tokenized between questions


@dataclass
class SearchParams:
    """Every weight of ranking, quoting and "not found", in one place.

    Measured on ../shared/eval/squad2-dev-subset.json (3 Wikipedia articles, 473 answerable
    questions) with `citebot eval`; docs/benchmarks.md, "Answer quality", has the figures and
    the commands that reproduce them. Figures below: passage recall@1 / answer-in-quote@1."""

    mode: str = "hybrid"           # hybrid | dense | bm25
    candidates: int = 50           # passages taken from each ranking (dense, BM25)
    # Stage 1 only picks the passages stage 2 sees (recall@10 0.99): a listwise logistic fit of
    # these three features, leave-one-article-out recall@1 0.88 on its own.
    r_dense: float = 0.18          # passage cosine
    r_sent: float = 0.56           # best sentence cosine
    r_bm25: float = 0.26           # BM25 / the question's best BM25
    rerank: int = 10               # passages scored again with sentence evidence
    # Stage 2 and quotes: the grid of `citebot eval --squad … --tune` (tuning.py). Leaving one
    # article out, the grid's choice scores 0.909 / 0.882 on the article left out; these values
    # score 0.920 / 0.896 on all three, the grid's best there 0.924 / 0.903 (a difference below
    # the spread between neighbouring settings, so the values of the first round were kept).
    w_dense: float = 0.40          # passage cosine
    w_bm25: float = 0.0            # BM25 / the question's best BM25 (its lexical evidence is in
                                   # the match; 0 to 0.1 score alike)
    w_match: float = 0.60          # best unit match: cosine + m_lex * terms + m_phrase * pairs
    m_lex: float = 1.0             # share of the question's idf weight the unit holds
    m_phrase: float = 0.5          # share of the question's word pairs the unit holds
    q_type: float = 0.3            # the unit holds a date / number / name the question asks for
    grow: bool = True              # widen the quote with matching neighbours within the budget:
                                   # answer-in-quote@1 0.85 -> 0.89
    pair_margin: float = 0.2       # a leaning sentence quoted with only the end of the one before
                                   # must beat that whole sentence alone by this much
    # "Not found" (confidence_of): `citebot eval` prints the calibrated threshold. SQuAD subset:
    # answerable answered 99.4%, other articles' questions refused 99.6%, the general ones all;
    # seed corpus (tests/test_search.py): on-topic >= 0.63, off-topic <= 0.44, vague
    # follow-ups ("How many officers were in it?") <= 0.45.
    min_terms: int = 2             # question terms for the term share to count
    threshold: float = 0.54
    relative_cut: float = 0.80     # further citations need this share of the first one's score


def clean_question(question: str) -> str:
    """Validate and normalize a question; raises BadQuestion with a readable reason."""
    if question is None:
        raise BadQuestion("the question is empty")
    q = question_text(question)
    if not q:
        raise BadQuestion("the question is empty")
    if len(q) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"the question is too long ({len(q)} characters; "
                          f"the limit is {MAX_QUESTION_CHARS})")
    if not any(ch.isalnum() for ch in q):
        raise BadQuestion("the question has no words to search for")
    return q


def stage1_score(p: SearchParams, dense, sent, bm25):
    """Cheap score of every candidate: passage cosine, best sentence cosine, relative BM25."""
    return p.r_dense * dense + p.r_sent * sent + p.r_bm25 * bm25


def stage2_score(p: SearchParams, dense: float, bm25: float, best_match: float) -> float:
    """Score of a reranked passage: passage cosine, relative BM25, its best unit's match."""
    return p.w_dense * dense + p.w_bm25 * bm25 + p.w_match * best_match


def confidence_of(p: SearchParams, dense: float, ev: dict, k: int, n_terms: int) -> float:
    """How sure the best passage answers, from its best unit ``k``: the stage-2 score without
    its BM25 part (relative to the question's best passage, it cannot tell an off-topic
    question), and without the share of question terms when the question names fewer than
    ``min_terms`` things: "How many officers were in it?" is not answered by any sentence
    that says "officers" (its meaning and shared phrases still count)."""
    match = unit_match(p, ev, terms=n_terms >= p.min_terms)[k]
    return max(0.0, (p.w_dense * dense + p.w_match * float(match)) / (p.w_dense + p.w_match))


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

    def with_params(self, params: SearchParams) -> Searcher:
        """The same index and embedder with other params, sharing the sentence analyses."""
        other = Searcher(self.store, self.embedder, params)
        other._analysis, other._analysis_lock = self._analysis, self._analysis_lock
        return other

    # -- the question ------------------------------------------------------------------------
    def query(self, text: str, qvec: np.ndarray, tokens: list[str] | None = None) -> Query:
        """Everything ranking needs to know about a question."""
        tokens = tokenize(text) if tokens is None else tokens
        df = self.store.doc_freq
        weights = {t: idf(df.get(t, 0), self.n_docs) for t in question_terms(tokens)}
        stems, _ = analyze(text)
        return Query(text=text, vec=np.asarray(qvec, dtype=np.float32).reshape(-1),
                     tokens=tokens, weights=weights, pairs=bigrams(stems),
                     kind=question_type(text), asked=set(words(text)))

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
        got = analyse_passage(article.body, passage.sentences)
        with self._analysis_lock:
            self._analysis[i] = got
            if len(self._analysis) > _ANALYSIS_CACHE:
                self._analysis.popitem(last=False)
        return got

    def evidence(self, q: Query, i: int, cos: np.ndarray) -> dict:
        """What each sentence unit of passage ``i`` says for the question (quotes.evidence)."""
        lo, hi = self.store.sentence_rows(i)
        return evidence(q, self.sentences(i), cos,
                        np.asarray(self.store.sentence_vectors[lo:hi]))

    # -- ranking -----------------------------------------------------------------------------
    def _sentence_cosines(self, cand: np.ndarray, qvec: np.ndarray):
        """Cosine of every sentence of the candidate passages, and each passage's best."""
        offsets = self.store.sentence_offsets
        lo, hi = offsets[cand], offsets[cand + 1]
        counts = hi - lo
        rows = np.repeat(lo - np.cumsum(np.r_[0, counts[:-1]]), counts) + np.arange(counts.sum())
        cos = (np.asarray(self.store.sentence_vectors[rows]) @ qvec) if len(rows) else np.zeros(0)
        starts = np.cumsum(np.r_[0, counts[:-1]])
        best = np.full(len(cand), -1.0)
        has = counts > 0
        if has.any():
            best[has] = np.maximum.reduceat(cos, starts[has])
        return cos, starts, counts, best

    def rank(self, q: Query, mode: str | None = None, articles: set[str] | None = None,
             rerank: int | None = None) -> list[tuple[int, float, dict]]:
        """Passages for a question, best first: (passage index, score, features).

        ``articles``, when given, keeps only passages of those article ids (--since, --source);
        ``rerank``: how many get the second stage (default SearchParams.rerank).
        """
        p = self.params
        mode = mode or p.mode
        n = len(self.store.passages)
        # With a filter, only the allowed passages are searched (by their table rows).
        rows = allowed = None
        if articles is not None:
            rows, allowed = self._rows_of(articles)
        dense_idx, dense_sc = self.store.dense_search(q.vec, min(n, p.candidates), rows=rows)
        dense = dict(zip(dense_idx.tolist(), dense_sc.tolist()))
        if mode != "dense" and q.tokens:
            hits, hit_sc, dense_bm = self.store.bm25_top(q.tokens, p.candidates,
                                                         allowed=allowed, also=dense_idx)
        else:
            hits, hit_sc = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            dense_bm = np.zeros(len(dense_idx), dtype=np.float32)
        bm = dict(zip(dense_idx.tolist(), dense_bm.tolist()))
        bm.update(zip(hits.tolist(), hit_sc.tolist()))
        if mode == "bm25":
            cand = hits.tolist()
        elif mode == "dense":
            cand = list(dense)
        else:
            cand = list(dict.fromkeys([*dense, *hits.tolist()]))
        if not cand:
            return []
        cand_arr = np.asarray(cand, dtype=np.int64)
        d = np.array([dense[i] if i in dense
                      else float(self.store.passage_vector(i) @ q.vec) for i in cand],
                     dtype=np.float64)
        bm_c = np.array([bm.get(i, 0.0) for i in cand], dtype=np.float64)
        bm_max = float(bm_c.max()) if len(bm_c) else 0.0
        bn = bm_c / bm_max if bm_max > 0 else np.zeros(len(cand))
        cos, starts, counts, best = self._sentence_cosines(cand_arr, q.vec)
        best = np.where(counts > 0, best, d)
        if mode == "dense":
            score = d
        elif mode == "bm25":
            score = bm_c
        else:
            score = stage1_score(p, d, best, bn)
        feats = [{"dense": float(d[j]), "sent": float(best[j]), "bm25": float(bn[j]),
                  "bm25_raw": float(bm_c[j]),
                  "sent_scores": cos[starts[j]:starts[j] + counts[j]]} for j in range(len(cand))]
        order = np.argsort(-score, kind="stable")
        out = [(cand[j], float(score[j]), feats[j]) for j in order]
        if mode != "hybrid":
            return out
        # Stage 2: the best few again, with what their sentences say.
        head = out[: max(1, rerank or p.rerank)]
        for j, (i, _, f) in enumerate(head):
            f["evidence"] = self.evidence(q, i, f["sent_scores"])
            f["match"] = unit_match(p, f["evidence"])
            best_match = float(f["match"].max()) if len(f["match"]) else 0.0
            head[j] = (i, stage2_score(p, f["dense"], f["bm25"], best_match), f)
        head.sort(key=lambda r: -r[1])
        return head + out[len(head):]

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

    # -- the answer --------------------------------------------------------------------------
    def ask(self, question: str, k: int = 3, more: int = 7, mode: str | None = None,
            retrieval_text: str | None = None, threshold: float | None = None,
            articles: set[str] | None = None, as_of=None) -> Answer:
        """Answer a question with up to ``k`` cited quotes, or not found (as of ``as_of``:
        articles published after that date are not used)."""
        q = clean_question(question)
        text = retrieval_text or q
        qvec = self.embedder.encode_query(text)
        return self.answer_from(q, text, qvec, tokenize(text), k=k, more=more, mode=mode,
                                threshold=threshold, articles=articles, as_of=as_of)

    def published_by(self, day: str) -> set[str]:
        """Ids of the articles published on or before ``day`` (YYYY-MM-DD), undated ones too."""
        from ..ingest.draft import normalize_date

        if getattr(self, "_dates", None) is None:  # read once per loaded index
            self._dates = {a.id: normalize_date(a.published) for a in self.store.articles}
        return {i for i, d in self._dates.items() if d is None or d <= day}

    def answer_from(self, question, text, qvec, tokens, k=3, more=7, mode=None,
                    threshold=None, articles=None, as_of=None) -> Answer:
        """The answer for an embedded, tokenized question (eval reuses the vectors)."""
        if as_of is not None:  # later articles are left out like --since/--source ones
            from ..ingest.draft import normalize_date

            day = normalize_date(as_of)
            if day is None:
                raise UsageError(f"not a date: {as_of!r}", fix="use YYYY-MM-DD")
            allowed = self.published_by(day)
            if len(allowed) == len(self._dates):
                allowed = None  # every article counts: no filter (and no deeper search)
            if articles is not None:
                allowed = set(articles) if allowed is None else allowed & set(articles)
            answer = self.answer_from(question, text, qvec, tokens, k=k, more=more, mode=mode,
                                      threshold=threshold, articles=allowed)
            answer.as_of = day
            return answer
        mode = mode or self.params.mode
        threshold = self.params.threshold if threshold is None else threshold
        q = self.query(text, qvec, tokens)
        p = self.params
        # Every passage that may be shown is scored fully.
        ranked = self.rank(q, mode=mode, articles=articles, rerank=max(p.rerank, k + more))
        if not ranked:
            return Answer(question=question, answered=False, confidence=0.0)
        conf = self.confidence(q, ranked)
        if conf < threshold:
            return Answer(question=question, answered=False, confidence=conf)
        top_score = ranked[0][1]
        shown: list[tuple[tuple[str, ...], tuple[str, ...], Citation]] = []
        cites: list[Citation] = []
        for i, score, feats in ranked[: k + more + 5]:
            if len(cites) >= k + more:
                break
            passage = self.store.passages[i]
            article = self.store.article_by_id[passage.article_id]
            start, end, first, last = self.best_span(q, i, feats, mode)
            s = self.sentences(i)
            core = norm_words(article.body[s.spans[first][0]:s.spans[last][1]])
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
        return Answer(question=question, answered=True, citations=main, more=rest,
                      confidence=conf)
