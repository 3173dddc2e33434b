"""`citebot eval`: metrics, the SQuAD and JSON Lines modes, and the CLI's JSON report."""

import json

import pytest
from click.testing import CliRunner
from conftest import assert_exact_quotes, run_cli

from index.errors import UsageError
from index.quality.evaluate import (
    EvalQuestion,
    Outcome,
    evaluate_squad,
    gold_passages,
    load_jsonl,
    load_squad,
    score,
)

# Two small articles, written for this test: every answer sits in one paragraph, verbatim.
SQUAD = {"version": "v2.0", "data": [
    {"title": "Cap-Haïtien_harbour", "paragraphs": [
        {"context": "The harbour of Cap-Haïtien was dredged in 2021. Engineers removed "
                    "about 300,000 cubic metres of silt from the channel.",
         "qas": [{"id": "h1", "question": "How much silt was removed from the channel?",
                  "answers": [{"text": "300,000 cubic metres", "answer_start": 72}],
                  "is_impossible": False},
                 {"id": "h2", "question": "What colour is the harbour master's boat?",
                  "answers": [], "is_impossible": True}]},
        {"context": "A new lighthouse was lit on the northern jetty in March. Its beam can be "
                    "seen 40 kilometres out at sea by passing fishermen.",
         "qas": [{"id": "h3", "question": "How far out at sea can the lighthouse beam be seen?",
                  "answers": [{"text": "40 kilometres", "answer_start": 78}],
                  "is_impossible": False}]}]},
    {"title": "Bread_contest", "paragraphs": [
        {"context": "The national baguette contest was held in Jacmel this year. The jury "
                    "tasted 212 baguettes before naming a winner.",
         "qas": [{"id": "b1", "question": "How many baguettes did the jury taste?",
                  "answers": [{"text": "212", "answer_start": 76}], "is_impossible": False}]},
        {"context": "The winning baker, Marie Toussaint, has run a small bakery in the port "
                    "district since 2009.",
         "qas": [{"id": "b2", "question": "Who is the winning baker with a bakery in the port district?",
                  "answers": [{"text": "Marie Toussaint", "answer_start": 19}],
                  "is_impossible": False}]}]},
]}
SYSTEMS = {"citebot", "bm25", "dense"}
METRICS = {"questions", "recall@1", "recall@5", "mrr@10", "answer_in_quote@1", "not_found",
           "latency_ms_p50", "latency_ms_p95"}


@pytest.fixture(scope="module")
def squad_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("squad") / "mini.json"
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    return path


def test_metrics_by_hand():
    qs = [EvalQuestion("a?", ["red"]), EvalQuestion("b?", ["blue"]),
          EvalQuestion("c?", ["green"]), EvalQuestion("d?", ["grey"])]
    golds = [{"x:p1"}, {"x:p2"}, {"x:p3"}, {"x:p4"}]
    outcomes = [Outcome(["x:p1", "x:p9"], "It was red.", 1.0, 10.0),      # rank 1, in quote
                Outcome(["x:p9", "x:p8", "x:p2"], "Not it.", 1.0, 20.0),  # rank 3, not in quote
                Outcome([], None, 0.1, 30.0),                              # not found
                Outcome(["x:p9"] * 5 + ["x:p4"], "grey", 1.0, 40.0)]       # rank 6: not @5
    m = score(outcomes, golds, qs)
    assert m["questions"] == 4
    assert m["recall@1"] == pytest.approx(1 / 4)
    assert m["recall@5"] == pytest.approx(2 / 4)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 6) / 4)
    assert m["answer_in_quote@1"] == pytest.approx(2 / 4)
    assert m["not_found"] == pytest.approx(1 / 4)
    assert m["latency_ms_p50"] in (20.0, 30.0) and m["latency_ms_p95"] == 40.0


def test_squad_file_becomes_articles_with_offsets(squad_file):
    es = load_squad(squad_file)
    assert [a.id for a in es.articles] == ["cap-haitien-harbour", "bread-contest"]
    assert len(es.questions) == 4 and len(es.unanswerable) == 1
    for q in es.questions:
        body = next(a.body for a in es.articles if a.id == q.article_id)
        assert q.answer_offsets and all(body[o:o + len(q.answers[0])] == q.answers[0]
                                        for o in q.answer_offsets)
    assert "\n\n" in es.articles[0].body  # paragraphs joined by blank lines


