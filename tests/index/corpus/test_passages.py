import json

from conftest import SEED_CORPUS, SHARED

from index.corpus.articles import load_corpus, parse_article
from index.corpus.passages import make_passages, split_sentences


def _sentences(text):
    return [text[s:e] for s, e in split_sentences(text)]


def test_abbreviations_are_not_sentence_ends():
    text = ("US Secretary of State Antony Blinken and Brian A. Nichols, Assistant Secretary, "
            "spoke. U.S. Secretary of State Antony Blinken visited Haiti. It rained.")
    sents = _sentences(text)
    assert len(sents) == 3
    assert "Brian A. Nichols" in sents[0]
    assert sents[1].startswith("U.S. Secretary")


def test_seed_sentences_keep_names_whole():
    for art in load_corpus(SEED_CORPUS):
        for p in make_passages(art):
            for s, e in p.sentences:
                sent = art.body[s:e]
                assert sent == sent.strip() and sent
                assert not sent.endswith((" A.", " U.S."))
                assert p.start <= s < e <= p.end
    bodies = " ".join(a.body for a in load_corpus(SEED_CORPUS))
    assert "Brian A. Nichols" in bodies


def test_offsets_and_ids():
    art = parse_article("---\ntitle: T\n---\nIntro one. Two.\n\n## Section\n\nAfter it.\n", "doc")
    ps = make_passages(art)
    assert [p.id for p in ps] == ["doc:p1", "doc:p2"]
    assert art.body[ps[0].start:ps[0].end] == "Intro one. Two."
    assert ps[1].heading == "Section"
    assert [art.body[s:e] for s, e in ps[0].sentences] == ["Intro one.", "Two."]


def test_single_newline_paragraphs_and_headings():
    body = "First paragraph here.\nFinancial obstacles\nSecond one, with text.\n"
    ps = make_passages(parse_article(body, "d", markdown=False))
    assert [p.paragraph for p in ps] == [1, 2]
    assert ps[1].heading == "Financial obstacles"


# -- the segmenter's spans: found by str.find, as pysbd's regexes found them ------------------

TRICKY = [
    "It rained. It rained. It rained.",
    "Go.\u00a0Stop.\u2028Wait.\x1cEnd.\u3000Done.",  # whitespace that re's \s and isspace share
    "Mr. Smith went to Washington.  He said: \"Yes.\" Yes.\n\nYes.",
    "A. B. A. B. A.",
    "Fees rose 5.5% (see p. 4). Fees rose 5.5% (see p. 4).   ",
    "   Leading space. Then (parens? yes!) and … ellipsis… “Quotes.” ‘Single.’",
]


def _pysbd_spans(text):
    import pysbd

    return [(s.start, s.end) for s in pysbd.Segmenter(
        language="en", clean=False, char_span=True).segment(text)]


def test_segmenter_spans_are_pysbds():
    from index.corpus.passages import _segmenter

    texts = TRICKY + [a.body[p.start:p.end] for a in load_corpus(SEED_CORPUS)
                      for p in make_passages(a)]
    news = SHARED / "eval" / "news-dev" / "corpus.jsonl"
    if news.is_file():  # real news paragraphs too, where ../shared is beside the clone
        with open(news, encoding="utf-8") as fh:
            for _, line in zip(range(40), fh):
                texts += [t for t in json.loads(line)["text"].split("\n\n") if t.strip()]
    assert len(texts) >= len(TRICKY) + 10  # the seed paragraphs are there in any clone
    for text in texts:
        ours = [(s.start, s.end) for s in _segmenter().segment(text)]
        assert ours == _pysbd_spans(text), text
        assert ours  # a sentence at least, so the comparison is not between two empty lists
