"""Citation lookups: where does a quote come from, and is it quoted right?

API (what front ends call)::

    from index.cite.lookup import lookup, lookup_with_bot
    result = lookup(store, text, limit=5, embedder=None)   # store: a loaded IndexStore
    result = lookup_with_bot(bot, text, limit=5)           # bot: an engine.Citebot
    result.kind        # "exact" | "close" | "none"
    result.matches     # list[CiteMatch], best first ([] for "none")
    result.to_dict()   # {"query", "kind", "total", "matches": [m.to_dict(), ...]}

Each ``CiteMatch`` has ``id`` (citation id of the passage where the quote starts, e.g.
``mss-renewal:p3``; ``source`` accepts it, and ``<article>:<start>-<end>`` as well), ``article``
(an ArticleRef), ``paragraph``, ``quote``, ``start``, ``end`` (``quote == body[start:end]``,
always the article's own wording), ``exact``, ``similarity`` (1.0 for exact matches) and
``diff`` (list of cite_diff.DiffOp, word by word, empty for exact matches).

- **exact**: the text occurs in an article up to whitespace, curly/straight quotes, dashes and
  case (see cite_diff) -> every occurrence (up to MAX_EXACT; ``total`` counts them all). A match
  must start and end on word boundaries ("art" is not found in "party"). Surrounding quotation
  marks are ignored; if the text as given has no occurrence, it is tried again without its
  outer punctuation (a final "." the article has as ","). No embedding model is needed.
- **close**: otherwise the best sentences and adjacent sentence pairs (a two-sentence
  paraphrase), ranked by similarity = W_DENSE * cosine + W_LEX * lexical, at most ``limit``,
  overlapping candidates removed. ``embedder`` embeds the text (the index's model; it may be a
  zero-argument callable, called only when needed). Without one, similarity is lexical alone.
- **none**: the best similarity is below CUTOFF (LEX_CUTOFF without an embedder); calibrated
  on paraphrases vs sentences from outside the corpus (README, "Citation lookups").

Raises ``BadQuestion`` (a UsageError, exit code 2) for empty, over-long or wordless text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import weakref
from dataclasses import dataclass, field

import numpy as np

from ..answer import ArticleRef
from ..search.lexical import idf, tokenize
from ..store.store import IndexStore
from ..text import checked, lookup_text, words_escape_tokens
from . import dense
from .bounded_cache import CharBudgetCache
from .diff import DiffOp, is_wordish, normalize, normalize_map, word_diff

MAX_TEXT_CHARS = 5000      # a pasted paragraph or two; longer is not a quote lookup
MAX_EXACT = 100            # occurrences returned (all are counted in ``total``)
W_DENSE, W_LEX = 0.6, 0.4  # similarity = W_DENSE * cosine + W_LEX * lexical
CUTOFF = 0.42              # below: "none" (calibrated, see README)
LEX_CUTOFF = 0.30          # the same without an embedder (lexical similarity alone)
RELATIVE = 0.75            # further close matches need this share of the best similarity
DENSE_CANDIDATES = 30      # singles and pairs taken by cosine before lexical re-scoring
MAX_STEM_ROWS = 100_000    # sentences whose stems are kept for close matching
BM25_PASSAGES = 10         # passages taken by BM25 whose sentences are candidates too
# ... found by the text's rarest terms only: a quoted sentence has ~20, and the common ones'
# posting lists are most of the work at scale (1M passages: 31 ms -> see docs) while the rare
# ones find the sentence (its words are all scored again below).
BM25_TERMS = 8

_OUTER_PUNCT = ".,;:!?…()[]{}-–—\"'“”‘’«»„‚ \t\r\n"


@dataclass
class CiteMatch:
    """One place an article says it: ``quote == article body[start:end]``."""

    id: str
    article: ArticleRef
    paragraph: int | None
    quote: str
    start: int
    end: int
    exact: bool
    similarity: float
    diff: list[DiffOp] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"id": self.id, "article": self.article.to_dict(), "paragraph": self.paragraph,
                "quote": self.quote, "start": self.start, "end": self.end, "exact": self.exact,
                "similarity": round(float(self.similarity), 4),
                "diff": [d.to_dict() for d in self.diff]}


@dataclass
class CiteResult:
    """The answer to a lookup: ``kind`` is exact, close or none."""

    query: str
    kind: str
    matches: list[CiteMatch] = field(default_factory=list)
    total: int = 0  # exact: occurrences found (matches holds at most MAX_EXACT)

    def to_dict(self) -> dict:
        return {"query": self.query, "kind": self.kind, "total": self.total,
                "matches": [m.to_dict() for m in self.matches]}


def clean_text(text: str | None) -> str:
    """The text to look up: control characters out, outer quotation marks and space off."""
    return checked(text, lookup_text, MAX_TEXT_CHARS, "the text to look up", "the text",
                   "look up")


# -- per-store data, computed once per loaded index ------------------------------------------

class _StoreData:
    """Normalized bodies (lazily, per article) and the sentence table of one IndexStore."""

    def __init__(self, store: IndexStore):
        self.store = store
        # Bounded (bounded_cache.py): one budget for folded and normalized bodies alike.
        self.bodies = CharBudgetCache()
        self._sentences = None
        self._pairs = None
        self._unusual: set[int] | None = None

    def passages_of(self, article_id: str) -> list:
        """The passages of one article, in order (its rows of the passage table)."""
        store = self.store
        return [store.passages[i] for i in store.article_rows(article_id)] \
            if article_id in store.article_by_id else []

    def folded_body(self, article_id: str) -> str:
        """NFKD + casefold of a body, invisible characters out (as normalization drops them):
        a cheap, C-speed prefilter for exact lookups."""
        def make():
            body = self.store.article_by_id[article_id].body
            drop = {ord(ch): None for ch in set(body) if _invisible(ch)}
            return unicodedata.normalize("NFKD", body).casefold().translate(drop)

        return self.bodies.get(("folded", article_id), make, len)

    def normalized_body(self, article_id: str) -> tuple[str, np.ndarray]:
        """The normalized body and the body offset of each of its characters (int32)."""
        def make():
            norm, idx = normalize_map(self.store.article_by_id[article_id].body)
            return norm, np.asarray(idx, dtype=np.int32)

        return self.bodies.get(("normalized", article_id), make, lambda v: 5 * len(v[0]))

    def unusual_articles(self) -> set[int]:
        """Articles whose BM25 tokens may miss a word of normalized text
        (text.words_escape_tokens): recorded by the build, else found once per index."""
        if self._unusual is None:
            table = self.store.table
            self._unusual = table.cite_scan if table.cite_scan is not None else {
                i for i, a in enumerate(self.store.articles)
                if words_escape_tokens(a.body, table.passage_spans(a.id))}
        return self._unusual

    def sentences(self):
        """Per sentence row: its passage, start and end; the (memory-mapped) sentence vectors,
        pair norms."""
        if self._sentences is None:
            store = self.store
            offsets = np.asarray(store.sentence_offsets)
            owner = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
            spans = np.asarray(store.table.spans)
            # A float32 copy only while small; above, memory-mapped (dense.py).
            vecs = dense.resident(store.sentence_vectors)
            self._sentences = (owner, spans, vecs, dense.pair_norms(vecs), {})
        return self._sentences

    def pair_ok(self, r: int) -> bool:
        """Sentence rows r and r + 1 make a pair: one article, only space between them (not
        across a heading). A pair's vector is the normalized sum of the two."""
        owner, spans, _vecs, _norms, _ = self.sentences()
        if r + 1 >= len(owner):
            return False
        a = self.store.passages[int(owner[r])].article_id
        if a != self.store.passages[int(owner[r + 1])].article_id:
            return False
        return not self.store.article_by_id[a].body[int(spans[r][1]):int(spans[r + 1][0])].strip()

    def all_pairs(self) -> np.ndarray:
        """``pair_ok`` of every row (for ranking every pair by cosine; once per index)."""
        if self._pairs is None:
            # pair_ok row by row, without making a Passage per row (100 us each: minutes at
            # millions of sentences): one article from the table's rows, the text between
            # from the body, read once per article.
            owner, spans, _vecs, _norms, _ = self.sentences()
            table = self.store.table
            art = np.asarray(table.rows[:, 0])[owner]
            ok = art[:-1] == art[1:]
            last, body = -1, ""
            for r in np.flatnonzero(ok).tolist():
                if art[r] != last:
                    last = int(art[r])
                    body = self.store.article_by_id[table.article_ids[last]].body
                ok[r] = not body[int(spans[r][1]):int(spans[r + 1][0])].strip()
            self._pairs = ok
        return self._pairs


