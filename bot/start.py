"""Entry point of `citebot` and `python -m bot`: Ctrl-C while the modules still load is one
line, not a traceback through click's import. Once a command runs, the CitebotGroup.invoke hook
(bot/cli/common.py) installs its own handler (which lets what is being written roll back)."""

import os
import signal
import sys


def _interrupted_while_starting(_signum, _frame):
    sys.stderr.write("\ncitebot: interrupted (files being written were discarded)\n")
    os._exit(130)  # nothing has been written yet


def main():
    """Install the start-up Ctrl-C handler, then run the click command line."""
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    from .cli import main as cli_main

    try:
        cli_main()
    finally:
        # The command is over (what it wrote is in place or rolled back): a Ctrl-C now aborts
        # nothing, and must not kill the exiting interpreter (status -2). An ignored SIGINT
        # stays ignored through Python's finalization; the default handler would not.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
