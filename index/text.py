"""Every text normalisation policy of citebot, side by side, and the word lists they use.

They differ on purpose, each for what it prepares:

- ``question_text``: a question as searched (NFKC, control and format characters to spaces,
  whitespace collapsed);
- ``lookup_text``: a quote to look up (control characters to spaces but newlines and tabs
  kept, for the word diff; outer quotation marks and space off);
- ``citation_id_text``: a citation id typed in a chat (every control and format character to
  a space, outer space off);
- ``clean_paragraph``: a paragraph of an ingested article (NFC, invisible characters out,
  control characters to spaces, one line);
- ``norm_words``: what near-duplicate quotes are compared on (accents folded, lower case);
- ``norm_char``: one character as citation lookups compare text (case, compatibility forms,
  quotes and dashes folded; see index/cite/diff.py for the whole-text rules).
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import cache, lru_cache

from .errors import BadQuestion

_WORD = re.compile(r"\w+", re.UNICODE)


# Every ASCII character that is no word character (``\w``), to a space: for ASCII text,
# lower case, these spaces and a split give _WORD's words (lower-cased) in 40-65% of the
# time (every sentence a question ranks passes here).
ASCII_NON_WORD = str.maketrans({c: " " for c in map(chr, range(128))
                                if not (c.isalnum() or c == "_")})


def words(text: str) -> list[str]:
    """Lower-cased word tokens, stop words kept."""
    if text.isascii():
        return text.lower().translate(ASCII_NON_WORD).split()
    return [w.lower() for w in _WORD.findall(text)]


# -- word lists ----------------------------------------------------------------------------

# bm25s's English stop words (bm25s.stopwords.STOPWORDS_EN), copied: importing bm25s pulls in
# scipy, 0.2 s that a one-shot `citebot ask` cannot afford (tests/index/embed/test_onnx.py checks
# the copy).
STOPWORDS_EN = ("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
                "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then",
                "there", "these", "they", "this", "to", "was", "will", "with")
# Question words carry the question's type, not its topic.
QUESTION_WORDS = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "why",
                            "how", "many", "much", "did", "does", "do"})


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """What BM25, citation lookups and quotes leave out: stop words and question words."""
    return frozenset(STOPWORDS_EN) | QUESTION_WORDS


# Auxiliaries, first and second person pronouns and the commonest prepositions name nothing a
# question asks about. Two uses add their own words to them:
FUNCTION_WORDS = frozenset({
    "am", "were", "been", "being", "has", "have", "had", "can", "could", "would", "should",
    "shall", "must", "about", "from", "than", "so", "we", "our", "you", "your", "i", "me", "my"})
# - judging how much of a question a passage holds ("How many officers were in it?" names one
#   thing): third person pronouns too (follow-ups find those in ANAPHORA instead);
QUESTION_FUNCTION_WORDS = FUNCTION_WORDS | {
    "having", "he", "she", "him", "his", "her", "hers", "its", "them", "those", "s",
    # verbs of motion and having that name no event ("Where do they come from?")
    "come", "comes", "came", "coming", "go", "goes", "went", "gone", "get", "gets", "got"}
# - telling whether a short question names a topic of its own (follow-ups): vague verbs,
#   quantifiers and time words as well.
FOLLOW_UP_FUNCTION_WORDS = FUNCTION_WORDS | {
    "may", "might", "after", "before", "during", "since", "until", "very", "just", "only",
    "any", "some", "all", "each", "more", "most", "also", "again", "up", "down", "out", "over",
    "under", "here", "us", "say", "said", "tell", "know", "happen", "happened", "exactly",
    "get", "got", "go", "went", "make", "made", "long", "ago", "still", "yet", "ever", "now"}


# -- the policies ----------------------------------------------------------------------------

def question_text(question: str) -> str:
    """A question as searched; empty when nothing is left (validation: search.params)."""
    q = unicodedata.normalize("NFKC", question)
    # Control and format characters (NUL, zero-width, direction marks) carry no meaning here.
    q = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in q)
    return " ".join(q.split())


def checked(raw: str | None, normalise, limit: int, whole: str, short: str, verb: str) -> str:
    """``raw`` normalised, or BadQuestion naming what is wrong: empty, over ``limit``
    characters, or without a word (questions and citation lookups: "the question" / "the text
    to look up" is ``whole``, "the question" / "the text" ``short``, "search for" / "look up"
    ``verb``)."""
    text = normalise(raw) if raw is not None else ""
    if not text.strip():
        raise BadQuestion(f"{whole} is empty")
    if len(text) > limit:
        raise BadQuestion(f"{short} is too long ({len(text)} characters; the limit is {limit})")
    if not any(ch.isalnum() for ch in text):
        raise BadQuestion(f"{short} has no words to {verb}")
    return text


_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>|<!--.*?-->", re.S)
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_KEEP_ALONE = frozenset("AaI")  # one-letter words; other lone letters in front are debris


def strip_markup(q: str) -> str:
    """A question without what was pasted around it: HTML tags and entities, addresses, lone
    symbols ("&", "|", "»") and a lone letter left before it by a tag ("<b>x</b> & Which…")."""
    if "<" in q or "&" in q:
        q = html.unescape(_TAG.sub(" ", q))
        q = _TAG.sub(" ", q)  # tags that were written as entities
    q = _URL.sub(" ", q)
    tokens: list[str] = []
    for t in q.split():
        if any(ch.isalnum() for ch in t):
            tokens.append(t)
        elif tokens and all(ch in "?!.,;:" for ch in t):  # "a <i>veto</i>?": the "?" stays
            tokens[-1] += t
    while len(tokens) > 2 and len(tokens[0]) == 1 and tokens[0].isalpha() and \
            tokens[0] not in _KEEP_ALONE:
        tokens.pop(0)
    return " ".join(tokens)


OUTER_QUOTES = "\"'“”‘’«»„‚ \t\r\n"


def lookup_text(text: str) -> str:
    """A quote to look up: control characters out (newlines and tabs kept), outer quotation
    marks and space off (validation: cite.lookup)."""
    t = "".join(" " if unicodedata.category(ch) == "Cc" and ch not in "\n\t" else ch
                for ch in text)
    return t.strip(OUTER_QUOTES)


def citation_id_text(text: str) -> str:
    """A citation id as typed: control and format characters (NUL, zero-width) are never
    part of an id."""
    return "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text).strip()


_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"), None)


def clean_paragraph(text: str) -> str:
    """One paragraph on one line: whitespace runs collapsed, control characters dropped."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(text.split())


