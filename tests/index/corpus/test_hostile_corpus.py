"""Hostile or odd corpus input (issue 14): run-on paragraphs, oversized articles, links out of
a folder, YAML alias bombs, and no lock file left in the corpus."""

from __future__ import annotations

import random
import time

import pytest
from conftest import assert_exact_quotes, run_cli

WORDS = ("the ferry company said crews would return to the harbour after talks with the union "
         "about wages and rest days while islanders waited").split()


def run_on(size: int, seed: int = 3, stop_every: int = 0) -> str:
    """Invented words, one line; a full stop every ``stop_every`` words when given."""
    rng = random.Random(seed)
    out, n = [], 0
    while n < size:
        w = rng.choice(WORDS)
        if stop_every and len(out) % stop_every == stop_every - 1:
            w = w.capitalize() + "."
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:size].rstrip()


def _check_spans(text, spans, window):
    assert spans and spans == sorted(spans)
    covered = 0
    for s, e in spans:
        assert 0 <= s < e <= len(text) and s >= covered
        assert not text[s].isspace() and not text[e - 1].isspace()
        # never inside a word: a cut falls on a space (or at the text's ends)
        assert s == 0 or text[s - 1].isspace() or not text[s - 1].isalnum()
        assert e == len(text) or text[e].isspace() or not text[e].isalnum()
        assert not text[covered:s].strip(), "every word belongs to a sentence"
        assert e - s <= window
        covered = e
    assert not text[covered:].strip()


def test_a_long_unpunctuated_paragraph_is_split_in_linear_time():
    from index.corpus.passages import SENTENCE_WINDOW, split_sentences

    text = run_on(300_000)
    t0 = time.perf_counter()
    spans = split_sentences(text)
    took = time.perf_counter() - t0
    # pysbd alone took ~50 s on this paragraph (quadratic); windows make it ~1 s.
    assert took < 15, f"splitting 300 KB took {took:.1f} s"
    _check_spans(text, spans, SENTENCE_WINDOW)
    assert len(spans) >= 300_000 // SENTENCE_WINDOW


def test_windows_give_pysbd_s_own_sentences_on_ordinary_long_paragraphs():
    from index.corpus.passages import _segmenter, split_sentences

    text = run_on(9_000, seed=5, stop_every=14)
    whole = []
    for span in _segmenter().segment(text):
        s, e = span.start, span.end
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            whole.append((s, e))
    assert split_sentences(text) == whole


def test_a_long_sentence_is_embedded_from_its_head():
    from index.corpus.passages import LONG_SENTENCE_CHARS, sentence_embed_text

    body = run_on(5_000)
    assert sentence_embed_text(body, 10, 400) == body[10:400]
    head = sentence_embed_text(body, 0, LONG_SENTENCE_CHARS + 1)
    assert body.startswith(head) and len(head) <= 200 and not head.endswith(" ")


def test_a_run_on_article_is_answered_with_exact_quotes(tmp_path, embedder):
    from index.config import resolve
    from index.engine import Citebot

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(
        "Harbour talks\n" + run_on(60_000) + " and the lighthouse keeper counted eleven "
        "trawlers in the bay " + run_on(20_000, seed=9) + "\n", encoding="utf-8")
    bot = Citebot(resolve(corpus=corpus, index=tmp_path / "index"))
    bot._index_embedder = embedder
    bot.build()
    answer = bot.ask("How many trawlers did the lighthouse keeper count?")
    assert answer.answered
    assert_exact_quotes(answer.citations, corpus)
    assert any("eleven trawlers" in c.quote for c in answer.citations)


