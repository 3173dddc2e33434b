
import pytest
from conftest import SEED_CORPUS, SHARED

from index.corpus.articles import (
    Article,
    corpus_fingerprint,
    load_corpus,
    parse_article,
    read_article,
    render_article,
    write_article,
)
from index.errors import CorpusError


def test_seed_articles_have_titles_and_no_invented_fields():
    arts = {a.id: a for a in load_corpus(SEED_CORPUS)}
    assert set(arts) == {"mss-renewal", "mss-deployment"}
    assert arts["mss-renewal"].source == "The Clarity Times"
    assert arts["mss-deployment"].source is None
    for a in arts.values():
        assert a.title and a.published is None and a.url is None


@pytest.mark.skipif(not (SHARED / "seed-articles").is_dir(), reason="shared/ not beside the repo")
def test_seed_bodies_are_byte_for_byte():
    seeds = sorted((SHARED / "seed-articles").glob("*.txt"))
    bodies = sorted(a.body for a in load_corpus(SEED_CORPUS))
    assert sorted(p.read_bytes().decode("utf-8") for p in seeds) == bodies


def test_front_matter_and_plain_text(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: T\nurl: http://x\nextra_key: 1\n---\nBody.\r\n",
                                   encoding="utf-8", newline="")
    (tmp_path / "Plain Story.txt").write_text("Headline here\nText of it.\n", encoding="utf-8")
    arts = {a.id: a for a in load_corpus(tmp_path)}
    assert arts["a"].title == "T" and arts["a"].url == "http://x" and arts["a"].body == "Body.\r\n"
    assert arts["plain-story"].title == "Headline here"
    assert arts["plain-story"].body == "Headline here\nText of it.\n"


def test_missing_title_in_front_matter_is_an_error(tmp_path):
    (tmp_path / "a.md").write_text("---\nsource: S\n---\nBody.", encoding="utf-8")
    with pytest.raises(CorpusError, match="title"):
        load_corpus(tmp_path)


def test_missing_or_empty_corpus(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="no articles"):
        load_corpus(tmp_path)


def test_invalid_utf8_is_reported(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"ok \xff\xfe")
    with pytest.raises(CorpusError, match="UTF-8"):
        load_corpus(tmp_path)


def test_render_round_trips(tmp_path):
    art = Article(id="x", title="A: title", body="Line one.\n\nLine 'two'.\n", source="S",
                  published="2024-06-25", url="https://e.x/a", extra={"author": "Ann"})
    path = write_article(tmp_path, art)
    back = read_article(path)
    assert (back.title, back.body, back.source, back.published, back.url) == \
        (art.title, art.body, art.source, art.published, art.url)
    assert back.extra == {"author": "Ann"}
    assert render_article(back) == path.read_text(encoding="utf-8")


def test_fingerprint_changes_with_content():
    a = parse_article("---\ntitle: T\n---\nBody.", "a")
    b = parse_article("---\ntitle: T\n---\nBody!", "a")
    assert corpus_fingerprint([a]) != corpus_fingerprint([b])
    assert corpus_fingerprint([a]) == corpus_fingerprint([parse_article("---\ntitle: T\n---\nBody.", "a")])
