"""Search: the answer to a question, as quotes of the best-ranked passages, or "not found".

Passages are ranked by rank.Ranker; the quote of each is chosen in quotes.py (and, for the
first quote of a news article, window.py); near-duplicate quotes of other articles become
"also in".
"""

from __future__ import annotations

import numpy as np

from ..answer import Answer, ArticleRef, Citation
from ..errors import UsageError
from ..text import norm_words, strip_markup
from .lexical import near_duplicate, tokenize
from .params import clean_question, confidence_of, is_search
from .quotes import QUOTE_BUDGET, Query, coverage, quote_span, unit_match
from .rank import Ranker
from .timeframe import to_date
from .window import answer_window


class Searcher(Ranker):
    """Answers questions from one loaded index with one question embedder."""

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
                    q.kind and not search:
                # The first quote of a news answer to a question asking for a kind of thing
                # (window.py); keyword searches quote the words searched for, as below.
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