def norm_words(text: str) -> tuple[str, ...]:
    """Lower-cased words (accents folded): what near-duplicate quotes are compared on."""
    folded = unicodedata.normalize("NFKD", text)
    if not folded.isascii():  # combining marks out, looked up once per distinct character
        marks = [ch for ch in set(folded) if unicodedata.combining(ch)]
        if marks:
            folded = folded.translate(dict.fromkeys(map(ord, marks)))
    return tuple(words(folded))


_CHAR_MAP = {**{ord(c): "'" for c in "‘’‚‛′`´"},
             **{ord(c): '"' for c in "“”„‟″«»"},
             **{ord(c): "-" for c in "‐‑‒–—―−﹘﹣－"}}


@lru_cache(maxsize=4096)
def norm_char(ch: str) -> str:
    """What one character becomes in normalized text ('' for invisible ones)."""
    if ch.isspace():
        return " "
    if unicodedata.category(ch) in ("Cf", "Cc"):
        return ""
    return unicodedata.normalize("NFKD", ch.translate(_CHAR_MAP)).translate(_CHAR_MAP).casefold()


_ANY_WORD = re.compile(r"\w")


@cache
def _tokenizes_apart(ch: str) -> bool:
    """A character that normalizes into nothing, or into ASCII letters or digits alone."""
    if ch.isspace() or (ch.isascii() and ch.isprintable()):
        return False
    n = norm_char(ch)
    return not n or (n.isascii() and any(c.isalnum() for c in n))


def words_escape_tokens(body: str, passages) -> bool:
    """Can a word of this body, normalized as citation lookups normalize text, be missing
    from its passages' BM25 tokens? A character that ``norm_char`` turns into ASCII letters
    or digits by itself (a ligature, a full-width letter, ``ß``) or into nothing (a soft
    hyphen inside a word) tokenizes apart from its normalized form; and a heading that no
    passage carries (one followed by another heading, or by nothing) is in no passage's text.
    ``passages``: (start, end, heading) in order. Exact lookups always read such articles."""
    if any(_tokenizes_apart(ch) for ch in set(body)):
        return True
    prev = 0
    for start, end, heading in passages:
        gap = body[prev:start]
        if _ANY_WORD.search(gap) and words(gap) != words(heading or ""):
            return True
        prev = end
    return bool(_ANY_WORD.search(body[prev:]))
