"""`citebot follow`: add the new entries of feeds and pages now and then (index/ingest/follow.py)."""

from __future__ import annotations

import json
import sys
import time

import click

from .common import index_options, open_bot


def _say(message: str) -> None:
    click.echo(f"citebot: {message}", err=True)


@click.command("follow", epilog=(
    "Each round reads every URL (RSS/Atom feeds, or pages) and adds the entries not seen in "
    "an earlier round and not already in the corpus; then the index is rebuilt (in the "
    "background between rounds). A URL that cannot be read is reported and read again next "
    "round. Exit code with --once: 2 when no URL could be read."))
@click.argument("urls", nargs=-1, required=True)
@click.option("--every", default="15m", show_default=True,
              help="How often to read them: 30s, 15m, 2h (at least 10 s).")
@click.option("--once", is_flag=True, help="Read them once, build the index, and exit.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per round.")
@index_options
def follow_cmd(urls, every, once, as_json, corpus, index_dir, model):
    """Follow feeds and pages: add their new entries as articles, on a schedule."""
    from index import BackgroundBuilder, display_url, feeds, follow_once, parse_interval

    urls = feeds(urls)
    interval = parse_interval(every)
    bot = open_bot(corpus, index_dir, model)
    builder = None
    while True:
        results = follow_once(urls, bot.config.corpus, bot.config.index,
                              progress=None if as_json else _say)
        added = sum(len(r.added) for r in results)
        if not as_json:
            for r in results:
                if not r.error:
                    click.echo(f"{display_url(r.url)}: {len(r.added)} added, {r.duplicates} "
                               f"already in the corpus, {r.seen} seen before")
        manifest = None
        if added and once:
            manifest = bot.build(show_bars=sys.stderr.isatty() and not as_json)
            if not as_json:
                click.echo(f"indexed {manifest['articles']} articles, {manifest['passages']} "
                           f"passages into {bot.config.index}")
        elif added:  # the next round starts on time: the build runs beside it
            builder = builder or BackgroundBuilder(bot.config, on_done=_built)
            builder.request()
        if as_json:
            click.echo(json.dumps({"results": [r.to_dict() for r in results],
                                   "index": manifest and {k: manifest[k] for k in
                                                          ("articles", "passages")}},
                                  ensure_ascii=False))
        if once:
            sys.exit(2 if all(r.error for r in results) else 0)
        sys.stdout.flush()
        time.sleep(interval)


def _built(result, error) -> None:
    """A background build ended (in its thread): one line on stderr."""
    if error is not None:
        _say(f"the index could not be rebuilt: {error} (tried again after the next new entry)")
    elif result.built:
        _say(f"indexed {result.manifest.get('articles')} articles, "
             f"{result.manifest.get('passages')} passages in {result.seconds:.1f} s")
