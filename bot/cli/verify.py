"""`citebot index verify`: every index file against its sha256, however large."""

from __future__ import annotations

import time

import click

from .common import index_options, open_bot


@click.command(name="verify")
@index_options
def verify_cmd(corpus, index_dir, model):
    """Check every index file against its checksum (loads only check changed large files)."""
    from index import IndexStore

    bot = open_bot(corpus, index_dir, model)
    t0 = time.perf_counter()
    store = IndexStore(bot.config.index, verify="full")
    size = sum(f["size"] for f in store.manifest["files"].values())
    click.echo(f"index {bot.config.index} is intact: {len(store.hashed)} files, "
               f"{size / 1e6:.1f} MB checked in {time.perf_counter() - t0:.1f} s")
