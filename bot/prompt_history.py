"""Line editing and history for the interactive prompt (GNU readline, where Python has it).

Importing readline is what gives ``input()`` arrow keys, Ctrl-R and the like. Questions are kept
in ``$XDG_STATE_HOME/citebot/history`` (``~/.local/state/citebot/history``); a history that
cannot be read or written is only skipped: the prompt never fails for it.
"""

from __future__ import annotations

import os
from pathlib import Path

HISTORY_LINES = 1000


def history_path() -> Path:
    """Where the prompt's history lives (CITEBOT_HISTORY overrides it)."""
    if os.environ.get("CITEBOT_HISTORY"):
        return Path(os.environ["CITEBOT_HISTORY"]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state).expanduser() / "citebot" / "history"


def start_history():
    """Turn on line editing and load the history; returns a function that saves it (None when
    readline is not available, as on some Windows Pythons)."""
    try:
        import readline
    except ImportError:
        return None
    path = history_path()
    readline.set_history_length(HISTORY_LINES)
    try:
        readline.read_history_file(str(path))
    except (OSError, ValueError):
        pass  # no history yet, or unreadable: start empty

    def save() -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(str(path))
        except (OSError, ValueError):
            pass  # a read-only home or a full disk: the answers matter, not the history

    return save
