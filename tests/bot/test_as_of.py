"""Answers as of a date: the library's ``as_of``, `ask --as-of` and `ask --input jsonl`,
on two invented dated articles (tests/support/dated_fixtures.py), with a real index and model."""

from __future__ import annotations

import datetime as dt
import json

import dated_fixtures
import pytest
from conftest import assert_exact_quotes, run_cli
from dated_fixtures import FARE_QUESTION, NEW_DATE, NEW_ID, NEW_URL, OLD_DATE, OLD_ID

BEFORE_NEW = "2023-06-01"   # after the older article, before the newer one
AFTER_NEW = "2024-09-01"

ferry = dated_fixtures.ferry  # the shared fixture, used here by name


@pytest.fixture(scope="module")
def ferry_env(ferry):
    return {"CITEBOT_CORPUS": str(ferry.config.corpus), "CITEBOT_INDEX": str(ferry.config.index)}


def ids(citations) -> list[str]:
    return [(c["article"]["id"] if isinstance(c, dict) else c.article.id) for c in citations]


# -- the library ------------------------------------------------------------------------------
def test_as_of_leaves_out_later_articles(ferry):
    before = ferry.ask(FARE_QUESTION, as_of=dt.date(2023, 6, 1))
    assert before.answered and set(ids(before.citations + before.more)) == {OLD_ID}
    assert "14 crowns" in before.citations[0].quote
    assert before.as_of == BEFORE_NEW and before.to_dict()["as_of"] == BEFORE_NEW
    after = ferry.ask(FARE_QUESTION, as_of=dt.date(2024, 9, 1))
    assert NEW_ID in ids(after.citations)
    assert any("19 crowns" in c.quote for c in after.citations)
    assert after.as_of == AFTER_NEW
    # The very day an article is published counts; before any article, nothing is found.
    assert NEW_ID in ids(ferry.ask(FARE_QUESTION, as_of=dt.date(2024, 8, 2)).citations)
    assert not ferry.ask(FARE_QUESTION, as_of=dt.date(2020, 1, 1)).answered
    # No as_of: every article, and no "as_of" in the JSON.
    plain = ferry.ask(FARE_QUESTION)
    assert plain.as_of is None and "as_of" not in plain.to_dict()
    for answer in (before, after, plain):
        assert_exact_quotes(answer.citations + answer.more, ferry.config.corpus)


def test_as_of_combines_with_since_and_undated_articles_stay(ferry, seed_bot):
    # --since 2024-01-01 with an as_of before it: no article left, not found.
    allowed = ferry.articles_in_scope(since="2024-01-01")
    assert not ferry.ask(FARE_QUESTION, as_of=dt.date(2023, 6, 1), articles=allowed).answered
    # The seed articles have no date: they are used at any as_of.
    old = seed_bot.ask("Which countries threatened a veto?", as_of=dt.date(1990, 1, 1))
    assert old.answered and "veto" in old.citations[0].quote


