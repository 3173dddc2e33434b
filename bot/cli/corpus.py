"""`citebot add`, `remove` and `list` (the core: index/ingest/add.py and index/ingest/admin.py)."""

from __future__ import annotations

import sys

import click

from .. import render
from .common import confirm_removal, index_options, open_bot


def _say(message: str) -> None:
    click.echo(render.clean(f"citebot: {message}"), err=True)


def _echo(text: str) -> None:
    """A line of titles, ids or origins (from articles): printed without terminal controls."""
    click.echo(render.clean(text))


def _update_index(bot, as_json: bool) -> dict | None:
    """Build the index of the changed corpus now (only new passages are embedded when the
    embedding cache holds the others); returns the new manifest."""
    manifest = bot.build(show_bars=sys.stderr.isatty())
    if not as_json:
        click.echo(f"indexed {manifest['articles']} articles, {manifest['passages']} passages "
                   f"into {bot.config.index}")
    return manifest


@click.command("add", epilog=(
    "Folders are searched for supported files. An article already in the corpus (same URL or "
    "same text) is not added again; a file that cannot be used is reported and skipped. Exit "
    "code 2 only when inputs failed and none was added or already there."))
@click.argument("paths", nargs=-1, required=True)
@click.option("--title", help="Title (for one article).")
@click.option("--source", "source_name", help="Source or outlet, e.g. 'The Clarity Times'.")
@click.option("--published", help="Publication date, YYYY-MM-DD.")
@click.option("--url", help="Address of the original (for one article).")
@click.option("--language", help="Language code, e.g. en.")
@click.option("--no-index", is_flag=True, help="Leave the index as it is (the next question "
                                                "updates it).")
@click.option("--json", "as_json", is_flag=True, help="JSON output: every outcome.")
@index_options
def add_cmd(paths, title, source_name, published, url, language, no_index, as_json,
            corpus, index_dir, model):
    """Add articles: HTML pages, PDFs, RSS/Atom feeds (file or URL), JSON Lines, .md, .txt."""
    from index import add_articles

    bot = open_bot(corpus, index_dir, model)
    overrides = {"title": title, "source": source_name, "published": published, "url": url,
                 "language": language}
    report = add_articles(list(paths), bot.config.corpus, overrides=overrides, progress=_say)
    if not as_json:
        for o in report.outcomes:
            if o.status == "added":
                _echo(f"added {o.article_id}: {o.title} ({o.origin})")
            elif o.status == "duplicate":
                _echo(f"{o.origin}: {o.message}")
        _echo(f"{report.summary()} (corpus: {bot.config.corpus})")
    manifest = None
    if report.of("added"):
        if no_index:
            if not as_json:
                click.echo("the index is updated by the next question (or `citebot index "
                           "build`)")
        else:
            manifest = _update_index(bot, as_json)
    if as_json:
        out = report.to_dict()
        out["index"] = ({"articles": manifest["articles"], "passages": manifest["passages"]}
                        if manifest else None)
        click.echo(render.json_line(out))
    sys.exit(report.exit_code)


@click.command("remove")
@click.argument("article_ids", nargs=-1, required=True)
@click.option("--no-index", is_flag=True, help="Leave the index as it is (the next question "
                                                "updates it).")
@click.option("-y", "--yes", "assume_yes", is_flag=True,
              help="Do not ask (on a terminal, remove asks before deleting).")
@index_options
def remove_cmd(article_ids, no_index, corpus, index_dir, model, assume_yes=False):
    """Remove articles from the corpus by id (`citebot list` shows the ids)."""
    from index import IndexError_, article_files, find_articles, read_manifest, remove_articles

    bot = open_bot(corpus, index_dir, model)
    if not confirm_removal(find_articles(bot.config.corpus, list(article_ids)),
                           bot.config.corpus, assume_yes):
        _say("nothing removed")
        return
    for article_id, path in remove_articles(bot.config.corpus, list(article_ids)):
        _echo(f"removed {article_id} ({path})")
    if no_index:
        return
    try:
        read_manifest(bot.config.index)
    except IndexError_:
        return  # no index to keep up to date: the next question builds one
    if article_files(bot.config.corpus):
        _update_index(bot, as_json=False)
    else:
        click.echo("the corpus is now empty: add articles with `citebot add`")


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output (an array).")
@index_options
def list_cmd(as_json, corpus, index_dir, model):
    """List the articles: id, date, source, passages and title."""
    from index import list_articles

    bot = open_bot(corpus, index_dir, model)
    rows = list_articles(bot)
    if as_json:
        click.echo(render.json_line(rows))
        return
    if not rows:
        click.echo(f"no articles in {bot.config.corpus} (add some with `citebot add`)")
        return
    w_id = max(len(r["id"]) for r in rows)
    w_src = min(30, max([len(r["source"] or "-") for r in rows] + [6]))
    click.echo(f"{'ID':{w_id}}  {'DATE':10}  {'SOURCE':{w_src}}  {'PASSAGES':>8}  TITLE")
    rows = [{k: render.clean(v) if isinstance(v, str) else v for k, v in r.items()}
            for r in rows]  # widths are taken of what is printed
    for r in rows:
        src = (r["source"] or "-")
        src = src if len(src) <= w_src else src[: w_src - 1] + "…"
        click.echo(f"{r['id']:{w_id}}  {r['published'] or '-':10}  {src:{w_src}}  "
                   f"{r['passages']:>8}  {r['title']}")
    click.echo(f"{len(rows)} articles, {sum(r['passages'] for r in rows)} passages")


def register(cli: click.Group) -> None:
    """Add these commands to the `citebot` group (bot/cli/__init__.py)."""
    for command in (add_cmd, remove_cmd, list_cmd):
        cli.add_command(command)
