"""Citation lookups (index.cite) on the real index of the seed corpus (the `citebot cite`
command: tests/bot/cli/test_cli_cite.py)."""

import json

import pytest
from conftest import HashEmbedder, assert_exact_quotes, body_of

from index.cite.diff import normalize, normalize_map, word_diff
from index.cite.lookup import clean_text, lookup
from index.errors import BadQuestion, UnknownCitation


def _no_model():
    raise AssertionError("an exact lookup must not load the embedding model")


def check_match(m, seed_dir):
    """The promise for every match: the quote is the body at its offsets, and so is every
    article-side piece of its word diff."""
    d = m.to_dict()
    assert_exact_quotes([d], seed_dir)
    body = body_of(d["article"]["id"], seed_dir)
    for op in d["diff"]:
        if op["article"] is not None:
            assert body[op["start"]:op["end"]] == op["article"]
            assert m.start <= op["start"] < op["end"] <= m.end


def cite(bot, text, **kw):
    return lookup(bot.store, text, embedder=bot.searcher.embedder, **kw)


# -- normalization -----------------------------------------------------------------------------

def test_normalize_map_points_back_at_the_original_characters():
    text = "Port-au-Prince, Haiti – The  Clarity\nTimes: “government’s” ﬁnal"
    norm, idx = normalize_map(text)
    assert norm == "port-au-prince, haiti-the clarity times: \"government's\" final"
    assert len(idx) == len(norm) and idx == sorted(idx)
    for k, ch in enumerate(norm):  # every normalized character comes from its original
        assert ch in normalize(text[idx[k]]) or ch == " "


# -- exact -------------------------------------------------------------------------------------

# Quotes taken from each seed article, with the variation a pasted quote carries.
EXACT = [
    ("mss-deployment", "the United Nations-backed trust fund has raised only $21 million", str),
    ("mss-deployment", "Brian A. Nichols, Assistant Secretary of State", str),
    ("mss-renewal", "the Haitian government’s urgent request for international assistance",
     lambda q: q.replace("’", "'")),  # straight apostrophe for the curly one
    ("mss-renewal", "Port-au-Prince, Haiti – The Clarity Times", lambda q: q.replace("–", "-")),
    ("mss-renewal", "due to threats of a veto from China and Russia",
     lambda q: q.upper()),
    ("mss-deployment", "arrived in Haiti on June 25 after months of preparation",
     lambda q: q.replace(" ", "  \n\t ")),
    ("mss-renewal", "confirmed the importance of sustainable funding",
     lambda q: f"“{q.title()}.”"),  # in quotation marks, title case, a final period
]


@pytest.mark.parametrize("article,quote,vary", EXACT)
def test_exact_quote_found_with_article_and_offsets(seed_bot, seed_dir, article, quote, vary):
    body = body_of(article, seed_dir)
    start = body.index(quote)
    result = lookup(seed_bot.store, vary(quote), embedder=_no_model)
    assert result.kind == "exact" and result.total == 1
    m = result.matches[0]
    assert (m.article.id, m.start, m.end, m.quote) == (article, start, start + len(quote), quote)
    assert m.exact and m.similarity == 1.0 and m.diff == []
    passage = next(p for p in seed_bot.store.passages if p.article_id == article
                   and p.start <= start < p.end)
    assert (m.id, m.paragraph) == (passage.id, passage.paragraph)
    check_match(m, seed_dir)


def test_curly_apostrophe_in_the_text_matches_the_article_either_way(seed_bot, seed_dir):
    # The article writes "United States’"; a curly or a straight one both find it.
    for text in ("the United States’ commitment", "the United States' commitment",
                 "THE UNITED STATES‘ COMMITMENT"):
        r = lookup(seed_bot.store, text, embedder=_no_model)
        assert r.kind == "exact" and r.matches[0].quote == "the United States’ commitment"


def test_quote_spanning_two_sentences(seed_bot, seed_dir):
    body = body_of("mss-renewal", seed_dir)
    quote = ("not conducive to a new peacekeeping operation. This shift underscores the "
             "complexities")
    r = lookup(seed_bot.store, quote.replace(". ", ".\n\n"), embedder=_no_model)
    assert r.kind == "exact"
    m = r.matches[0]
    assert (m.id, m.start, m.quote) == ("mss-renewal:p4", body.index(quote), quote)
    check_match(m, seed_dir)