def test_eval_on_a_squad_fixture(squad_file, embedder):
    report = evaluate_squad(squad_file, k=3, embedder=embedder)
    assert set(report["systems"]) == SYSTEMS
    assert all(set(m) == METRICS for m in report["systems"].values())
    assert report["articles"] == 2 and report["passages"] == 4 and report["questions"] == 4
    cb = report["systems"]["citebot"]
    # Plain questions on four paragraphs: citebot must get every one right.
    assert cb["recall@1"] == 1.0 and cb["answer_in_quote@1"] == 1.0 and cb["not_found"] == 0.0
    assert cb["latency_ms_p50"] > 0
    cal = report["calibration"]
    assert cal["off_topic_questions"] == 4  # each article's questions asked of the other
    assert 0 <= cal["at_threshold"]["answerable_answered"] <= 1
    assert report["squad_unanswerable_answered"] in (0.0, 1.0)


def test_every_quote_of_every_mode_is_exact(squad_file, embedder, tmp_path):
    from index.config import resolve
    from index.corpus.articles import write_article
    from index.engine import Citebot

    es = load_squad(squad_file)
    for article in es.articles:
        write_article(tmp_path / "corpus", article)
    bot = Citebot(resolve(corpus=tmp_path / "corpus", index=tmp_path / "index"), embedder=embedder)
    bot.build()
    for q in es.questions + es.unanswerable:
        gold = gold_passages(bot.store, q) if q.answers else set()
        for mode in ("hybrid", "bm25", "dense"):
            answer = bot.searcher.ask(q.question, k=3, mode=mode, threshold=-1.0)
            assert_exact_quotes(answer.citations + answer.more, tmp_path / "corpus")
            if gold and mode == "hybrid":
                assert answer.citations[0].id in gold


def test_jsonl_file_is_checked():
    with pytest.raises(UsageError, match="no such file"):
        load_jsonl("/nonexistent/questions.jsonl")


def test_jsonl_lines_must_be_questions(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?", "answers": ["x"]}\n{"answers": ["y"]}\n')
    with pytest.raises(UsageError, match="line 2"):
        load_jsonl(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"question": "   ", "answers": ["x"]}\n')
    with pytest.raises(UsageError, match="line 1"):
        load_jsonl(empty)


def test_cli_squad_json_shape_and_threshold_from_the_environment(squad_file):
    from bot.cli import cli

    result = CliRunner().invoke(cli, ["eval", "--squad", str(squad_file), "--json"],
                                env={"CITEBOT_THRESHOLD": "5"})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"data", "articles", "passages", "questions", "k", "systems",
            "calibration"} <= set(report)
    assert set(report["systems"]) == SYSTEMS
    assert all(set(m) == METRICS for m in report["systems"].values())
    assert report["systems"]["bm25"]["not_found"] is None
    assert {"threshold", "suggested", "at_threshold", "at_suggested"} <= set(
        report["calibration"])
    # Nothing reaches a threshold of 5: citebot answers nothing, the bare rankings still do.
    assert report["calibration"]["threshold"] == 5.0
    assert report["systems"]["citebot"]["not_found"] == 1.0
    assert report["systems"]["citebot"]["answer_in_quote@1"] == 0.0
    assert report["systems"]["bm25"]["recall@1"] > 0


