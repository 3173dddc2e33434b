"""Follow-up questions: a short question leaning on the previous one is read in its context.

Front-end neutral (the CLI prompt and the Telegram bot share it). Each conversation key (a chat
and user, or the terminal) remembers its last question for a few minutes. A new question that
is short and refers back ("How many officers were in it?", "And when?") is searched together with
the topic words of the previous question, and the Answer says so in ``context``; a question
that stands on its own starts a new topic.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from ..answer import Answer
from ..text import FOLLOW_UP_FUNCTION_WORDS, stopwords, words
from .params import clean_question

FOLLOW_UP_WINDOW_S = 300.0     # "a few minutes": older context is forgotten
MAX_FOLLOW_UP_WORDS = 12       # longer questions carry their own topic
MAX_TOPIC_WORDS = 12           # topic words carried along a chain of follow-ups

# Words that point back at something said before.
ANAPHORA = frozenset({
    "it", "its", "itself", "they", "them", "their", "theirs", "themselves", "this", "that",
    "these", "those", "he", "him", "his", "himself", "she", "her", "hers", "herself", "there",
    "then", "same", "former", "latter", "one", "ones", "else", "other", "others",
})
# Openings that continue the previous question ("And the second one?", "What about Kenya?").
_CONTINUES = re.compile(r"^\W*(and|but|also|so|then|what about|how about|what else|"
                        r"anything else|why not|why|more)\b", re.I)
def _function_words() -> frozenset[str]:
    return stopwords() | FOLLOW_UP_FUNCTION_WORDS


def content_words(text: str) -> list[str]:
    """The words of a text that name its topic (no function words, no pronouns), in order."""
    skip = _function_words() | ANAPHORA
    return [w for w in words(text) if w not in skip]


def is_follow_up(question: str) -> bool:
    """Does this question lean on the one before? Short, and refers back or names no topic."""
    ws = words(question)
    if not ws or len(ws) > MAX_FOLLOW_UP_WORDS:
        return False
    content = content_words(question)
    if _CONTINUES.match(question):
        return len(content) <= 4
    if any(w in ANAPHORA for w in ws):
        return len(content) <= 3
    return not content  # "When?", "How many?"


@dataclass
class Turn:
    """What a conversation remembers of its last question."""

    question: str        # as asked (cleaned)
    topic: list[str]     # topic words carried into a follow-up's search
    at: float


class Conversations:
    """Per-key memory of the last question (thread-safe, bounded, expiring)."""

    def __init__(self, window_s: float = FOLLOW_UP_WINDOW_S, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self._turns: OrderedDict[Hashable, Turn] = OrderedDict()
        self._lock = threading.Lock()

    def previous(self, key: Hashable) -> Turn | None:
        """The key's last turn, if it is recent enough to be context."""
        with self._lock:
            turn = self._turns.get(key)
            if turn is None:
                return None
            if self.clock() - turn.at > self.window_s:
                del self._turns[key]
                return None
            return turn

    def context_for(self, key: Hashable, question: str) -> Turn | None:
        """The turn a question should be read with: the previous one, when it is a follow-up."""
        turn = self.previous(key)
        return turn if turn is not None and is_follow_up(question) else None

    def remember(self, key: Hashable, question: str, topic: list[str]) -> None:
        """Make this question the context of the key's next follow-up."""
        with self._lock:
            self._turns[key] = Turn(question, list(dict.fromkeys(topic))[:MAX_TOPIC_WORDS],
                                    self.clock())
            self._turns.move_to_end(key)
            while len(self._turns) > self.max_keys:
                self._turns.popitem(last=False)

    def forget(self, key: Hashable) -> bool:
        """Drop the key's context (`/new`); True when there was one."""
        with self._lock:
            return self._turns.pop(key, None) is not None

    def ask(self, bot, key: Hashable, question: str, k: int = 3, **kw) -> Answer:
        """Answer through ``bot.ask``, reading a follow-up with the previous question's topic.

        A follow-up that finds nothing in context is tried on its own before "not found".
        Raises BadQuestion like ``Searcher.ask``.
        """
        q = clean_question(question)
        prev = self.context_for(key, q)
        if prev is not None and prev.topic:
            # The previous question contributes topic words only: its question words ("when")
            # would change what kind of answer this question is taken to ask for.
            answer = bot.ask(q, k=k, retrieval_text=f"{q} {' '.join(prev.topic)}", **kw)
            if answer.answered:
                answer.context = prev.question
                self.remember(key, q, content_words(q) + prev.topic)
                return answer
        answer = bot.ask(q, k=k, **kw)
        self.remember(key, q, content_words(q))
        return answer