# -- `citebot ask --as-of` ----------------------------------------------------------------------
def test_cli_as_of_before_and_after_the_newer_article(ferry_env, ferry):
    r = run_cli("ask", "--json", "--as-of", BEFORE_NEW, FARE_QUESTION, env=ferry_env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["as_of"] == BEFORE_NEW and set(ids(data["citations"])) == {OLD_ID}
    assert all(c["article"]["published"] == OLD_DATE for c in data["citations"])
    assert_exact_quotes(data["citations"], ferry.config.corpus)
    # ISO 8601 with a time and zone: its own day.
    r = run_cli("ask", "--json", "--as-of", "2024-09-01T08:30:00+02:00", FARE_QUESTION,
                env=ferry_env)
    data = json.loads(r.stdout)
    assert data["as_of"] == AFTER_NEW and NEW_ID in ids(data["citations"])
    assert_exact_quotes(data["citations"], ferry.config.corpus)
    # Default: now (today), which is after both articles.
    r = run_cli("ask", "--json", FARE_QUESTION, env=ferry_env)
    data = json.loads(r.stdout)
    assert data["as_of"] == dt.date.today().isoformat() and NEW_ID in ids(data["citations"])


def test_cli_text_shows_dates_and_says_as_of_when_they_differ(ferry_env):
    r = run_cli("ask", "--as-of", AFTER_NEW, FARE_QUESTION, env=ferry_env)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    assert f"as of {OLD_DATE}" in out and f"as of {NEW_DATE}" in out
    r = run_cli("ask", "--as-of", BEFORE_NEW, FARE_QUESTION, env=ferry_env)
    out = " ".join(r.stdout.decode().split())  # one date only: shown plainly
    assert f"The Harbour Ledger, {OLD_DATE}, paragraph 2" in out and "as of" not in out
    r = run_cli("ask", "--format", "markdown", "--as-of", AFTER_NEW, FARE_QUESTION,
                env=ferry_env)
    assert f"as of {NEW_DATE}" in r.stdout.decode()


@pytest.mark.parametrize("flag", ["--as-of", "--since"])
@pytest.mark.parametrize("bad", ["2024-02-30", "yesterday", "2024-06", "16/06/2024", ""])
def test_cli_bad_as_of_is_one_line_exit_2(ferry_env, bad, flag, tmp_path):
    env = {**ferry_env, "CITEBOT_INDEX": str(tmp_path / "never-built")}
    r = run_cli("ask", flag, bad, FARE_QUESTION, env=env)
    err = r.stderr.decode()
    assert r.returncode == 2 and "not a date" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (tmp_path / "never-built").exists()  # nothing done


def test_text_wraps_citations_without_cutting_ids_or_urls(ferry_env):
    r = run_cli("ask", "--as-of", AFTER_NEW, FARE_QUESTION, env={**ferry_env, "COLUMNS": "50"})
    lines = r.stdout.decode().splitlines()
    assert any(NEW_URL in ln for ln in lines)  # the URL whole on one line
    assert any(f"[{NEW_ID}:p2]" in ln for ln in lines)
    for ln in lines:  # wrapped to the width, except a single token too long for it
        assert len(ln) <= 50 or len(ln.split()) <= 2, ln


# -- `citebot ask --input jsonl` ------------------------------------------------------------------
def test_jsonl_input_good_and_bad_lines(ferry_env, ferry):
    lines = [
        json.dumps({"question": FARE_QUESTION, "as_of": BEFORE_NEW}),
        json.dumps({"question": FARE_QUESTION, "as_of": "2024-09-01T00:00:00Z", "k": 1}),
        "not json at all",
        json.dumps(["a", "list"]),
        json.dumps({"as_of": BEFORE_NEW}),
        json.dumps({"question": "   "}),
        json.dumps({"question": FARE_QUESTION, "as_of": "June 2023"}),
        json.dumps({"question": FARE_QUESTION, "k": "3"}),
        json.dumps({"question": FARE_QUESTION, "k": 0}),
        "",
        json.dumps({"question": FARE_QUESTION, "source": "the harbour ledger",
                    "since": "2024-01-01"}),
        json.dumps({"question": FARE_QUESTION, "source": "No Such Paper"}),
        json.dumps({"question": "Who won the 2022 World Cup?", "as_of": AFTER_NEW}),
        json.dumps({"question": FARE_QUESTION}),
    ]
    data = "\n".join(lines).encode() + b"\n\xff\xfe\n"
    r = run_cli("ask", "--input", "jsonl", input=data, env=ferry_env)
    assert r.returncode == 2  # some lines were refused, the others answered
    assert "Traceback" not in r.stderr.decode()
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(out) == len(lines) + 1  # one output line per input line, in order
    errors = {i + 1: row["error"] for i, row in enumerate(out) if "error" in row}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9, 10, 12, 15]
    for n, msg in errors.items():
        assert msg.startswith(f"line {n}: ") and f"line {n}: line" not in msg
        assert out[n - 1]["line"] == n
    assert "not valid JSON" in errors[3] and "not a JSON object" in errors[4]
    assert "question" in errors[5] and "question" in errors[6]
    assert "not a date: 'June 2023'" in errors[7] and '"k"' in errors[8] and '"k"' in errors[9]
    assert "empty line" in errors[10] and "No Such Paper" in errors[12]
    assert "not valid UTF-8" in errors[15]
    assert out[0]["as_of"] == BEFORE_NEW and set(ids(out[0]["citations"])) == {OLD_ID}
    assert out[1]["as_of"] == AFTER_NEW and len(out[1]["citations"]) == 1
    assert set(ids(out[10]["citations"])) == {NEW_ID}  # since + source
    assert out[12]["answered"] is False and out[12]["as_of"] == AFTER_NEW
    assert out[13]["as_of"] == dt.date.today().isoformat()  # no as_of: today
    for row in out:
        if "error" not in row:
            assert row["question"] == FARE_QUESTION or "World Cup" in row["question"]
            assert_exact_quotes(row["citations"], ferry.config.corpus)


