"""`citebot eval`: measure answer quality on SQuAD-format data or on questions of your own."""

from __future__ import annotations

import json

import click

from index.errors import UsageError

from .cli import handle_errors, index_options, open_bot


@click.command(name="eval")
@click.option("--squad", "squad", type=click.Path(dir_okay=False),
              help="SQuAD-format file: its articles are indexed in a temporary folder.")
@click.option("--jsonl", "jsonl", type=click.Path(dir_okay=False),
              help='JSON Lines of {"question", "answers": [...]} asked of the current index '
                   '(an empty answer list means the answer should be "not found").')
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("-k", "k", default=3, show_default=True, type=click.IntRange(1, 10),
              help="Quotes per answer, as for `citebot ask`.")
@click.option("--threshold", type=float, help="Not-found threshold [env CITEBOT_THRESHOLD].")
@click.option("--tune", is_flag=True,
              help="Also search the ranking weights, leaving one article out (SQuAD; minutes).")
@index_options
@handle_errors
def eval_cmd(squad, jsonl, as_json, k, threshold, tune, corpus, index_dir, model):
    """Measure answers: recall, answer-in-quote, "not found" and latency, against baselines."""
    from index import evaluate

    if bool(squad) == bool(jsonl):
        raise UsageError("give one of --squad FILE or --jsonl FILE",
                         fix="citebot eval --squad dev.json, or --jsonl mine.jsonl")
    if tune and not squad:
        raise UsageError("--tune needs --squad (articles to leave out)")
    say = (lambda m: click.echo(f"citebot: {m}", err=True))
    if squad:
        report = evaluate.evaluate_squad(squad, k=k, threshold=threshold, model=model,
                                         progress=say, tune=tune)
    else:
        bot = open_bot(corpus, index_dir, model, threshold)
        report = evaluate.evaluate_index(bot, jsonl, k=k)
    click.echo(json.dumps(report, ensure_ascii=False) if as_json
               else evaluate.format_report(report))
