"""Dates in the front ends: reading `--as-of` / JSON Lines dates, and how a quote's date reads.

CLI and Telegram both render dates with ``date_label`` so that they say the same thing.
"""

from __future__ import annotations

import datetime as dt


class BadDate(ValueError):
    """A date the user gave that is not YYYY-MM-DD or ISO 8601."""


def parse_date(text) -> dt.date:
    """A date from ``YYYY-MM-DD`` or an ISO 8601 date-time (its day as written, in its own
    time zone: ``2022-06-16T23:30:00-05:00`` is 16 June); BadDate for anything else."""
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    if not isinstance(text, str) or not text.strip():
        raise BadDate(f"not a date: {text!r} (use YYYY-MM-DD or ISO 8601)")
    value = text.strip()
    try:
        if len(value) > 10 or "T" in value.upper():
            # Python 3.11 reads ISO 8601 date-times, "Z" included.
            return dt.datetime.fromisoformat(value).date()
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadDate(f"not a date: {value!r} (use YYYY-MM-DD or ISO 8601)") from None


def today() -> dt.date:
    """"Now" for a question asked on this machine: today's local date."""
    return dt.date.today()


def utc_day(moment: dt.datetime | None) -> dt.date:
    """The UTC day of a moment (Telegram's message dates are UTC); today when unknown."""
    if moment is None:
        return dt.datetime.now(dt.timezone.utc).date()
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.date()


def dates_differ(citations) -> bool:
    """True when the quotes come from articles of more than one known date: each citation
    then says "as of <date>", so a reader sees which figure is newer."""
    return len({c.article.published for c in citations if c.article.published}) > 1


def date_label(published: str | None, as_of: bool = False) -> str | None:
    """How an article's date reads in a citation: ``2024-05-07``, or ``as of 2024-05-07``
    when the answer mixes dates; None when the article has no date."""
    if not published:
        return None
    return f"as of {published}" if as_of else published
