"""`citebot add`, `list`, `remove` as a user runs them, and `ask --since / --source`."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SEED_CORPUS, assert_exact_quotes, run_cli
from ingest_fixtures import write_export, write_feed, write_news_page

from index.errors import UsageError

FEED_IDS = {"ferry-strike-ends", "storm-warning-for-brittany", "fish-market-reopens"}
LIGHTHOUSE = "lighthouse-of-ouessant-goes-electric"


@pytest.fixture(scope="module")
def gazette(tmp_path_factory):
    """The seed corpus plus a page, a feed and an export, added by `citebot add` (which builds
    the index: the one subprocess of this module that loads the model)."""
    root = tmp_path_factory.mktemp("gazette")
    corpus, src = root / "corpus", root / "src"
    shutil.copytree(SEED_CORPUS, corpus, ignore=shutil.ignore_patterns(".*"))
    src.mkdir()
    (src / "corrupt.pdf").write_bytes(b"%PDF-1.7\ngarbage")
    paths = [write_news_page(src), write_feed(src), write_export(src), src / "corrupt.pdf"]
    result = run_cli("add", *map(str, paths), "--corpus", str(corpus),
                     "--index", str(root / "index"))
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(root / "index")}
    return corpus, root / "index", env, result


def _bot(corpus, index, embedder):
    from index.config import resolve
    from index.engine import Citebot

    return Citebot(resolve(corpus, index), embedder=embedder)  # the session's model


def test_add_reports_every_input_skips_the_bad_one_and_builds_the_index(gazette):
    corpus, index, env, r = gazette
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0, err
    assert f"added {LIGHTHOUSE}: Lighthouse of Ouessant goes electric" in out
    assert "6 added, 0 already in the corpus, 1 failed" in out
    assert "[4/4]" in err and "skipped" in err and "corrupt.pdf: not a readable PDF" in err
    assert "Traceback" not in err
    assert "indexed 8 articles" in out
    # The index is current: `list` takes the passage counts from it, equal to a fresh count.
    from index.corpus.articles import load_corpus
    from index.corpus.passages import make_passages

    r = run_cli("list", "--json", env=env)
    rows = {row["id"]: row for row in json.loads(r.stdout)}
    assert {a.id: len(make_passages(a)) for a in load_corpus(corpus)} == \
        {i: row["passages"] for i, row in rows.items()}
    assert rows[LIGHTHOUSE]["published"] == "2024-03-14"
    assert rows[LIGHTHOUSE]["source"] == "The Harbour Gazette"


def test_source_and_since_narrow_the_articles_searched(gazette, embedder):
    from bot.render import answer_text

    corpus, index, _env, _r = gazette
    bot = _bot(corpus, index, embedder)
    generation = bot.store.manifest["generation"]

    def ask(question, **scope):
        bot.scope = scope
        allowed = bot.articles_in_scope()
        answer = bot.ask(question)
        cites = answer.citations + answer.more
        assert {c.article.id for c in cites} <= allowed
        assert_exact_quotes(cites, corpus)
        return answer, allowed

    question = "What did the lighthouse of Ouessant burn until 1902?"
    answer, allowed = ask(question, source="the HARBOUR gazette")
    assert allowed == {LIGHTHOUSE}
    assert answer.answered and "whale oil" in answer.citations[0].quote
    # The reply shows the article's source and publication date.
    assert "The Harbour Gazette, 2024-03-14, paragraph 2" in answer_text(answer, width=500)
    answer, allowed = ask(question, source="Harbour Gazette")  # the feed's entries only
    assert allowed == FEED_IDS
    # Since 2024-03-15: the feed entries with a date and the May export, not the undated ones.
    answer, allowed = ask("When do ferry services to the islands resume?", since="2024-03-15")
    assert allowed == {"ferry-strike-ends", "storm-warning-for-brittany",
                       "tram-line-extended-to-the-airport", "bakery-wins-national-prize"}
    assert answer.answered and answer.citations[0].article.id == "ferry-strike-ends"
    answer, _ = ask(question, since="2024-03-15")
    assert all(c.article.id != LIGHTHOUSE for c in answer.citations + answer.more)
    answer, allowed = ask("How much did the tram extension cost?", since="2024-05-01",
                          source="city news")
    assert allowed == {"tram-line-extended-to-the-airport"} and answer.answered
    bot.scope = {"since": "2024-05-07", "source": "City News"}
    with pytest.raises(UsageError, match="no article is published since 2024-05-07 and from"):
        bot.ask(question)
    assert bot.store.manifest["generation"] == generation  # nothing was rebuilt


def test_ask_with_no_matching_article_exits_2(gazette):
    _corpus, _index, env, _r = gazette
    r = run_cli("ask", "--source", "Le Monde", "Who keeps the lighthouse?", env=env)
    err = r.stderr.decode()
    assert r.returncode == 2 and "no article is from the source 'Le Monde'" in err
    assert "The Clarity Times" in err and len(err.strip().splitlines()) == 1
    r = run_cli("ask", "--since", "2024-14-01", "Who keeps the lighthouse?", env=env)
    assert r.returncode == 2 and "--since" in r.stderr.decode()


def test_after_a_remove_the_next_question_no_longer_sees_the_article(gazette, embedder,
                                                                     tmp_path):
    corpus, index, _env, _r = gazette
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index")
    bot = _bot(tmp_path / "corpus", tmp_path / "index", embedder)
    question = "What did the lighthouse of Ouessant burn until 1902?"
    assert bot.ask(question).citations[0].article.id == LIGHTHOUSE
    from index.ingest.admin import remove_articles

    remove_articles(tmp_path / "corpus", [LIGHTHOUSE])
    assert bot.reload_if_changed()  # the corpus fingerprint changed: rebuilt and reloaded
    answer = bot.ask(question)
    assert all(c.article.id != LIGHTHOUSE for c in answer.citations + answer.more)
    assert LIGHTHOUSE not in bot.store.article_by_id


def test_add_list_remove_without_index(tmp_path):
    corpus, src = tmp_path / "corpus", tmp_path / "src"
    src.mkdir()
    page, feed = write_news_page(src), write_feed(src)
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(tmp_path / "index")}
    r = run_cli("add", "--no-index", str(page), str(feed), env=env)
    assert r.returncode == 0, r.stderr
    assert "4 added" in r.stdout.decode() and "updated by the next question" in r.stdout.decode()
    assert not (tmp_path / "index").exists()
    r = run_cli("add", "--no-index", "--json", str(page), env=env)  # the same page again
    report = json.loads(r.stdout)
    assert r.returncode == 0 and report["added"] == 0 and report["duplicates"] == 1
    assert report["outcomes"][0]["message"] == f"already in the corpus as {LIGHTHOUSE}"
    r = run_cli("list", env=env)
    lines = r.stdout.decode().splitlines()
    assert lines[0].split() == ["ID", "DATE", "SOURCE", "PASSAGES", "TITLE"]
    assert any(ln.startswith(LIGHTHOUSE) and "2024-03-14" in ln and "The Harbour Gazette" in ln
               for ln in lines)
    assert lines[-1] == "4 articles, 9 passages"
    r = run_cli("remove", "ferry-strike-ends", input=b"", env=env)  # not a terminal: no question
    assert r.returncode == 0 and "removed ferry-strike-ends" in r.stdout.decode()
    assert not (corpus / "ferry-strike-ends.md").exists()
    r = run_cli("remove", "ferry-strike-ends", input=b"", env=env)
    assert r.returncode == 2 and "no article with the id 'ferry-strike-ends'" in r.stderr.decode()
    assert len(r.stderr.decode().strip().splitlines()) == 1
    # Bad input: nothing changed, one line per problem, exit code 2, no traceback.
    before = sorted(p.name for p in corpus.iterdir())
    (src / "empty.html").write_text("<html><body><nav>Home</nav></body></html>")
    r = run_cli("add", "--no-index", str(src / "empty.html"), str(src / "nothing.pdf"), env=env)
    err = r.stderr.decode()
    assert r.returncode == 2 and "no article text" in err and "no such file" in err
    r = run_cli("add", "--published", "soon", str(page), env=env)
    assert r.returncode == 2 and "not a full date: 'soon'" in r.stderr.decode()
    assert "Traceback" not in err + r.stderr.decode()
    assert sorted(p.name for p in corpus.iterdir()) == before
