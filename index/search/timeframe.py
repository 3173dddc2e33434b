"""Time in a question: the moment it is asked (``as_of``), whether it asks about the present
("this week", "latest", "so far") and which period it names ("in July 2023", "last year").

Articles published after ``as_of`` are never used; among the rest, a present-tense question
prefers the most recent, a question naming a period prefers articles of that period (published
in it or shortly after, or naming its year), and an undated article counts as old. The
preference is a bonus per passage added to the ranking scores (rank.py); how large, and how
fast it fades with an article's age, is in SearchParams and measured by `citebot eval --news`.

Periods are read with dateparser (relative phrases against ``as_of``, their granularity: day,
week, month, year). Importing it costs ~0.1 s and its first parse as much again (0.2 s of a
0.6 s cold `citebot ask`), so it is imported only when a cheap pattern finds a date-like phrase
that is not already a plain year or "Month year" (read here directly: the same answer, no cost).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

UNDATED_AGE = 3650  # days: an article without a date ranks as a ten-year-old one

_PRESENT = re.compile(
    r"\b(?:this (?:week|weekend|month|year|season|morning|summer|spring|fall|autumn|winter)|"
    r"(?:right )?now|latest|currently|current|so far|recent|recently|lately|yet|today|tonight|"
    r"these days|at present|to date|ongoing|upcoming|just|still|this past|past week|"
    r"last week|newly|as of)\b", re.I)
_NEW = re.compile(r"\bnew\b")  # lower case only: "New York" and "New Zealand" are names
_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|"
          r"December)")
# Date-like phrases worth handing to dateparser; months are matched with their capital ("may").
_PERIOD = re.compile(
    rf"\b(?:(?:early|mid|late)[- ])?{_MONTH}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?"
    rf"(?:,?\s+(?:19|20)\d{{2}})?\b|"
    r"(?<![\d,.$])\b(?:19|20)\d{2}\b(?![\d,%])|"
    r"(?i:\b(?:last|past|previous)\s+(?:year|month|week|weekend)\b)|(?i:\byesterday\b)|"
    r"(?i:\blast\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b)")
# A year after these is a reference point or a deadline, not the period asked about.
_NOT_PERIOD = re.compile(r"(?i:\b(?:since|by|until|till|through|before|after|as of)\s*)$")
_GRACE = {"day": 14, "week": 14, "month": 45, "year": 90}  # reporting lags the event


@dataclass(frozen=True)
class Timeframe:
    """What a question says about time, read as of ``as_of``."""

    as_of: dt.date
    present: bool
    period: tuple[dt.date, dt.date] | None = None   # the period named, first and last day
    year: str | None = None                         # its year, when the period is within one


def today() -> dt.date:
    return dt.date.today()


def to_date(value) -> dt.date | None:
    """A date from a date, a datetime or a string in a common form (YYYY-MM-DD, ISO 8601,
    RFC 2822: ingest's normalize_date); None else."""
    from ..ingest.draft import normalize_date

    day = normalize_date(value)
    return dt.date.fromisoformat(day) if day else None


@lru_cache(maxsize=64)
def _parser(base: dt.date):
    from dateparser.date import DateDataParser  # lazy: only questions that name a date pay

    return DateDataParser(languages=["en"], settings={
        "RELATIVE_BASE": dt.datetime(base.year, base.month, base.day),
        "PREFER_DATES_FROM": "past", "PREFER_DAY_OF_MONTH": "first"})


def _span(day: dt.date, period: str) -> tuple[dt.date, dt.date]:
    if period == "year":
        return dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    if period == "month":
        nxt = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return dt.date(day.year, day.month, 1), nxt - dt.timedelta(days=1)
    if period == "week":
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    return day, day


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_PLAIN = re.compile(rf"^(?:({_MONTH})\s+)?((?:19|20)\d{{2}})$")


def _plain(phrase: str) -> tuple[dt.date, str] | None:
    """A bare year or "Month year", without dateparser."""
    m = _PLAIN.match(phrase)
    if not m:
        return None
    year = int(m.group(2))
    if m.group(1):
        return dt.date(year, _MONTHS.index(m.group(1).lower()) + 1, 1), "month"
    return dt.date(year, 1, 1), "year"


def named_period(question: str, as_of: dt.date) -> tuple[tuple[dt.date, dt.date], str] | None:
    """The first period the question names, as (first day, last day) and its granularity."""
    for m in _PERIOD.finditer(question):
        if _NOT_PERIOD.search(question[:m.start()]):
            continue
        phrase = re.sub(r"^(early|mid|late)[- ]", "", m.group(0), flags=re.I)
        phrase = re.sub(r",?\s+", " ", phrase)
        plain = _plain(phrase)
        if plain is not None:
            return _span(*plain), plain[1]
        data = _parser(as_of).get_date_data(phrase)
        if data is None or data.date_obj is None:
            continue
        period = data.period or "day"
        return _span(data.date_obj.date(), period), period
    return None


def read_timeframe(question: str, as_of: dt.date | None = None) -> Timeframe:
    """The question's timeframe (``as_of`` None: today)."""
    as_of = as_of or today()
    present = bool(_PRESENT.search(question) or _NEW.search(question))
    found = named_period(question, as_of) if _PERIOD.search(question) else None
    if found is None:
        return Timeframe(as_of, present)
    (first, last), granularity = found
    if last >= as_of - dt.timedelta(days=7):  # the period reaches the present: "in 2024" now
        present = True
    year = str(first.year) if granularity in ("year", "month") and first.year == last.year \
        else None
    return Timeframe(as_of, present, (first, last), year)


def passage_days(store) -> np.ndarray:
    """Each passage's publication date as a day ordinal (-1: undated), from its article."""
    days = np.full(len(store.articles), -1, dtype=np.int64)
    for i, a in enumerate(store.articles):
        d = to_date(a.published)
        if d is not None:
            days[i] = d.toordinal()
    return days[np.asarray(store.table.rows[:, 0], dtype=np.int64)] if len(days) else \
        np.zeros(0, dtype=np.int64)


def recency(days: np.ndarray, as_of: dt.date, tau: float) -> np.ndarray:
    """1 for an article of ``as_of``'s day, fading with age (half at ``tau`` days); undated
    articles count as UNDATED_AGE days old."""
    # np.maximum, not .clip(0, None): the same ages, without clip's look-up of the dtype's
    # limits (~50 µs, twice a question).
    age = np.maximum(np.where(days >= 0, as_of.toordinal() - days, UNDATED_AGE), 0)
    return 1.0 / (1.0 + age / tau)


def in_period(days: np.ndarray, tf: Timeframe, granularity_grace: int = 45) -> np.ndarray:
    """1 for passages of articles published within the named period (or shortly after)."""
    if tf.period is None:
        return np.zeros(len(days))
    first, last = tf.period
    hi = (last + dt.timedelta(days=granularity_grace)).toordinal()
    return ((days >= first.toordinal()) & (days <= hi)).astype(np.float64)


def grace_for(tf: Timeframe) -> int:
    if tf.period is None:
        return 0
    n = (tf.period[1] - tf.period[0]).days
    return _GRACE["day"] if n < 7 else _GRACE["week"] if n < 28 else \
        _GRACE["month"] if n < 60 else _GRACE["year"]


@dataclass
class TimeTerms:
    """A question's time as the ranking uses it: ``cutoff``, the last day ordinal whose
    articles may be used (None: every article may), and bonuses computed for the passages
    asked about only (candidates), never for the whole index."""

    tf: Timeframe
    days: np.ndarray        # every passage's publication day ordinal (-1: undated)
    cutoff: int | None
    weight: float           # recency weight (t_present or t_any)
    tau: float
    period: float           # t_period

    def about(self, idx: np.ndarray) -> np.ndarray:
        """1 for passages of articles published in the period the question names."""
        return in_period(self.days[idx], self.tf, grace_for(self.tf))

    def bonus(self, idx: np.ndarray) -> np.ndarray:
        """The time bonus of these passages: recency, plus t_period for the period named."""
        days = self.days[idx]
        out = self.weight * recency(days, self.tf.as_of, self.tau) if self.weight else \
            np.zeros(len(days))
        if self.tf.period is not None and self.period:
            out = out + self.period * in_period(days, self.tf, grace_for(self.tf))
        return out
