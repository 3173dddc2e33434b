"""Telegram HTML rendering (bot/telegram/render.py): escaping, tags, and the 4,096 limit."""

from __future__ import annotations

import re

import pytest
from conftest import assert_exact_quotes, body_of
from telegram_html import OUR_TAGS, TelegramHTMLError, parse_telegram_html, telegram_length

from bot.telegram import render
from index.answer import Answer, ArticleRef, Citation


def check(messages: list[str]) -> list:
    parsed = []
    for m in messages:
        assert telegram_length(m) <= render.MAX_MESSAGE
        p = parse_telegram_html(m)
        assert {name for name, _, _ in p.tags} <= OUR_TAGS
        parsed.append(p)
    return parsed


def quotes(parsed) -> list[str]:
    return [t for p in parsed for name, _, t in p.tags if name == "blockquote"]


def every_paragraph(seed_bot) -> list[Citation]:
    """Each passage of the seed index quoted whole: real quotes with real offsets."""
    store = seed_bot.store
    out = []
    for p in store.passages:
        a = store.article_by_id[p.article_id]
        out.append(Citation(id=p.id, article=ArticleRef(**a.meta()), quote=a.body[p.start:p.end],
                            start=p.start, end=p.end, score=0.5, paragraph=p.paragraph))
    return out


def test_validator_refuses_what_telegram_refuses():
    for bad in ("<b>x", "a < b", "<script>x</script>", "<b><i>x</b></i>", "&nbsp;", "x & y",
                "<blockquote><blockquote>x</blockquote></blockquote>", '<a href="x" id="y">z</a>'):
        with pytest.raises(TelegramHTMLError):
            parse_telegram_html(bad)
    assert parse_telegram_html("<b>a</b> &lt;&amp;&gt; &#39;").text == "a <&> '"


def test_long_answers_are_split_between_quotes(seed_bot, seed_dir):
    cites = every_paragraph(seed_bot) * 3
    answer = Answer(question="q", answered=True, citations=cites, context="earlier question")
    messages = render.answer_messages(answer)
    assert len(messages) > 1
    parsed = check(messages)
    assert quotes(parsed) == [c.quote for c in cites]  # every (short) quote whole, in order
    for p in parsed[1:]:
        assert p.text.startswith(p.tags[0][2])  # each message opens with a quote, not a tail
    assert parsed[0].text.startswith("Read as a follow-up to “earlier question”")
    assert_exact_quotes(cites, seed_dir)


def test_a_long_quote_is_cut_with_the_range_of_the_rest():
    body = ("Fish & chips <cost> “£5” in 2024. " * 400).strip()
    ref = ArticleRef(id="long", title="A <long> & winding title")
    c = Citation(id="long:p1", article=ref, quote=body, start=0, end=len(body), score=1.0,
                 paragraph=1)
    messages = render.answer_messages(Answer("q", True, [c]))
    parsed = check(messages)
    assert len(messages) == 1  # was 4: every part of a 13,000-character quote
    [shown] = quotes(parsed)
    assert body.startswith(shown) and 1000 < len(shown) <= render.MAX_QUOTE
    rest = len(shown) + 1
    assert f"… ({len(body) - rest:,} more characters: /source long:{rest}-{len(body)})" \
        in parsed[0].text
    assert parsed[-1].text.endswith("— A <long> & winding title, paragraph 1 long:p1")
    one_word = "x" * 10_000
    c.quote, c.end = one_word, 10_000
    [shown] = quotes(check(render.answer_messages(Answer("q", True, [c]))))
    assert one_word.startswith(shown)


def test_one_reply_is_a_few_messages_whatever_the_lengths():
    ref = ArticleRef(id="big", title="Big")
    body = "word " * 200_000  # a 1 MB article
    cites = [Citation(id=f"big:p{i}", article=ref, quote=body[:400_000 - i], start=0,
                      end=400_000 - i, score=1.0, paragraph=i) for i in range(1, 4)]
    assert len(render.answer_messages(Answer("q", True, cites, context="x" * 2000))) <= 4

    class View:
        id, article, paragraph, text, start, end = "big:0-1000000", ref, None, body, 0, len(body)
        before = [("big:p1", body[:300_000])]
        after = [("big:p3", body[:300_000])]

    messages = render.source_messages(View)
    assert len(messages) <= 3
    text = " ".join(p.text for p in check(messages))
    assert "more characters: /source big:p1)" in text and "/source big:3" in text


def test_metadata_is_escaped_and_only_web_links_are_links():
    bad = ArticleRef(id="a", title="<script>alert(1)</script> & co", source="<i>S</i>",
                     published="2024-01-02", url="javascript:alert(1)")
    good = ArticleRef(id="b", title="T", url='https://example.org/?a=1&b=<2>"')
    line = render.citation_html(bad, 3, "a:p3")
    p = parse_telegram_html(line)
    assert p.text == "— <script>alert(1)</script> & co, <i>S</i>, 2024-01-02, paragraph 3 a:p3"
    assert "href" not in line
    p = parse_telegram_html(render.citation_html(good, None, "b:p1"))
    assert [(n, a) for n, a, _ in p.tags if n == "a"] == [("a", {"href": good.url})]


def test_not_found_lists_what_the_articles_cover(seed_bot):
    refs = [ArticleRef(**a.meta()) for a in seed_bot.store.articles]
    [text] = check(render.answer_messages(Answer("q", False), covered=refs))
    assert text.text.startswith("Not found in the articles.")
    assert all(r.title in text.text for r in refs)


def test_help_for_a_large_corpus_spreads_over_messages():
    refs = [ArticleRef(id=f"a{i}", title=f"Article {i} " + "word " * 60,
                       source="The Source", published=f"2024-01-{i % 28 + 1:02d}")
            for i in range(500)]
    parsed = check(render.help_messages(refs, "some_bot", cite=True))
    text = "\n".join(p.text for p in parsed)
    assert "The articles (500):" in text and "…and 470 more." in text
    assert "2024-01-28" in text  # the newest first
    assert "/cite" in text and "@some_bot" in text


def test_source_view_quotes_the_passage(seed_bot, seed_dir):
    view = seed_bot.source("mss-renewal:p2")
    parsed = check(render.source_messages(view))
    assert quotes(parsed) == [body_of("mss-renewal", seed_dir)[view.start:view.end]]


def test_cite_results_show_the_articles_own_words(seed_bot, seed_dir):
    from index.cite.lookup import lookup_with_bot

    exact = lookup_with_bot(seed_bot, "the United Nations-backed trust fund has raised only "
                                      "$21 million")
    close = lookup_with_bot(seed_bot, "the trust fund raised only 21 million dollars")
    for result, head in ((exact, "Found word for word once"),
                         (close, "Not found word for word")):
        parsed = check(render.cite_messages(result))
        assert parsed[0].text.startswith(head)
        assert quotes(parsed) == [m.quote for m in result.matches]
        ranges = [t for p in parsed for n, _, t in p.tags
                  if n == "code" and re.search(r":\d+-\d+$", t)]
        assert len(ranges) == len(result.matches)
        for m, r in zip(result.matches, ranges):
            article, _, span = r.rpartition(":")
            start, end = map(int, span.split("-"))
            assert body_of(article, seed_dir)[start:end] == m.quote
        assert_exact_quotes([m.to_dict() for m in result.matches], seed_dir)
    assert "differences:" in parse_telegram_html(render.cite_messages(close)[0]).text
    none = lookup_with_bot(seed_bot, "The cat sat quietly on the warm windowsill all afternoon.")
    assert check(render.cite_messages(none))[0].text.startswith("Not found in the articles")
