"""The `citebot` command line: a thin layer over the core (`index`), one module per command group."""

from __future__ import annotations

import click

from .ask import ask, source
from .cite import cite_cmd
from .common import CitebotGroup
from .corpus import register as register_corpus
from .eval import eval_cmd
from .follow import follow_cmd
from .index_cmd import index_group
from .telegram import telegram_cmd
from .verify import verify_cmd


@click.group(cls=CitebotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="citebot")
def cli():
    """citebot: answers questions about news articles with verbatim, cited quotes."""


for _command in (ask, source, cite_cmd, telegram_cmd, follow_cmd, eval_cmd, index_group):
    cli.add_command(_command)
index_group.add_command(verify_cmd)
register_corpus(cli)


def main():  # console script entry point
    cli(prog_name="citebot")