@functools.cache
def _invisible(ch: str) -> bool:
    """A character normalization drops (control and format ones, whitespace aside)."""
    return not ch.isspace() and unicodedata.category(ch) in ("Cf", "Cc")


_DATA: weakref.WeakKeyDictionary[IndexStore, _StoreData] = weakref.WeakKeyDictionary()


def _data(store: IndexStore) -> _StoreData:
    d = _DATA.get(store)
    if d is None:
        d = _DATA[store] = _StoreData(store)
    return d


def _passage_at(store: IndexStore, article_id: str, start: int, end: int):
    """The passage where [start, end) begins, else the first it overlaps (a heading quoted)."""
    inside = [p for p in _data(store).passages_of(article_id) if p.start < end and start < p.end]
    for p in inside:
        if p.start <= start < p.end:
            return p
    return inside[0] if inside else None


def _match(store: IndexStore, article_id: str, start: int, end: int, exact: bool,
           similarity: float, diff=None) -> CiteMatch:
    article = store.article_by_id[article_id]
    p = _passage_at(store, article_id, start, end)
    return CiteMatch(id=p.id if p else f"{article_id}:{start}-{end}",
                     article=ArticleRef(**article.meta()), paragraph=p.paragraph if p else None,
                     quote=article.body[start:end], start=start, end=end, exact=exact,
                     similarity=similarity, diff=diff or [])


