"""Lexical side: one tokenizer (lower case, stop words out, Snowball stems) for BM25 and quotes."""

from __future__ import annotations

import math
import re
from functools import lru_cache

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


# bm25s's English stop words (bm25s.stopwords.STOPWORDS_EN), copied: importing bm25s pulls in
# scipy, 0.2 s that a one-shot `citebot ask` cannot afford (tests/test_onnx.py checks the copy).
STOPWORDS_EN = ("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
                "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then",
                "there", "these", "they", "this", "to", "was", "will", "with")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    # Question words carry the question's type, not its topic.
    return frozenset(STOPWORDS_EN) | {"what", "which", "who", "whom", "whose", "when", "where",
                                      "why", "how", "many", "much", "did", "does", "do"}


def words(text: str) -> list[str]:
    """Lower-cased word tokens, stop words kept."""
    return [w.lower() for w in _WORD.findall(text)]


def tokenize(text: str) -> list[str]:
    """Stemmed content tokens of a text: what BM25 indexes and matches."""
    stop = stopwords()
    return _stemmer().stemWords([w for w in words(text) if w not in stop])


def idf(term_df: int, n_docs: int) -> float:
    """Okapi-style inverse document frequency, never negative."""
    return math.log(1.0 + (n_docs - term_df + 0.5) / (term_df + 0.5))


def analyze(text: str) -> tuple[list[str], frozenset[str]]:
    """(stems of every word, stop words included; the content stems `tokenize` keeps), with one
    stemmer call: sentence scoring needs both, phrases (bigrams) and term coverage."""
    all_words = words(text)
    stems = _stemmer().stemWords(all_words)
    stop = stopwords()
    return stems, frozenset(s for w, s in zip(all_words, stems) if w not in stop)


def bigrams(stems: list[str]) -> set[tuple[str, str]]:
    """Adjacent stem pairs: the phrases a question shares with a sentence."""
    return set(zip(stems, stems[1:]))