def test_quote_spanning_two_paragraphs_cites_where_it_starts(seed_bot, seed_dir):
    body = body_of("mss-deployment", seed_dir)
    text = "remains determined to carry out this mission. A new appeal was filed on May 16"
    r = lookup(seed_bot.store, text, embedder=_no_model)
    assert r.kind == "exact"
    m = r.matches[0]
    assert m.id == "mss-deployment:p3" and "\n" in m.quote
    assert m.start == body.index("remains determined") and m.quote.endswith("May 16")
    check_match(m, seed_dir)


def test_every_occurrence_in_every_article(seed_bot, seed_dir):
    r = lookup(seed_bot.store, "haitian national police", embedder=_no_model)
    assert r.kind == "exact"
    expected = {(a, body_of(a, seed_dir).index("Haitian National Police"))
                for a in ("mss-deployment", "mss-renewal")}
    assert {(m.article.id, m.start) for m in r.matches} == expected and r.total == 2
    r = lookup(seed_bot.store, "Haiti", embedder=_no_model)
    bodies = [body_of(a, seed_dir) for a in ("mss-deployment", "mss-renewal")]
    # "Haiti" as a word: not inside "Haitian"; "Haiti’s" and "Haiti." count.
    import re

    assert r.total == sum(len(re.findall(r"\bHaiti\b", b)) for b in bodies) == len(r.matches)
    for m in r.matches:
        assert m.quote == "Haiti"
        check_match(m, seed_dir)


def test_a_match_never_starts_or_ends_inside_a_word(seed_bot):
    # "ssion aims to restore" stands in the article only as part of "mission aims to restore".
    r = lookup(seed_bot.store, "ssion aims to restore", embedder=seed_bot.searcher.embedder)
    assert r.kind != "exact"


# -- close -------------------------------------------------------------------------------------

# (paraphrase, article, words of the sentence it paraphrases): written for this suite, not the
# calibration set in benchmarks/bench_cite.py.
PARAPHRASES = [
    ("the trust fund raised only 21 million dollars", "mss-deployment", "$21 million"),
    ("A Kenyan judge ruled in January 2024 that sending police officers to Haiti was against "
     "the constitution", "mss-deployment", "January 26, 2024"),
    ("Kenya promised 1,000 police and agreed to head the mission in July 2023", "mss-renewal",
     "pledging to send 1,000"),
    ("Russia and China's veto threats stopped plans to make the MSS a UN peacekeeping force",
     "mss-renewal", "threats of a veto"),
    ("200 specialized police officers from Kenya landed in Haiti on June 25", "mss-deployment",
     "approximately 200"),
]


@pytest.mark.parametrize("text,article,needle", PARAPHRASES)
def test_paraphrase_finds_the_right_sentence_first(seed_bot, seed_dir, text, article, needle):
    r = cite(seed_bot, text)
    assert r.kind == "close" and r.matches
    first = r.matches[0]
    assert first.article.id == article and needle in first.quote and not first.exact
    assert 0.42 <= first.similarity <= 1.0
    sims = [m.similarity for m in r.matches]
    assert sims == sorted(sims, reverse=True)
    spans = sorted((m.article.id, m.start, m.end) for m in r.matches)
    for a, b in zip(spans, spans[1:]):  # overlapping candidates were removed
        assert a[0] != b[0] or a[2] <= b[1]
    for m in r.matches:
        check_match(m, seed_dir)
    assert any(op.op != "same" and op.op != "context" for op in first.diff)


def test_close_match_is_whole_sentences(seed_bot, seed_dir):
    r = cite(seed_bot, PARAPHRASES[1][0])
    m = r.matches[0]
    p = next(p for p in seed_bot.store.passages if p.id == m.id)
    assert m.start in {s for s, _ in p.sentences} and m.end in {e for _, e in p.sentences}


def test_diff_shows_the_dollar_words(seed_bot, seed_dir):
    r = cite(seed_bot, "the trust fund raised only 21 million dollars")
    ops = [(op.op, op.given, op.article) for op in r.matches[0].diff]
    assert ("dropped", None, "$") in ops          # the article's "$" ...
    assert ("added", "dollars", None) in ops      # ... the text's "dollars"
    assert ("dropped", None, "has") in ops
    assert ("same", "raised only", "raised only") in ops
    assert ops[0][0] == "context" and ops[-1][0] == "context"  # the rest of the sentence