def test_add_refuses_an_article_over_the_size_limit(tmp_path):
    from index.ingest.add import MAX_ARTICLE_CHARS

    corpus = tmp_path / "corpus"
    big = tmp_path / "big.txt"
    big.write_text("A huge one\n" + run_on(MAX_ARTICLE_CHARS + 10), encoding="utf-8")
    small = tmp_path / "small.txt"
    small.write_text("A small one\nThe ferry left at noon.\n", encoding="utf-8")
    r = run_cli("add", "--no-index", str(big), "--corpus", str(corpus))
    assert r.returncode == 2
    assert b"the limit is 2,000,000" in r.stderr and b"Traceback" not in r.stderr
    assert not corpus.exists() or not list(corpus.glob("*.md"))
    r = run_cli("add", "--no-index", str(big), str(small), "--corpus", str(corpus))
    assert r.returncode == 0
    assert [p.name for p in corpus.glob("*.md")] == ["a-small-one.md"]


def test_add_of_a_folder_skips_links_that_point_out_of_it(tmp_path):
    secret = tmp_path / "private" / "passwords.txt"
    secret.parent.mkdir()
    secret.write_text("Root secrets\nThe vault code is 0451.\n", encoding="utf-8")
    src = tmp_path / "downloads"
    (src / "sub").mkdir(parents=True)
    (src / "story.txt").write_text("Ferry news\nThe ferry left at noon.\n", encoding="utf-8")
    (src / "notes.txt").symlink_to(secret)
    (src / "linked").symlink_to(secret.parent, target_is_directory=True)
    (src / "sub" / "same.txt").symlink_to(src / "story.txt")  # inside: fine (a duplicate)
    corpus = tmp_path / "corpus"
    r = run_cli("add", "--no-index", "--json", str(src), "--corpus", str(corpus))
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert "notes.txt: a symbolic link to a file outside the folder" in err
    # A linked folder is not walked into at all (or, if a walk follows it, skipped the same).
    assert "passwords.txt" not in err or "passwords.txt: a symbolic link" in err
    texts = " ".join(p.read_text() for p in corpus.glob("*.md"))
    assert "vault" not in texts and "ferry left at noon" in texts
    # A link given by its own path is the user's explicit choice.
    r = run_cli("add", "--no-index", str(src / "notes.txt"), "--corpus", str(corpus))
    assert r.returncode == 0


BOMB = ('---\ntitle: "Bomb"\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
                  for i in range(8))
        + "---\nBody of the bomb.\n")


@pytest.mark.parametrize("front", [BOMB, '---\ntitle: "T"\nx: &anchor 1\n---\nBody.\n',
                                   '---\ntitle: "T"\nbase: &base {a: 1}\nother:\n  <<: *base\n'
                                   '---\nBody.\n'])
def test_front_matter_with_anchors_or_aliases_is_refused(tmp_path, front):
    from index.corpus.articles import parse_article
    from index.errors import CorpusError

    t0 = time.perf_counter()
    with pytest.raises(CorpusError, match="not valid YAML"):
        parse_article(front, "bomb")
    assert time.perf_counter() - t0 < 1
    src = tmp_path / "bomb.md"
    src.write_text(front, encoding="utf-8")
    r = run_cli("add", "--no-index", str(src), "--corpus", str(tmp_path / "corpus"))
    assert r.returncode == 2 and b"Traceback" not in r.stderr
    assert not list((tmp_path / "corpus").glob("*.md"))


def test_front_matter_without_aliases_still_reads():
    from index.corpus.articles import parse_article

    art = parse_article('---\ntitle: "Harbour & sea *news*"\nsource: A&B\n---\nBody.\n', "x")
    assert (art.title, art.source, art.body) == ("Harbour & sea *news*", "A&B", "Body.\n")


def test_add_leaves_no_lock_file_in_the_corpus(tmp_path):
    src = tmp_path / "story.txt"
    src.write_text("Ferry news\nThe ferry left at noon.\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    assert run_cli("add", "--no-index", str(src), "--corpus", str(corpus)).returncode == 0
    assert run_cli("remove", "--no-index", "ferry-news", "--corpus",
                   str(corpus)).returncode == 0
    assert sorted(p.name for p in corpus.iterdir()) == []
