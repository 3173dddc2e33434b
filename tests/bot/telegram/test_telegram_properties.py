"""Property-based tests (hypothesis) on Telegram rendering (bot/telegram/render.py).

Any Answer whose quotes are article bodies at real offsets, with any titles, sources, URLs and
follow-up context, renders to messages that each fit Telegram's 4,096 characters, are valid
Telegram HTML with only the tags citebot uses, and whose quotes, unescaped and joined, are the
article bodies at those offsets, citation by citation, in order.
"""

from __future__ import annotations

import string

from conftest import SEED_CORPUS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram_html import OUR_TAGS, parse_telegram_html, telegram_length

from bot.telegram import render
from index.answer import Answer, ArticleRef, Citation
from index.corpus.articles import load_corpus

SEED_BODIES = [a.body for a in load_corpus(SEED_CORPUS)]
# Text that stresses escaping and length counting: markup characters, entities, emoji (two
# UTF-16 units each), combining marks, right-to-left and zero-width characters, CJK, newlines.
NASTY = st.sampled_from(list("<>&\"'/;=#") + ["&amp;", "&lt;", "</blockquote>", "<b>", "🙂",
                                               "👮‍♂️", "🇰🇪", "é", "\u0301", "\u202e", "\u200b",
                                               "漢", "ب", "\n", "\n\n", "  ", "\t"])
WORDS = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12)
BODY_PIECES = st.one_of(WORDS, NASTY, st.just(" "), st.text(max_size=3),
                        st.text(alphabet="x", min_size=100, max_size=6000))  # one huge "word"
SYNTHETIC_BODIES = st.lists(BODY_PIECES, min_size=1, max_size=80).map("".join).filter(bool)
BODIES = st.one_of(st.sampled_from(SEED_BODIES), SYNTHETIC_BODIES,
                   st.lists(st.sampled_from(SEED_BODIES), min_size=2, max_size=6).map(
                       "\n\n".join))  # long articles: quotes beyond 4,096 characters
FIELD = st.one_of(st.none(), st.text(max_size=40), st.lists(st.one_of(WORDS, NASTY),
                                                             max_size=400).map("".join))
URLS = st.one_of(st.none(), st.just("javascript:alert(1)"), st.just("https://x.org/a?b=1&c=<2>"),
                 st.text(alphabet=string.ascii_letters + "/?&=%#<>\"", max_size=30).map(
                     lambda s: "https://example.org/" + s),
                 st.integers(4000, 9000).map(lambda n: "https://example.org/" + "a" * n))


@st.composite
def citations(draw, n_id: int):
    """A Citation whose quote is ``body[start:end]`` of a drawn article body."""
    body = draw(BODIES)
    start = draw(st.integers(0, len(body) - 1))
    end = draw(st.integers(start + 1, len(body)))
    quote = body[start:end]
    if not quote.strip():  # quotes are sentences: never only white space
        body, start, end = body + " x", len(body) + 1, len(body) + 2
        quote = body[start:end]
    article = ArticleRef(id=draw(st.one_of(WORDS, st.text(min_size=1, max_size=300))),
                         title=draw(st.text(min_size=1, max_size=500)),
                         source=draw(FIELD), published=draw(st.one_of(st.none(),
                                                                      st.dates().map(str))),
                         url=draw(URLS))
    also = draw(st.lists(st.builds(ArticleRef, id=WORDS, title=st.text(min_size=1,
                                                                       max_size=300)),
                         max_size=40))
    cid = f"{article.id}:p{n_id}"  # unique per citation in an answer
    return body, Citation(id=cid, article=article, quote=quote, start=start, end=end,
                          score=draw(st.floats(0, 1)), paragraph=n_id, also_in=also)


@st.composite
def answers(draw):
    drawn = [draw(citations(i + 1)) for i in range(draw(st.integers(1, 6)))]
    context = draw(st.one_of(st.none(), st.text(min_size=1, max_size=2000)))
    answer = Answer(question=draw(st.text(max_size=50)), answered=True,
                    citations=[c for _, c in drawn], context=context)
    return answer, [b for b, _ in drawn]