# -- exact -----------------------------------------------------------------------------------

def _longest_ascii_word(norm: str) -> str:
    words = [w for w in "".join(c if c.isascii() and c.isalnum() else " " for c in norm).split()]
    return max(words, key=len) if words else ""


# An ASCII word inside a normalized text, with a character that is not \w on either side
# within the text: tokenizing the article gives it the same BM25 token.
_NOT_WORD = r"[\x00-/:-@\[-^`{-\x7f]"  # ASCII, and not \w (so not "_" either)
_INNER_WORD = re.compile(rf"(?<={_NOT_WORD})[A-Za-z0-9]{{3,}}(?={_NOT_WORD})")
_PREFILTER_TERMS = 3  # the rarest words of the text that an article must hold


def _candidate_articles(store: IndexStore, needle: str) -> list | None:
    """The articles that may hold ``needle`` (normalized), from the posting lists of its
    rarest inner words (work grows with those lists, not with the index); None: no word
    to go by, every article is read."""
    stems = {stem for w in _INNER_WORD.findall(needle) for stem in tokenize(w)}
    postings = sorted(store.postings(sorted(stems)), key=lambda d: len(d))
    if len(postings) < len(stems) or not stems:
        # A word no passage holds: only an unusual article can still hold the text.
        return None if not stems else sorted(_data(store).unusual_articles())
    art_col = store.table.rows
    keep = None
    for docs in postings[:_PREFILTER_TERMS]:
        arts = np.unique(np.asarray(art_col[np.asarray(docs), 0]))
        keep = arts if keep is None else np.intersect1d(keep, arts, assume_unique=True)
    found = set(keep.tolist()) | _data(store).unusual_articles()
    return sorted(found)


def find_exact(store: IndexStore, text: str) -> list[tuple[str, int, int]]:
    """Every (article id, start, end) where ``text`` occurs, up to normalization."""
    needle = normalize(text)
    if not needle:
        return []
    data = _data(store)
    probe = _longest_ascii_word(needle)
    starts_word, ends_word = is_wordish(needle[0]), is_wordish(needle[-1])
    found = []
    rows = _candidate_articles(store, needle)
    articles = store.articles if rows is None else [store.articles[i] for i in rows]
    for article in articles:
        if probe and probe not in data.folded_body(article.id):
            continue  # cannot hold the text: skip normalizing it
        norm, idx = data.normalized_body(article.id)
        pos = norm.find(needle)
        while pos >= 0:
            end = pos + len(needle)
            if not (starts_word and pos > 0 and is_wordish(norm[pos - 1])) and \
                    not (ends_word and end < len(norm) and is_wordish(norm[end])):
                found.append((article.id, int(idx[pos]), int(idx[end - 1]) + 1))
            pos = norm.find(needle, pos + 1)
    return found


# -- close -----------------------------------------------------------------------------------

def _lexical(weights: dict[str, float], stems: set[str]) -> float:
    """Share of the text's term weight the candidate holds, a little less for a long one."""
    total = sum(weights.values())
    if not total or not stems:
        return 0.0
    recall = sum(w for t, w in weights.items() if t in stems) / total
    precision = sum(1 for t in stems if t in weights) / len(stems)
    return recall * (0.75 + 0.25 * precision)