def test_jsonl_input_needs_stdin_and_takes_the_cli_defaults(ferry_env):
    r = run_cli("ask", "--input", "jsonl", FARE_QUESTION, env=ferry_env)
    assert r.returncode == 2 and len(r.stderr.decode().strip().splitlines()) == 1
    # -k and --as-of of the command line are the defaults of every line.
    line = json.dumps({"question": FARE_QUESTION}) + "\n"
    r = run_cli("ask", "--input", "jsonl", "-k", "1", "--as-of", BEFORE_NEW,
                input=line.encode(), env=ferry_env)
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["as_of"] == BEFORE_NEW and ids(row["citations"]) == [OLD_ID]


# -- the shared date wording ------------------------------------------------------------------------
def test_cli_and_telegram_word_dates_alike():
    from bot import render
    from bot.telegram import render as telegram_render
    from index.answer import ArticleRef

    a = ArticleRef(id="x", title="T", source="S", published="2024-08-02")
    assert render.citation_line(a, 2, "x:p2", as_of=True) == \
        "T — S, as of 2024-08-02, paragraph 2 [x:p2]"
    assert render.citation_line(a, 2, "x:p2") == "T — S, 2024-08-02, paragraph 2 [x:p2]"
    assert "S, as of 2024-08-02, paragraph 2" in telegram_render.citation_html(a, 2, "x:p2",
                                                                                as_of=True)
    assert render.citation_markdown(a, 2, as_of=True) == "— T, S, as of 2024-08-02, ¶2"
    undated = ArticleRef(id="y", title="U")
    assert render.citation_line(undated, 1, "y:p1", as_of=True) == "U — paragraph 1 [y:p1]"
    # Wrapped between words only: the id, the URL and "as of <date>" each stay on one line.
    long = ArticleRef(id="a-very-long-article-id-with-many-parts", title="Title " * 8,
                      source="S", published="2024-08-02", url=NEW_URL)
    text = render.wrap(render.citation_line(long, 3, f"{long.id}:p3", as_of=True), 30,
                       "   — ", "     ")
    assert any(f"[{long.id}:p3]" in ln for ln in text.splitlines())
    assert any(NEW_URL in ln for ln in text.splitlines())
    assert any("as of 2024-08-02," in ln for ln in text.splitlines())


def test_date_reading_is_strict(ferry):
    from bot.dates import BadDate, parse_date, utc_day
    from index.errors import UsageError

    assert parse_date("2022-06-16") == dt.date(2022, 6, 16)
    assert parse_date("2022-06-16T23:30:00-05:00") == dt.date(2022, 6, 16)  # its own day
    assert parse_date("2022-06-16T10:00:00Z") == dt.date(2022, 6, 16)
    for bad in ("16/06/2022", "June 16, 2022", "2022-06", "today", 20220616, None, ""):
        with pytest.raises(BadDate):
            parse_date(bad)
    late = dt.datetime(2024, 8, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert utc_day(late) == dt.date(2024, 8, 2)  # Telegram dates are read in UTC
    with pytest.raises(UsageError, match="not a date"):  # the core refuses one too
        ferry.ask(FARE_QUESTION, as_of="someday")
