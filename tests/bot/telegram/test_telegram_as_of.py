"""Telegram answers as of the message's date, inline mode as of now, and every quote shows its
article's date (the real bot against the fake Bot API, the real index of two invented dated
articles: tests/support/dated_fixtures.py)."""

from __future__ import annotations

import calendar
import datetime as dt

import dated_fixtures
from conftest import assert_exact_quotes
from dated_fixtures import FARE_QUESTION, NEW_DATE, NEW_ID, OLD_DATE, OLD_ID
from telegram_harness import run_bot
from telegram_html import checked, codes_of, quotes_of

ferry = dated_fixtures.ferry  # the shared fixture, used here by name


def stamp(day: str, hour: int = 12) -> int:
    """A Telegram message date (Unix seconds, UTC) on ``day``."""
    y, m, d = map(int, day.split("-"))
    return calendar.timegm(dt.datetime(y, m, d, hour).timetuple())


def test_a_message_is_answered_as_of_its_date(ferry):
    async def scenario(api, app):
        api.message(301, FARE_QUESTION, date=stamp("2023-06-01"))   # before the newer article
        old = (await api.wait_for(chat_id=301))[0]
        api.message(302, FARE_QUESTION, date=stamp("2024-09-01"))   # after it
        new = (await api.wait_for(chat_id=302))[0]
        api.message(303, FARE_QUESTION, date=stamp("2024-08-01", 23))  # the evening before
        eve = (await api.wait_for(chat_id=303))[0]
        return old, new, eve

    old, new, eve = run_bot(ferry, scenario)
    expected_old = ferry.ask(FARE_QUESTION, k=3, more=9, as_of=dt.date(2023, 6, 1))
    parsed = checked(old)
    assert quotes_of(parsed) == [c.quote for c in expected_old.citations]
    assert {c.split(":")[0] for c in codes_of(parsed)} == {OLD_ID}
    assert "14 crowns" in quotes_of(parsed)[0] and "19 crowns" not in parsed.text
    assert f"The Harbour Ledger, {OLD_DATE}, paragraph 2" in parsed.text  # the date shown
    assert "as of" not in parsed.text  # one date only
    assert_exact_quotes(expected_old.citations, ferry.config.corpus)

    expected_new = ferry.ask(FARE_QUESTION, k=3, more=9, as_of=dt.date(2024, 9, 1))
    parsed = checked(new)
    assert quotes_of(parsed) == [c.quote for c in expected_new.citations]
    assert NEW_ID in {c.split(":")[0] for c in codes_of(parsed)}
    # Quotes of articles of different dates: each citation says "as of" its date, like the CLI.
    assert f"as of {OLD_DATE}" in parsed.text and f"as of {NEW_DATE}" in parsed.text
    assert_exact_quotes(expected_new.citations, ferry.config.corpus)

    assert "19 crowns" not in checked(eve).text  # UTC day 2024-08-01: not yet published


def test_inline_mode_answers_as_of_now_with_dates(ferry):
    async def scenario(api, app):
        api.inline_query(41, FARE_QUESTION)
        return (await api.wait_for("answerInlineQuery", 1))[0]

    call = run_bot(ferry, scenario)
    results = call.params["results"]
    expected = ferry.ask(FARE_QUESTION, k=3, more=7, as_of=dt.date.today())
    shown = expected.citations + expected.more
    assert NEW_ID in {c.article.id for c in shown}
    assert [quotes_of(checked_text(r))[0] for r in results] == [c.quote for c in shown]
    for r, c in zip(results, shown):
        assert c.article.published in r["description"]  # the date under each result
        text = checked_text(r).text
        assert f"as of {c.article.published}" in text
    assert_exact_quotes(shown, ferry.config.corpus)


def test_source_shows_the_article_date(ferry):
    async def scenario(api, app):
        api.message(304, f"/source {NEW_ID}:p2")
        return (await api.wait_for(chat_id=304))[0]

    parsed = checked(run_bot(ferry, scenario))
    assert f"The Harbour Ledger, {NEW_DATE}, paragraph 2" in parsed.text
    assert "19 crowns" in quotes_of(parsed)[0]


def checked_text(result):
    """The parsed HTML message an inline result would post."""
    from telegram_html import parse_telegram_html

    content = result["input_message_content"]
    assert content["parse_mode"] == "HTML"
    return parse_telegram_html(content["message_text"])