@pytest.mark.parametrize("args,message", [
    ([], "one of --squad"),
    (["--squad", "a.json", "--jsonl", "b.jsonl"], "one of --squad"),
    (["--squad", "/nonexistent.json"], "no such file"),
    (["--jsonl", "q.jsonl", "--tune"], "--tune needs --squad"),
])
def test_cli_bad_usage(args, message):
    from bot.cli import cli

    result = CliRunner().invoke(cli, ["eval", *args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_cli_jsonl_against_the_current_index(cli_env, tmp_path):
    path = tmp_path / "mine.jsonl"
    lines = [{"question": "How many police officers did Kenya pledge to send?",
              "answers": ["1,000"]},
             {"question": "Which resolution renewed the mission's authorization?",
              "answers": ["2751"]},
             {"question": "Who won the 2022 World Cup?", "answers": []}]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    r = run_cli("eval", "--jsonl", str(path), "--json", env=cli_env)
    assert r.returncode == 0, r.stderr.decode()
    report = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert report["questions"] == 2 and set(report["systems"]) == SYSTEMS
    assert report["systems"]["citebot"]["answer_in_quote@1"] == 1.0
    assert report["calibration"]["off_topic_questions"] == 1
    assert report["calibration"]["at_threshold"]["off_topic_refused"] == 1.0


# -- the news format (../shared/eval/news-dev/ has 1,000 real articles; these are invented) ------
NEWS = [
    {"title": "Ferry line to Ile-a-Vache reopens", "published": "2024-03-04",
     "url": "https://news.example/ferry-2024", "source": "Example News",
     "text": "The ferry line between Les Cayes and Ile-a-Vache reopened on Monday.\n\n"
             "The operator said the new boat, the Belle Etoile, carries 120 passengers."},
    {"title": "Ferry line to Ile-a-Vache suspended", "published": "2023-02-06",
     "url": "https://news.example/ferry-2023", "source": "Example News",
     "text": "The ferry line between Les Cayes and Ile-a-Vache was suspended this week.\n\n"
             "Its only boat, the Marie Galante, needs a new engine, the operator said."},
]
NEWS_QUESTIONS = [
    {"qid": "n1", "question": "What is the name of the ferry line's boat this week?",
     "answers": ["Belle Etoile"], "question_date": "2024/03/07",
     "article_url": "https://news.example/ferry-2024"},
    {"qid": "n2", "question": "Which boat of the ferry line needs a new engine?",
     "answers": ["Marie Galante"], "question_date": "2023-02-09",
     "article_url": "https://news.example/ferry-2023"},
]


@pytest.fixture
def news_dir(tmp_path):
    d = tmp_path / "news"
    d.mkdir()
    (d / "corpus.jsonl").write_text("".join(json.dumps(a) + "\n" for a in NEWS), "utf-8")
    (d / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in NEWS_QUESTIONS),
                                       "utf-8")
    return d


def test_news_format_scored_with_and_without_as_of(news_dir, embedder, tmp_path):
    from index.quality.evaluate_news import evaluate_news

    report = evaluate_news(news_dir, corpus=tmp_path / "c", index=tmp_path / "i",
                           embedder=embedder)
    assert set(report["runs"]) == {"citebot", "bm25", "dense", "citebot as_of", "bm25 as_of",
                                   "dense as_of"}
    assert report["questions"] == 2 and report["gold_missing"] == 0
    for run in report["runs"].values():
        assert run["exact_offsets"] == 1.0
        assert 0 <= run["answer_in_quote@1"] <= run["answer_in_quote@3"] <= 1
    as_of = report["runs"]["citebot as_of"]
    assert as_of["article_recall@1"] == 1.0 and as_of["answer_in_quote@1"] == 1.0
    # The index is kept: a second run reuses it (no corpus.jsonl needed any more).
    (news_dir / "corpus.jsonl").unlink()
    again = evaluate_news(news_dir, corpus=tmp_path / "c", index=tmp_path / "i")
    assert again["runs"]["citebot as_of"] == {**as_of, "latency_ms_p50": again["runs"][
        "citebot as_of"]["latency_ms_p50"], "latency_ms_p95": again["runs"]["citebot as_of"][
        "latency_ms_p95"]}


def test_cli_news_table_and_bad_folder(news_dir, tmp_path):
    from bot.cli import cli

    result = CliRunner().invoke(cli, ["eval", "--news", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "no questions.jsonl" in result.stderr
    result = CliRunner().invoke(cli, ["eval", "--news", str(news_dir), "--corpus",
                                      str(tmp_path / "c")])
    assert result.exit_code == 2 and "both --corpus and --index" in result.stderr