def test_two_sentence_paraphrase_finds_the_pair(seed_bot, seed_dir):
    text = ("Both countries worried that Haiti was not ready for a new peacekeeping operation. "
            "The change shows how hard it is to win international support for Haiti.")
    r = cite(seed_bot, text)
    m = r.matches[0]
    assert m.article.id == "mss-renewal" and m.id == "mss-renewal:p4"
    assert m.quote.startswith("Both countries") and m.quote.endswith("stabilization efforts.")
    check_match(m, seed_dir)


@pytest.mark.parametrize("text", [
    "A volcano erupted in Iceland, forcing the evacuation of Grindavik.",
    "The Premier League season starts in August.",
    "Jamaica and Belize also sent soldiers to join the mission.",
    "Argentina won the 2022 World Cup.",
])
def test_outside_sentence_gets_none(seed_bot, text):
    r = cite(seed_bot, text)
    assert r.kind == "none" and r.matches == [] and r.to_dict()["matches"] == []


def test_lexical_only_without_an_embedder(seed_bot, seed_dir):
    r = lookup(seed_bot.store, "Kenya promised to send 1,000 police officers")
    assert r.kind == "close" and "1,000 police officers" in r.matches[0].quote
    check_match(r.matches[0], seed_dir)
    assert lookup(seed_bot.store, "The Premier League season starts in August.").kind == "none"


def test_word_diff_article_side_is_verbatim():
    body = "Intro. The U.S. “government’s” plan costs $21 million, (about 2,500) people."
    ops = word_diff("the US government's plan cost 21 million dollars", body, 7, len(body))
    for op in ops:
        if op.article is not None:
            assert body[op.start:op.end] == op.article
    kinds = [(o.op, o.given, o.article) for o in ops]
    assert ("same", "government's plan", "“government’s” plan") in kinds
    assert ("changed", "cost", "costs $") in kinds and ("added", "dollars", None) in kinds
    assert ("changed", "US", "U.S.") in kinds


# -- JSON and input ----------------------------------------------------------------------------

def test_json_shape(seed_bot, seed_dir):
    for text in ("the Haitian government’s urgent request", PARAPHRASES[0][0],
                 "The Premier League season starts in August."):
        d = json.loads(json.dumps(cite(seed_bot, text).to_dict()))
        assert set(d) == {"query", "kind", "total", "matches"} and d["query"] == text
        for m in d["matches"]:
            assert set(m) == {"id", "article", "paragraph", "quote", "start", "end", "exact",
                              "similarity", "diff"}
            assert set(m["article"]) == {"id", "title", "source", "published", "url"}
            for op in m["diff"]:
                assert set(op) == {"op", "given", "article", "start", "end"}
                assert op["op"] in {"same", "added", "dropped", "changed", "context"}
        assert_exact_quotes(d["matches"], seed_dir)


@pytest.mark.parametrize("text,reason", [
    ("", "empty"), ("  “ ” ", "empty"), ("— … ?!", "no words"), (None, "empty"),
    ("word " * 2000, "too long"),
])
def test_bad_text_is_a_usage_error(text, reason):
    with pytest.raises(BadQuestion, match=reason):
        clean_text(text)


# -- citation ids: `source` takes every id citebot prints --------------------------------------

def test_source_takes_passage_ids_ranges_and_printed_forms(seed_bot, seed_dir):
    body = body_of("mss-renewal", seed_dir)
    m = lookup(seed_bot.store, "threats of a veto from China and Russia").matches[0]
    for cid in (m.id, f"[{m.id}]", f"{m.article.id}:{m.start}-{m.end}",
                f"({m.article.id}:{m.start}-{m.end})", f" `{m.id}` "):
        view = seed_bot.source(cid)
        assert view.paragraph == 4 and body[view.start:view.end] == view.text
        assert m.quote in view.text
    view = seed_bot.source(f"mss-renewal:{m.start}-{m.end}")
    assert view.text == m.quote and (view.start, view.end) == (m.start, m.end)


def test_source_range_over_two_paragraphs_shows_what_follows_both(seed_bot, seed_dir):
    p = {x.id: x for x in seed_bot.store.passages}
    a, b = p["mss-deployment:p3"], p["mss-deployment:p4"]
    view = seed_bot.source(f"mss-deployment:{a.start + 10}-{b.start + 20}")
    assert view.paragraph == 3
    assert [i for i, _ in view.before] == ["mss-deployment:p2"]
    assert [i for i, _ in view.after] == ["mss-deployment:p5"]


@pytest.mark.parametrize("cid", ["mss-renewal:p99", "mss-renewal:10-10", "mss-renewal:5-999999",
                                 "nope:1-5", "mss-renewal", ""])
