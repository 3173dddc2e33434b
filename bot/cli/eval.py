"""`citebot eval`: measure answer quality on SQuAD-format data, on real news (the news-dev
format) or on questions of your own."""

from __future__ import annotations

import json

import click

from index import UsageError

from .common import index_options, open_bot

_ROWS = (("recall@1", "passage recall@1"), ("recall@5", "passage recall@5"),
         ("mrr@10", "MRR@10"), ("answer_in_quote@1", "answer-in-quote@1"),
         ("not_found", 'wrongly "not found"'), ("latency_ms_p50", "latency p50 (ms)"),
         ("latency_ms_p95", "latency p95 (ms)"))


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if key.startswith("latency") else f"{value:.3f}"


def format_report(report: dict) -> str:
    """The report as a Markdown table plus the calibration lines."""
    names = list(report["systems"])
    lines = [f"{report['data']}: {report['articles']} articles, {report['passages']} passages, "
             f"{report['questions']} answerable questions, k={report['k']}", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key, label in _ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(key, report["systems"][n][key])
                                                  for n in names) + " |")
    cal = report["calibration"]
    now, sug = cal["at_threshold"], cal["at_suggested"]

    def share(x):
        return "-" if x is None else f"{x:.1%}"

    lines += ["", f'"not found" threshold {cal["threshold"]:.2f}: answerable answered '
              f'{share(now["answerable_answered"])}, off-topic refused '
              f'{share(now["off_topic_refused"])}, general questions refused '
              f'{share(now["general_refused"])}',
              f'calibrated threshold {cal["suggested"]:.2f} ({cal["rule"]}): answerable '
              f'answered {share(sug["answerable_answered"])}, off-topic refused '
              f'{share(sug["off_topic_refused"])}']
    if "squad_unanswerable_answered" in report:
        lines.append(f"SQuAD 2.0 unanswerable (on-topic) questions answered with a quote: "
                     f"{share(report['squad_unanswerable_answered'])}")
    if report.get("answers_not_in_any_passage"):
        lines.append(f"{report['answers_not_in_any_passage']} questions have no passage "
                     f"holding their answer verbatim")
    if "tuning" in report:
        t = report["tuning"]
        lines += ["", f"tuning ({t['settings']} settings, leave one article out):",
                  "| held out | questions | chosen on the others | recall@1 | "
                  "answer-in-quote@1 |", "|---|---:|---|---:|---:|"]
        for f in t["folds"]:
            chosen = ", ".join(f"{k}={v}" for k, v in f["setting"].items())
            lines.append(f"| {f['held_out']} | {f['questions']} | {chosen} | "
                         f"{f['recall@1']:.3f} | {f['answer_in_quote@1']:.3f} |")
        lines.append(f"| all, held out | {report['questions']} | | "
                     f"{t['held_out']['recall@1']:.3f} | "
                     f"{t['held_out']['answer_in_quote@1']:.3f} |")
        b = t["best"]
        lines.append(f"best on all: {', '.join(f'{k}={v}' for k, v in b['params'].items())} "
                     f"(recall@1 {b['recall@1']:.3f}, answer-in-quote@1 "
                     f"{b['answer_in_quote@1']:.3f})")
        if t.get("defaults"):
            d = t["defaults"]
            per = "; ".join(f"{a} {m['recall@1']:.3f} / {m['answer_in_quote@1']:.3f}"
                            for a, m in d["per_article"].items())
            lines.append(f"SearchParams as shipped: recall@1 {d['recall@1']:.3f}, "
                         f"answer-in-quote@1 {d['answer_in_quote@1']:.3f} ({per})")
    return "\n".join(lines)


_NEWS_ROWS = (("article_recall@1", "article recall@1"), ("answer_in_quote@1", "answer-in-quote@1"),
              ("answer_in_quote@3", "answer-in-quote@3"), ("answered", "answered"),
              ("exact_offsets", "exact offsets"), ("latency_ms_p50", "latency p50 (ms)"),
              ("latency_ms_p95", "latency p95 (ms)"))


def format_news_report(report: dict) -> str:
    """The news report as a Markdown table: one column per system, without and with as_of."""
    names = list(report["runs"])
    lines = [f"{report['data']}: {report['articles']} articles, {report['passages']} passages, "
             f"{report['questions']} questions, k={report['k']} (as_of: each question asked as "
             f"of its quiz date)", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key, label in _NEWS_ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(key, report["runs"][n][key])
                                                  for n in names) + " |")
    if report.get("gold_missing"):
        lines.append(f"{report['gold_missing']} questions' gold articles are not in the index")
    return "\n".join(lines)


@click.command(name="eval")
@click.option("--squad", "squad", type=click.Path(dir_okay=False),
              help="SQuAD-format file: its articles are indexed in a temporary folder.")
@click.option("--jsonl", "jsonl", type=click.Path(dir_okay=False),
              help='JSON Lines of {"question", "answers": [...]} asked of the current index '
                   '(an empty answer list means the answer should be "not found").')
@click.option("--news", "news", type=click.Path(file_okay=False),
              help="Folder of the news format (corpus.jsonl, questions.jsonl): asked of the "
                   "index at --corpus/--index (built there from corpus.jsonl when the corpus "
                   "folder is empty), or of a temporary one; each question also as of its date.")
@click.option("--details", type=click.File("w", encoding="utf-8"),
              help="With --news: write one JSON line per question and system (to read misses).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("-k", "k", default=3, show_default=True, type=click.IntRange(1, 10),
              help="Quotes per answer, as for `citebot ask`.")
@click.option("--threshold", type=float, help="Not-found threshold [env CITEBOT_THRESHOLD].")
@click.option("--tune", is_flag=True,
              help="Also search the ranking weights, leaving one article out (SQuAD; minutes).")
@index_options
def eval_cmd(squad, jsonl, news, details, as_json, k, threshold, tune, corpus, index_dir,
             model):
    """Measure answers: recall, answer-in-quote, "not found" and latency, against baselines."""
    from index import evaluate_index, evaluate_squad

    if sum(bool(x) for x in (squad, jsonl, news)) != 1:
        raise UsageError("give one of --squad FILE, --jsonl FILE or --news FOLDER",
                         fix="citebot eval --squad dev.json, --jsonl mine.jsonl, "
                             "or --news ../shared/eval/news-dev/")
    if tune and not squad:
        raise UsageError("--tune needs --squad (articles to leave out)")
    def say(m):
        click.echo(f"citebot: {m}", err=True)

    if details and not news:
        raise UsageError("--details goes with --news")
    if news:
        from index import evaluate_news

        report = evaluate_news(news, corpus=corpus, index=index_dir, k=k, model=model,
                               threshold=threshold, progress=say, details=details)
        click.echo(json.dumps(report, ensure_ascii=False) if as_json
                   else format_news_report(report))
        return
    if squad:
        report = evaluate_squad(squad, k=k, threshold=threshold, model=model,
                                         progress=say, tune=tune)
    else:
        bot = open_bot(corpus, index_dir, model, threshold)
        report = evaluate_index(bot, jsonl, k=k)
    click.echo(json.dumps(report, ensure_ascii=False) if as_json
               else format_report(report))
