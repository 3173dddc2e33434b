"""Ingest: web pages, PDFs, feeds and exports become corpus articles, once each, with metadata."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import socket
import threading
from pathlib import Path

import pytest
from conftest import SEED_CORPUS, HashEmbedder, assert_exact_quotes
from ingest_fixtures import (
    ATOM_FEED,
    NEWS_PAGE,
    PAGE_BOILERPLATE,
    PAGE_PARAGRAPHS,
    PAGE_URL,
    PDF_PARAGRAPHS,
    write_export,
    write_feed,
    write_news_page,
    write_pdf,
)

from index.corpus.articles import article_files, load_corpus, read_article
from index.errors import UsageError
from index.ingest.add import ingest
from index.ingest.admin import list_articles, remove_articles
from index.ingest.draft import normalize_date, url_key


@pytest.fixture()
def corpus(tmp_path) -> Path:
    """A private copy of the seed corpus to add to."""
    d = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, d, ignore=shutil.ignore_patterns(".*"))
    return d


@pytest.fixture()
def src(tmp_path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    return d


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in article_files(folder)}


def added(report) -> dict:
    return {o.article_id: o for o in report.of("added")}


def test_news_page_keeps_only_the_article_text_with_its_metadata(corpus, src):
    report = ingest([str(write_news_page(src))], corpus)
    assert [o.status for o in report.outcomes] == ["added"], report.outcomes
    art = read_article(corpus / "lighthouse-of-ouessant-goes-electric.md")
    assert art.title == "Lighthouse of Ouessant goes electric"
    assert (art.source, art.published, art.url, art.language) == (
        "The Harbour Gazette", "2024-03-14", PAGE_URL, "en")
    assert art.extra["author"] == "Marie Le Goff"
    # Plain paragraphs separated by blank lines; the headline is not repeated in the body.
    assert art.body == "\n\n".join(PAGE_PARAGRAPHS) + "\n"
    for junk in PAGE_BOILERPLATE:
        assert junk not in art.body


def test_pdf_text_round_trips_with_hyphenation_undone(corpus, src):
    report = ingest([str(write_pdf(src))], corpus)
    assert report.exit_code == 0 and len(report.of("added")) == 1, report.outcomes
    art = read_article(corpus / f"{report.of('added')[0].article_id}.md")
    assert art.title == "The harbour dredging report"  # the first line, no metadata title
    assert art.extra["author"] == "Port Authority of Brest"
    assert art.published is None  # a PDF's creation date is not its publication date
    # Running header and page numbers gone; paragraphs rebuilt, "chan-/nel" joined,
    # "long-/term" kept as the compound the text writes elsewhere.
    assert art.body == "\n\n".join(PDF_PARAGRAPHS) + "\n"
    assert "channel" in art.body and "chan-" not in art.body
    assert "under a long-term contract" in art.body


def test_atom_feed_gives_one_article_per_entry(corpus, src):
    report = ingest([str(write_feed(src))], corpus)
    got = added(report)
    assert list(got) == ["ferry-strike-ends", "storm-warning-for-brittany", "fish-market-reopens"]
    arts = {a.id: a for a in load_corpus(corpus)}
    ferry = arts["ferry-strike-ends"]
    # The full content, not the summary; HTML stripped, <script> gone, <br> inside a paragraph.
    assert ferry.body == ("The ferry workers' strike ended on Friday after nine days of talks."
                          "\n\nServices to the islands resume on Monday. Tickets bought before "
                          "the strike remain valid.\n")
    assert "The strike is over" not in ferry.body and "alert" not in ferry.body
    assert ferry.published == "2024-03-15"  # the day as the feed wrote it (-05:00), not UTC
    assert ferry.source == "Harbour Gazette" and ferry.extra["author"] == "Yann Kerv"
    assert ferry.url == "https://harbour-gazette.example/2024/03/ferry-strike-ends"
    storm = arts["storm-warning-for-brittany"]
    assert storm.body.startswith("Météo-France issued an orange warning for the coast of")
    assert storm.published == "2024-03-16"  # only <updated> given
    fish = arts["fish-market-reopens"]
    assert fish.published is None and "two-year renovation" in fish.body


def test_json_lines_export_one_article_per_line(corpus, src):
    path = write_export(src, extra_lines=['{"title": "broken', '{"title": "No text here"}',
                                          '["not", "an", "object"]'])
    report = ingest([str(path)], corpus)
    assert sorted(added(report)) == ["bakery-wins-national-prize",
                                     "tram-line-extended-to-the-airport"]
    failed = {o.origin.rsplit(":", 1)[1]: o.message for o in report.of("failed")}
    assert set(failed) == {"3", "4", "5"}
    assert "not valid JSON" in failed["3"] and "no `text`" in failed["4"]
    assert report.exit_code == 0
    tram = read_article(corpus / "tram-line-extended-to-the-airport.md")
    assert (tram.source, tram.published, tram.language) == ("City News", "2024-05-06", "en")
    assert tram.extra["author"] == "A. Martin, B. Roux"
    assert tram.body == ("The city's tram line now reaches the airport.\n\n"
                         "The extension cost 80 million euros and opened on Monday.\n")
    bakery = read_article(corpus / "bakery-wins-national-prize.md")  # headline/body/link/date
    assert bakery.url == "https://city-news.example/bakery" and bakery.published == "2024-05-07"
    assert bakery.body == ("A bakery in Quimper won the national baguette prize.\n\n"
                           "The jury tasted 170 baguettes.\n")


def test_bad_files_are_reported_and_skipped_and_nothing_else_is_lost(corpus, src):
    before = snapshot(corpus)
    (src / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <</Type /Catalog")
    (src / "empty.html").write_text("<html><head><title>Nothing</title></head><body></body>"
                                    "</html>", encoding="utf-8")
    (src / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me\nUn texte.".encode("latin-1"))
    (src / "notes.docx").write_bytes(b"PK\x03\x04")
    write_news_page(src)
    report = ingest([str(src)], corpus)
    failed = {Path(o.origin).name: o.message for o in report.of("failed")}
    assert set(failed) == {"corrupt.pdf", "empty.html", "latin1.txt"}
    assert "not a readable PDF" in failed["corrupt.pdf"]
    assert "no article text" in failed["empty.html"]
    assert "UTF-8" in failed["latin1.txt"]
    assert report.ignored == [str(src / "notes.docx")]
    assert list(added(report)) == ["lighthouse-of-ouessant-goes-electric"]
    assert report.exit_code == 0
    after = snapshot(corpus)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing else touched
    assert set(after) - set(before) == {"lighthouse-of-ouessant-goes-electric.md"}
    # Nothing usable at all: exit code 2, corpus unchanged.
    only_bad = ingest([str(src / "corrupt.pdf"), str(src / "missing.html")], corpus)
    assert only_bad.exit_code == 2 and len(only_bad.of("failed")) == 2
    assert snapshot(corpus) == after


def test_the_same_article_is_not_added_twice(corpus, src):
    page = write_news_page(src)
    first = ingest([str(page), str(write_feed(src))], corpus)
    assert len(first.of("added")) == 4
    files = snapshot(corpus)
    # Same files again, the same page under another name, the same text as a .txt export,
    # and a record whose URL differs only by scheme, www. and tracking parameters.
    copy = src / "copy.htm"
    copy.write_text(NEWS_PAGE.replace("<title>", "<title>Copy: "), encoding="utf-8")
    (src / "plain.txt").write_text("Lighthouse goes electric\n\n" + "\n".join(PAGE_PARAGRAPHS),
                                   encoding="utf-8")
    (src / "same-url.jsonl").write_text(
        '{"title": "Other words", "text": "Completely different text of the same story.", '
        '"url": "http://www.harbour-gazette.example/2024/03/storm/?utm_source=x"}\n',
        encoding="utf-8")
    again = ingest([str(page), str(page), str(copy), str(src / "gazette.atom"),
                    str(src / "same-url.jsonl")], corpus)
    assert again.of("added") == [] and again.exit_code == 0
    dup = {(Path(o.origin).name, o.article_id) for o in again.of("duplicate")}
    assert ("lighthouse.html", "lighthouse-of-ouessant-goes-electric") in dup
    assert ("copy.htm", "lighthouse-of-ouessant-goes-electric") in dup
    assert ("same-url.jsonl:1", "storm-warning-for-brittany") in dup
    assert all(o.message == f"already in the corpus as {o.article_id}"
               for o in again.of("duplicate"))
    assert snapshot(corpus) == files


def test_a_different_article_with_the_same_title_gets_a_suffix(corpus, src):
    (src / "a.txt").write_text("Harbour news\nThe first story.\n", encoding="utf-8")
    (src / "b.txt").write_text("Harbour news\nA second, different story.\n", encoding="utf-8")
    report = ingest([str(src / "a.txt"), str(src / "b.txt")], corpus)
    assert [o.article_id for o in report.of("added")] == ["harbour-news", "harbour-news-2"]
    assert {a.id for a in load_corpus(corpus)} >= {"harbour-news", "harbour-news-2"}


def test_a_title_without_latin_letters_takes_its_id_from_the_url_or_file(corpus, src):
    (src / "ru.jsonl").write_text(
        '{"title": "Взрыв в порту", "text": "В порту произошёл взрыв.", '
        '"url": "https://ria.example/news/port-blast.html"}\n'
        '{"title": "Шторм", "text": "Ожидается шторм."}\n', encoding="utf-8")
    report = ingest([str(src / "ru.jsonl")], corpus)
    assert [o.article_id for o in report.of("added")] == ["port-blast", "ru"]
    assert read_article(corpus / "port-blast.md").title == "Взрыв в порту"


def test_markdown_is_copied_and_text_gets_a_front_matter(corpus, src):
    md = ("---\ntitle: \"Quay renamed\"\n# a comment the copy keeps\nsource: Port Weekly\n"
          "dateline: Brest\n---\nThe quay was renamed   after a sailor.\r\n")
    (src / "quay.md").write_text(md, encoding="utf-8", newline="")
    (src / "Pier Story.txt").write_bytes("\ufeffPier reopens\nThe pier reopened.\n".encode())
    (src / "bare.md").write_text("# Dock strike\n\nDockers stopped work at noon.\n",
                                 encoding="utf-8")
    report = ingest([str(src)], corpus)
    assert sorted(added(report)) == ["dock-strike", "pier-reopens", "quay-renamed"]
    assert (corpus / "quay-renamed.md").read_bytes() == md.encode()
    pier = read_article(corpus / "pier-reopens.md")
    assert pier.title == "Pier reopens" and pier.body == "Pier reopens\nThe pier reopened.\n"
    dock = read_article(corpus / "dock-strike.md")
    assert dock.title == "Dock strike"
    assert dock.body == "# Dock strike\n\nDockers stopped work at noon.\n"


def test_overrides_are_checked_before_anything_is_written(corpus, src):
    before = snapshot(corpus)
    with pytest.raises(UsageError, match="not a full date"):
        ingest([str(write_news_page(src))], corpus, overrides={"published": "March 2024"})
    with pytest.raises(UsageError, match="fits one article"):
        ingest([str(write_feed(src))], corpus, overrides={"title": "One title"})
    assert snapshot(corpus) == before
    report = ingest([str(src / "lighthouse.html")], corpus, overrides={
        "published": "March 5, 2024", "source": "Gazette Weekly", "title": "Lamp news"})
    art = read_article(corpus / "lamp-news.md")
    assert [o.article_id for o in report.of("added")] == ["lamp-news"]
    assert (art.title, art.source, art.published) == ("Lamp news", "Gazette Weekly",
                                                      "2024-03-05")


@pytest.mark.parametrize("value, expected", [
    ("2024-03-14", "2024-03-14"), ("2024-03-14T23:30:00-05:00", "2024-03-14"),
    ("2024/3/4", "2024-03-04"), ("20240314", "2024-03-14"), ("D:20240314120000Z", "2024-03-14"),
    ("Thu, 14 Mar 2024 23:30:00 -0500", "2024-03-14"), ("March 14, 2024", "2024-03-14"),
    ("14 March 2024", "2024-03-14"), ("Mar. 14, 2024", "2024-03-14"),
    ("March 14th, 2024", "2024-03-14"),
    # Not a full, real date: never completed or guessed.
    ("March 2024", None), ("2024", None), ("2024-02-30", None), ("yesterday", None), ("", None),
    (None, None), ("1710403200", None),
])
def test_dates_are_normalized_never_invented(value, expected):
    assert normalize_date(value) == expected


def test_url_key_ignores_spelling_not_the_page():
    assert url_key("https://www.Example.org/a/b/?utm_source=x&id=3#top") == \
        url_key("http://example.org/a/b?id=3")
    assert url_key("https://example.org/a?id=3") != url_key("https://example.org/a?id=4")


def test_remove_and_list(corpus, src, tmp_path):
    from index.config import resolve
    from index.engine import Citebot

    ingest([str(write_feed(src))], corpus)
    # No index: the passages are counted from the articles (no model is loaded for that).
    rows = {r["id"]: r for r in list_articles(Citebot(resolve(corpus, tmp_path / "no-index")))}
    assert rows["ferry-strike-ends"]["published"] == "2024-03-15"
    assert rows["ferry-strike-ends"]["passages"] == 2
    assert rows["mss-renewal"]["source"] == "The Clarity Times"
    with pytest.raises(UsageError, match="did you mean 'fish-market-reopens'"):
        remove_articles(corpus, ["fish-market-reopen", "ferry-strike-ends"])
    assert (corpus / "ferry-strike-ends.md").exists()  # an unknown id changes nothing
    removed = remove_articles(corpus, ["fish-market-reopens", "ferry-strike-ends.md"])
    assert [i for i, _p in removed] == ["fish-market-reopens", "ferry-strike-ends"]
    left = {a.id for a in load_corpus(corpus)}
    assert left == {"mss-renewal", "mss-deployment", "storm-warning-for-brittany"}


class _Handler(http.server.BaseHTTPRequestHandler):
    pages = {"/feed": ("application/atom+xml", ATOM_FEED),
             "/story": ("text/html; charset=utf-8", NEWS_PAGE)}

    def do_GET(self):  # noqa: N802 - the http.server API
        ctype, text = self.pages.get(self.path, ("text/plain", ""))
        self.send_response(200 if text else 404)
        self.send_header("Content-Type", ctype)
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_feed_and_page_urls_are_fetched_and_failures_are_clear(corpus, server):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/feed"
    report = ingest([f"{server}/feed", f"{server}/story", f"{server}/gone", closed], corpus)
    assert len(report.of("added")) == 4
    failed = {o.origin: o.message for o in report.of("failed")}
    assert "404" in failed[f"{server}/gone"]
    assert "cannot be fetched" in failed[closed] and "save the feed" in failed[closed]
    page = read_article(corpus / "lighthouse-of-ouessant-goes-electric.md")
    assert page.body == "\n\n".join(PAGE_PARAGRAPHS) + "\n"


def test_quotes_from_ingested_articles_are_exact_substrings(corpus, src, tmp_path):
    from index.build import build_index
    from index.search.searcher import Searcher
    from index.store.store import IndexStore

    ingest([str(write_news_page(src)), str(write_feed(src)), str(write_pdf(src)),
            str(write_export(src))], corpus)
    build_index(corpus, tmp_path / "index", HashEmbedder())
    searcher = Searcher(IndexStore(tmp_path / "index"), HashEmbedder())
    questions = ["What did the lighthouse burn until 1902?", "How much silt will be removed?",
                 "When do ferry services resume?", "How many baguettes did the jury taste?",
                 "What wind speed is expected in Brittany?"]
    answered = 0
    for q in questions:
        for allowed in (None, {"ferry-strike-ends", "the-harbour-dredging-report"}):
            answer = searcher.ask(q, k=3, threshold=0.0, articles=allowed)
            answered += answer.answered
            cites = answer.citations + answer.more
            if allowed:
                assert {c.article.id for c in cites} <= allowed
            assert_exact_quotes(cites, corpus)
    assert answered == 2 * len(questions)