def parse_all(messages: list[str]):
    """Each message: <= 4,096 characters, valid Telegram HTML, only citebot's tags."""
    assert messages
    parsed = []
    for m in messages:
        assert telegram_length(m) <= render.MAX_MESSAGE
        p = parse_telegram_html(m)  # raises on anything Telegram would refuse
        assert {name for name, _, _ in p.tags} <= OUR_TAGS
        assert p.text.strip()  # Telegram refuses an empty message
        for name, attrs, _ in p.tags:
            if name == "a":
                assert attrs["href"].startswith(("http://", "https://"))
        parsed.append(p)
    return parsed


def assert_shown_or_pointed_to(parsed, shown: str, article_id: str, start: int, end: int,
                               body: str) -> None:
    """A quote is shown whole, or its beginning (the body's own characters) is followed by
    "… (N more characters: /source ID:S-E)" where body[S:E] is exactly the rest."""
    quote = body[start:end]
    assert shown and quote.startswith(shown)
    if shown == quote:
        return
    rest_start = start + len(shown) + len(quote[len(shown):]) - len(quote[len(shown):].lstrip())
    ref = f"{article_id}:{rest_start}-{end}"
    text = " ".join(p.text for p in parsed)
    assert f"({end - rest_start:,} more characters: /source " in text
    if len(ref) <= render.MAX_ID:
        codes = [t for p in parsed for name, _, t in p.tags if name == "code"]
        assert f"/source {ref}" in codes
        assert body[rest_start:end] == quote[len(shown):].lstrip()


def quotes_by_citation(parsed, ids: list[str]) -> dict[str, str]:
    """The blockquote texts before each citation's <code>id</code>, joined (a quote too long
    for one message is split into several blockquotes, possibly over several messages)."""
    out, pending = {}, []
    for p in parsed:
        for name, _, text in p.tags:
            if name == "blockquote":
                pending.append(text)
            elif name == "code" and text in ids and text not in out:
                out[text] = "".join(pending)
                pending = []
    assert not pending, "a quote without its citation"
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(answers())
def test_any_answer_renders_to_valid_messages_quoting_the_bodies_exactly(drawn):
    answer, bodies = drawn
    for render_fn in (render.answer_messages, render.more_messages):
        parsed = parse_all(render_fn(answer) if render_fn is render.answer_messages
                           else render_fn(answer.citations))
        ids = [c.id for c in answer.citations]
        joined = quotes_by_citation(parsed, ids)
        assert list(joined) == ids  # every citation, in order
        for c, body in zip(answer.citations, bodies):
            assert_shown_or_pointed_to(parsed, joined[c.id], c.article.id, c.start, c.end, body)
        assert len(parsed) <= 1 + 2 * len(answer.citations)
    if answer.context:
        assert parse_all(render.answer_messages(answer))[0].text.startswith("Read as a follow-up")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(citations(3))
def test_inline_results_and_sources_render_valid_html(drawn):
    body, c = drawn
    inline = render.inline_message(c)
    if inline is not None:  # a quote too long for one message is not offered inline
        [p] = parse_all([inline])
        shown = quotes_by_citation([p], [c.id])[c.id]
        assert_shown_or_pointed_to([p], shown, c.article.id, c.start, c.end, body)

    class View:  # what `/source` renders: the cited text with paragraphs around it
        id, article, paragraph, text, start, end = c.id, c.article, c.paragraph, c.quote, \
            c.start, c.end
        before = [("a:p1", body[:c.start])] if body[:c.start].strip() else []
        after = [("a:p3", body[c.end:])] if body[c.end:].strip() else []

    parsed = parse_all(render.source_messages(View))
    shown = "".join(t for p in parsed for name, _, t in p.tags if name == "blockquote")
    assert_shown_or_pointed_to(parsed, shown, c.article.id, c.start, c.end, body)
    assert len(parsed) <= render.MAX_REPLY_MESSAGES


@settings(max_examples=100, deadline=None)
@given(st.lists(st.builds(ArticleRef, id=WORDS, title=st.text(min_size=1, max_size=400),
                          source=FIELD, published=st.one_of(st.none(), st.dates().map(str)),
                          url=URLS), max_size=60), st.one_of(st.none(), WORDS))
def test_help_and_not_found_render_valid_html(articles, username):
    parse_all(render.help_messages(articles, username))
    parse_all(render.not_found_messages(articles))
    parse_all(render.answer_messages(Answer(question="q", answered=False), articles))
