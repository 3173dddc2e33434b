"""`citebot index verify`: every index file against its sha256, however large; the passage
table's sentence spans and the build caches."""

from __future__ import annotations

import time

import click

from .common import index_options, open_bot


@click.command(name="verify")
@index_options
def verify_cmd(corpus, index_dir, model):
    """Check every index file against its checksum (loads only check changed large files),
    the passage table's sentence spans, and the build caches."""
    from index import IndexStore, verify_spans_and_caches

    bot = open_bot(corpus, index_dir, model)
    t0 = time.perf_counter()
    store = IndexStore(bot.config.index, verify="full")
    verify_spans_and_caches(store)
    size = sum(f["size"] for f in store.manifest["files"].values())
    click.echo(f"index {bot.config.index} is intact: {len(store.hashed)} files, "
               f"{size / 1e6:.1f} MB checked in {time.perf_counter() - t0:.1f} s")
