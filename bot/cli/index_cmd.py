"""`citebot index build` and `citebot index info` (`index verify` is in verify.py)."""

from __future__ import annotations

import sys

import click

from .. import render
from .common import index_options, open_bot


@click.group(name="index")
def index_group():
    """Build or describe the index."""


@index_group.command()
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True,
              help="Where texts are embedded: auto uses a CUDA GPU when one is present. "
                   "Questions are always embedded on the CPU.")
@click.option("--precision", type=click.Choice(["fp32", "int8"]), default=None,
              help="Weights a CPU build embeds with (default: CITEBOT_PRECISION, else fp32). "
                   "int8 is faster; opt-in until its answers are checked on all of news dev.")
@index_options
def build(device, precision, corpus, index_dir, model):
    """Build (or rebuild) the index of the corpus."""
    from index import resolve_device

    resolve_device(device)  # --device cuda without a GPU: one line, exit 2, nothing changed
    bot = open_bot(corpus, index_dir, model, precision=precision, device=device)
    manifest = bot.build(show_bars=sys.stderr.isatty())
    click.echo(f"indexed {manifest['articles']} articles, {manifest['passages']} passages, "
               f"{manifest['sentences']} sentences into {bot.config.index}")


@index_group.command()
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@index_options
def info(as_json, corpus, index_dir, model):
    """Describe the index: model, size, corpus, and whether the corpus changed since."""
    from index import read_manifest

    bot = open_bot(corpus, index_dir, model)
    manifest = read_manifest(bot.config.index)
    stale = bot.is_stale(manifest)
    info = {k: manifest.get(k) for k in ("model", "dim", "index_type", "articles", "passages",
                                         "sentences", "corpus_dir", "built_at", "generation",
                                         "format_version")}
    info.update(index_dir=str(bot.config.index), corpus_changed=stale)
    if as_json:
        click.echo(render.json_line(info))
        return
    for key, value in info.items():
        click.echo(render.clean(f"{key:15} {value}"))
    if stale:
        click.echo("the corpus changed since this build: run `citebot index build`")