def find_close(store: IndexStore, text: str, limit: int = 5, embedder=None,
               cutoff: float | None = None) -> list[tuple[str, int, int, float]]:
    """Best sentences or sentence pairs for ``text``: (article id, start, end, similarity)."""
    data = _data(store)
    owner, spans, vecs, pair_norms, stem_cache = data.sentences()
    if not len(owner):
        return []
    tokens = tokenize(text)
    n_docs = max(1, len(store.passages))
    weights = {t: idf(store.doc_freq.get(t, 0), n_docs) for t in dict.fromkeys(tokens)}
    cand: set[tuple[int, int]] = set()  # (first row, last row)
    if tokens:  # the sentences of the best BM25 passages: wording the model may miss
        rare = sorted(weights, key=lambda t: -weights[t])[:BM25_TERMS]
        top, _ = store.bm25_top(rare, BM25_PASSAGES)
        offsets = store.sentence_offsets
        for pi in top.tolist():
            for r in range(int(offsets[pi]), int(offsets[pi + 1])):
                cand.add((r, r))
                if data.pair_ok(r):
                    cand.add((r, r + 1))
    dense_scores = None
    if embedder is not None:
        # Cosine of every sentence and pair, chunk by chunk (dense.py): the best of each, and
        # those of the BM25 candidates above.
        q = np.asarray(embedder.encode_query(text), dtype=np.float32).reshape(-1)
        dense_scores = dense.score(vecs, q, data.all_pairs(), pair_norms, DENSE_CANDIDATES,
                                   [r1 for r1, r2 in cand if r1 == r2],
                                   [r1 for r1, r2 in cand if r1 != r2])
        cand |= {(r, r) for r in dense_scores.singles}
        cand |= {(r, r + 1) for r in dense_scores.pairs}
    scored = []
    for r1, r2 in cand:
        stems = set()
        for r in range(r1, r2 + 1):
            if r not in stem_cache:
                if len(stem_cache) >= MAX_STEM_ROWS:
                    stem_cache.clear()  # bounded: sentences seen often are simply made again
                body = store.article_by_id[store.passages[int(owner[r])].article_id].body
                stem_cache[r] = set(tokenize(body[int(spans[r][0]):int(spans[r][1])]))
            stems |= stem_cache[r]
        lex = _lexical(weights, stems)
        if embedder is not None:
            cos = float(dense_scores.single[r1] if r1 == r2 else dense_scores.pair[r1])
            sim = W_DENSE * cos + W_LEX * lex
        else:
            sim = lex
        scored.append((sim, r1, r2))
    scored.sort(key=lambda x: (-x[0], x[2] - x[1], x[1]))
    cutoff = (CUTOFF if embedder is not None else LEX_CUTOFF) if cutoff is None else cutoff
    out, used = [], set()
    for sim, r1, r2 in scored:
        if len(out) >= limit or sim < cutoff or (out and sim < RELATIVE * out[0][3]):
            break
        if used & set(range(r1, r2 + 1)):
            continue  # overlaps a better candidate
        used |= set(range(r1, r2 + 1))
        out.append((store.passages[int(owner[r1])].article_id, int(spans[r1][0]),
                    int(spans[r2][1]), sim))
    return out


# -- the lookup ------------------------------------------------------------------------------

def lookup(store: IndexStore, text: str, limit: int = 5, embedder=None) -> CiteResult:
    """Find where ``text`` comes from: exact occurrences, else close sentences, else none."""
    given = clean_text(text)
    limit = max(1, int(limit))
    found = find_exact(store, given)
    if not found:
        bare = given.strip(_OUTER_PUNCT)
        if bare and bare != given and any(ch.isalnum() for ch in bare):
            found = find_exact(store, bare)
    if found:
        return CiteResult(query=given, kind="exact", total=len(found),
                          matches=[_match(store, a, s, e, True, 1.0)
                                   for a, s, e in found[:MAX_EXACT]])
    if callable(embedder) and not hasattr(embedder, "encode_query"):
        embedder = embedder()  # a factory: the model loads only now that it is needed
    close = find_close(store, given, limit=limit, embedder=embedder)
    if not close:
        return CiteResult(query=given, kind="none")
    matches = [_match(store, a, s, e, False, sim,
                      word_diff(given, store.article_by_id[a].body, s, e))
               for a, s, e, sim in close]
    return CiteResult(query=given, kind="close", matches=matches, total=len(matches))


def lookup_with_bot(bot, text: str, limit: int = 5) -> CiteResult:
    """``lookup`` on a Citebot's index; its question embedder loads only for close lookups."""
    store = bot.store
    return lookup(store, text, limit=limit,
                  embedder=lambda: bot.question_embedder(store.manifest))