def test_source_unknown_ids(seed_bot, cid):
    with pytest.raises(UnknownCitation):
        seed_bot.source(cid)


def test_source_range_of_an_article_id_with_a_colon(tmp_path):
    from index.config import resolve
    from index.engine import Citebot

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text('---\ntitle: T\nid: "wire:42"\n---\nOne sentence here. '
                                 "Another one.\n", encoding="utf-8")
    bot = Citebot(resolve(corpus=corpus, index=tmp_path / "index"), embedder=HashEmbedder())
    bot.build()
    assert bot.source("wire:42:p1").text == "One sentence here. Another one."
    assert bot.source("wire:42:4-12").text == "sentence"
    r = lookup(bot.store, "ANOTHER one")
    assert r.kind == "exact" and r.matches[0].id == "wire:42:p1"


def _built(tmp_path, articles):
    from index.config import resolve
    from index.corpus.articles import Article, write_article
    from index.engine import Citebot

    for aid, body in articles.items():
        write_article(tmp_path / "corpus", Article(id=aid, title=f"Report {aid}", body=body))
    bot = Citebot(resolve(corpus=tmp_path / "corpus", index=tmp_path / "index"),
                  embedder=HashEmbedder())
    bot.build()
    return bot


def test_exact_lookup_reads_only_articles_holding_its_rarest_words(tmp_path, monkeypatch):
    """The posting lists of the text's words pick the articles to read, not a walk over all."""
    from index.cite import lookup as lookup_mod

    articles = {f"town-{i}": f"The council of town {i} met on Tuesday. It voted on the budget "
                             f"for roads and schools in district {i}." for i in range(40)}
    articles["harbour"] = ("The harbour master counted eleven trawlers and a rusty ferry at "
                           "dawn. The council met on Tuesday.")
    bot = _built(tmp_path, articles)
    read = []
    real = lookup_mod._StoreData.normalized_body
    monkeypatch.setattr(lookup_mod._StoreData, "normalized_body",
                        lambda self, aid: read.append(aid) or real(self, aid))
    r = lookup(bot.store, "counted eleven trawlers and a rusty ferry")
    assert r.kind == "exact" and [m.article.id for m in r.matches] == ["harbour"]
    assert read == ["harbour"]
    assert r.matches[0].quote == articles["harbour"][19:60]
    read.clear()
    r = lookup(bot.store, "The council met on Tuesday.")  # common words: many candidates
    assert r.kind == "exact" and [m.article.id for m in r.matches] == ["harbour"]
    read.clear()
    assert lookup(bot.store, "counted twelve trawlers and a rusty ferry").kind != "exact"
    assert read == []  # "twelve" is in no passage: no article can hold the text


def test_exact_lookup_finds_text_behind_characters_that_normalize_into_letters(tmp_path):
    """Ligatures, a soft hyphen inside a word, ß: the article's BM25 tokens differ from the
    normalized text's, so these articles are always read."""
    articles = {"plain": "Nothing to see in this plain report about roads.",
                "odd": "The \ufb01nance minister said the co\u00adoperative of the "
                       "Hauptstra\u00dfe bakers will reopen."}
    bot = _built(tmp_path, articles)
    odd = [a.id for a in bot.store.articles].index("odd")
    assert bot.store.table.cite_scan == {odd}  # recorded by the build
    for text in ("The finance minister", "said the cooperative of", "the Hauptstrasse bakers"):
        r = lookup(bot.store, text)
        assert r.kind == "exact", text
        m = r.matches[0]
        assert m.article.id == "odd" and m.quote == articles["odd"][m.start:m.end]


def test_exact_lookup_finds_a_heading_no_passage_carries(tmp_path):
    """A heading followed by another heading is in no passage's BM25 text: still found."""
    articles = {"log": "# Harbour notes from the north\n\n## Winter tides and moorings\n\n"
                       "The quay was closed for repairs.\n\n## Trailing remarks about gulls"}
    bot = _built(tmp_path, articles)
    assert bot.store.table.cite_scan == {0}
    bot.store.table.cite_scan = None  # an index built before builds recorded it: found anew
    for text in ("Harbour notes from the north", "Trailing remarks about gulls",
                 "Winter tides and moorings"):
        r = lookup(bot.store, text)
        assert r.kind == "exact", text
        assert r.matches[0].quote == articles["log"][r.matches[0].start:r.matches[0].end]
