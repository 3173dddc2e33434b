"""Lexical side: one tokenizer (lower case, stop words out, Snowball stems) for BM25 and quotes."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import compress

from ..text import QUESTION_FUNCTION_WORDS, stopwords, words


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    # No cache (0): PyStemmer's own cache of stemmed words costs more than it saves, ~10 µs
    # against ~5 for a 20-word sentence whether the words are in it or not (the same stems).
    return Stemmer.Stemmer("english", 0)


@lru_cache(maxsize=1)
def _function_stems() -> frozenset[str]:
    return frozenset(_stemmer().stemWords(sorted(QUESTION_FUNCTION_WORDS)))


def stem_words(ws: list[str]) -> list[str]:
    """The Snowball stem of each word."""
    return _stemmer().stemWords(ws)


def question_terms(tokens: list[str]) -> list[str]:
    """The distinct stems of a tokenized question that name something (function words out)."""
    drop = _function_stems()
    return [t for t in dict.fromkeys(tokens) if t not in drop]


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
    return stems, content_stems(stems, all_words)


def content_stems(stems: list[str], all_words: list[str]) -> frozenset[str]:
    """The stems of the words that are no stop words (``stems``: of ``all_words``)."""
    stop = stopwords()
    # compress over a list: a generator of pairs costs ~15% more of this function (every
    # reranked passage's sentences pass here).
    return frozenset(compress(stems, [w not in stop for w in all_words]))


def bigrams(stems: list[str]) -> set[tuple[str, str]]:
    """Adjacent stem pairs: the phrases a question shares with a sentence."""
    return set(zip(stems, stems[1:]))


# -- what a question asks for, and whether a sentence holds it ---------------------------------
_WHEN = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b|\b(january|february|march|april|may|june|july|"
                   r"august|september|october|november|december)\b|\bcentur(?:y|ies)\b|"
                   r"\b\d{1,2}(?:st|nd|rd|th)\b|\b(?:today|yesterday|monday|tuesday|wednesday|"
                   r"thursday|friday|saturday|sunday)\b", re.I)
_NUMBER = re.compile(r"\d[\d,.]*%?|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                     r"twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|"
                     r"half)\b", re.I)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'’-]+")
# What a "which / what <noun>" question wants when the noun is no date, number or place: a
# named thing (capitalised words), a title in quotes, or a figure.
_ENTITY = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'’-]+|[“\"‘][^”\"’]{2,80}[”\"’]|\d[\d,.]*")
_TYPE_PATTERNS = {"when": _WHEN, "number": _NUMBER, "name": _NAME, "place": _NAME,
                  "entity": _ENTITY}
# Capitalised, but no name, place or title: days and months.
CALENDAR = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                      "sunday", "january", "february", "march", "april", "may", "june", "july",
                      "august", "september", "october", "november", "december"})
_PLACE_NOUNS = ("city|cities|country|countries|state|states|town|towns|nation|nations|region|"
                "regions|county|province|island|islands|airport|university|college|school|"
                "stadium|venue|continent|capital|location|place|places|port|river|sea|ocean|"
                "border|neighborhood|district")


def question_type(question: str) -> str | None:
    """when / number / name: what kind of thing the question asks for, if it says."""
    q = question.lower()
    if re.search(r"\b(when|what year|which year|what date|what month|what century|"
                 r"what day)\b", q):
        return "when"
    if re.search(r"\b(how many|how much|what percentage|what number|how long|how old|"
                 r"how far|how large|how big)\b", q):
        return "number"
    if re.search(r"\b(who|whom|whose)\b", q):
        return "name"
    # "What is it called?", "What is its name?", "What is the title of…": a name is asked for.
    if re.search(r"\b(?:what|which)\s+(?:is|was|are|were|will\s+be)\s+(?:[\w'’-]+\s+){0,3}"
                 r"(?:called|named)\b|\bwhat\s+(?:is|was|are|were)\s+(?:its|their|his|her|"
                 r"the)\s+(?:\w+\s+)?(?:name|names|title|nickname)\b", q):
        return "name"
    if re.search(rf"\bwhere\b|\b(?:which|what)\s+(?:\w+\s+)?(?:{_PLACE_NOUNS})\b", q):
        return "place"
    if re.search(r"\b(?:which|what)\s+(?!is\b|was\b|are\b|were\b|does\b|did\b|do\b|has\b|"
                 r"have\b|had\b|will\b|would\b|can\b|could\b|should\b|of\b|about\b)\w+", q):
        return "entity"
    return None


def type_match(kind: str | None, sentence: str, asked: set[str] = frozenset()) -> float:
    """1.0 when the sentence holds the kind of thing asked for and not only words the question
    already has ("Who ruled Cyprus in 1191?" is not answered by the year 1191)."""
    pattern = _TYPE_PATTERNS.get(kind or "")
    if pattern is None:
        return 0.0
    skip = asked if kind == "when" else asked | CALENDAR  # "on Thursday" names no one
    return 1.0 if any(m.group(0).lower().strip(".,") not in skip
                      for m in pattern.finditer(sentence)) else 0.0


def answer_kind_nouns(question: str) -> set[str]:
    """Stems of the word after "what" / "which" ("Which city…", "What percentage…"): the kind of
    thing asked for, which the answering sentence names instead of repeating."""
    ws = words(question)
    stop = stopwords()
    out = set()
    for j, w in enumerate(ws[:-1]):
        if w in ("what", "which") and ws[j + 1] not in stop and \
                ws[j + 1] not in QUESTION_FUNCTION_WORDS:
            out.add(_stemmer().stemWord(ws[j + 1]))
    return out


def near_duplicate(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """The same sentence(s), give or take punctuation, case, accents and a word or two."""
    if not a or not b:
        return False
    if a == b:
        return True
    # The length test first (no sets), and the union's size from the intersection's: every
    # quote shown is compared with every other candidate quote of a question.
    if min(len(a), len(b)) / max(len(a), len(b)) < 0.8:
        return False
    sa, sb = _word_set(a), _word_set(b)
    both = len(sa & sb)
    return both / (len(sa) + len(sb) - both) >= 0.85


# The word sets of the quotes last compared, by identity: each quote of an answer is compared
# with every one shown before it, so its set would be made again for each (the tuple is held
# here, so its id cannot be reused while the entry lives).
_SETS: dict[int, tuple[tuple[str, ...], frozenset[str]]] = {}


def _word_set(ws: tuple[str, ...]) -> frozenset[str]:
    got = _SETS.get(id(ws))
    if got is not None and got[0] is ws:
        return got[1]
    made = frozenset(ws)
    if len(_SETS) >= 64:
        _SETS.clear()
    _SETS[id(ws)] = (ws, made)
    return made
