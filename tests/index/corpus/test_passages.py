from conftest import SEED_CORPUS

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
