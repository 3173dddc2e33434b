"""Pasteable citation forms (text / Markdown / JSON) and the rendering of citation lookups."""

import json
import re

from conftest import assert_exact_quotes, body_of, run_cli

from bot import render
from index.answer import ArticleRef
from index.cite.lookup import lookup

FULL = ArticleRef(id="a", title="Vote [updated]", source="The Clarity Times",
                  published="2024-09-30", url="https://example.org/a_(b)")
BARE = ArticleRef(id="b", title="Delays in Haiti")


def md_unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def blockquotes(markdown: str) -> list[str]:
    """The text of each block quote of a Markdown document, unescaped."""
    out = []
    for block in markdown.split("\n\n"):
        lines = block.split("\n")
        if lines[0].startswith(">"):
            out.append("\n".join(md_unescape(ln[2:]) if ln.startswith("> ") else "" for ln in lines))
    return out


def test_citation_markdown_fields():
    assert render.citation_markdown(FULL, 3) == (
        r"— [Vote \[updated\]](https://example.org/a_(b%29), The Clarity Times, 2024-09-30, ¶3")
    assert render.citation_markdown(BARE, None) == "— Delays in Haiti"
    assert render.citation_markdown(BARE, 6) == "— Delays in Haiti, ¶6"


def test_quote_markdown_keeps_the_words_and_lines():
    quote = "First *line* with a_b.\nSecond line <b>."
    md = render.quote_markdown(quote, BARE, 2)
    assert md.split("\n")[:2] == [r"> First \*line\* with a\_b.", r"> Second line \<b\>."]
    assert md.endswith("\n\n— Delays in Haiti, ¶2")
    assert blockquotes(md) == [quote]


def test_answer_markdown_from_a_real_answer(seed_bot, seed_dir):
    answer = seed_bot.ask("Which countries threatened a veto?")
    md = render.answer_markdown(answer)
    assert blockquotes(md) == [c.quote for c in answer.citations]
    assert_exact_quotes(answer.citations, seed_dir)
    assert "— UN Security Council renews the Multinational Security Support mission in Haiti, " \
           "The Clarity Times, ¶4" in md
    nothing = seed_bot.ask("Who painted the Mona Lisa?")
    assert render.answer_markdown(nothing).startswith(render.NOT_FOUND)


def test_source_markdown(seed_bot, seed_dir):
    view = seed_bot.source("mss-deployment:p6")
    md = render.source_markdown(view)
    assert blockquotes(md) == [body_of("mss-deployment", seed_dir)[view.start:view.end]]
    assert md.rstrip().endswith(", ¶6")


def test_cite_text_exact_close_none(seed_bot, seed_dir):
    store, emb = seed_bot.store, seed_bot.searcher.embedder
    exact = render.cite_text(lookup(store, "haitian national police"))
    assert exact.startswith("Found word for word 2 times:")
    assert exact.count("“Haitian National Police”") == 2
    close_result = lookup(store, "the trust fund raised only 21 million dollars", embedder=emb)
    close = render.cite_text(close_result, width=10_000)
    m = close_result.matches[0]
    assert f"[{m.id}] ({m.article.id}:{m.start}-{m.end})" in close
    assert f"(similarity {m.similarity:.2f})" in close
    assert "the [-United Nations-backed-] trust fund [-has-] raised only [-$-]21 million, " \
           "{+dollars+}" in close
    none = render.cite_text(lookup(store, "The Premier League season starts in August.",
                                   embedder=emb))
    assert none.startswith("Not found in the articles")


def test_cite_markdown_and_json(seed_bot, seed_dir):
    result = lookup(seed_bot.store, "the trust fund raised only 21 million dollars",
                    embedder=seed_bot.searcher.embedder)
    md = render.cite_markdown(result)
    assert blockquotes(md)[0] == result.matches[0].quote
    assert "~~$~~21 million, **dollars**" in md
    data = json.loads(render.cite_json(result))
    assert data["kind"] == "close" and data == json.loads(json.dumps(result.to_dict()))
    assert_exact_quotes(data["matches"], seed_dir)


def test_cli_ask_and_source_formats(cli_env, seed_dir):
    r = run_cli("ask", "--format", "markdown", "Which countries threatened a veto?", env=cli_env)
    assert r.returncode == 0, r.stderr
    md = r.stdout.decode()
    quotes = blockquotes(md.strip())
    assert quotes and all(q in body_of("mss-renewal", seed_dir) + body_of("mss-deployment",
                                                                          seed_dir)
                          for q in quotes)
    assert "China and Russia" in quotes[0] and "¶4" in md
    r = run_cli("source", "--format", "markdown", "[mss-renewal:p4]", env=cli_env)
    assert r.returncode == 0, r.stderr
    assert blockquotes(r.stdout.decode().strip())[0].startswith("In a significant development")
    r = run_cli("source", "--format", "json", "mss-renewal:1118-1337", env=cli_env)
    view = json.loads(r.stdout)
    assert view["text"] == body_of("mss-renewal", seed_dir)[1118:1337]
    r = run_cli("source", "--format", "yaml", "mss-renewal:p4", env=cli_env)
    assert r.returncode == 2 and "Traceback" not in r.stderr.decode()
