"""Front matter YAML without anchors and aliases.

``yaml.safe_load`` expands aliases: a few hundred bytes (a "billion laughs" front matter, each
list nine references to the one before) become hundreds of megabytes in memory and in the
index's article table. An article's metadata never needs them, so a document holding an anchor
(``&a``) or an alias (``*a``, merge keys ``<<: *a`` included) is refused before anything is
built from it, and the front matter itself is capped at MAX_FRONT_MATTER_CHARS.
"""

from __future__ import annotations

import yaml

MAX_FRONT_MATTER_CHARS = 64 * 1024  # metadata of one article: a title, a URL, a few fields


class AliasRefused(yaml.YAMLError):
    """The document uses an anchor or an alias."""


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader whose composer stops at the first anchor or alias event."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            raise AliasRefused(f"YAML anchors and aliases are not allowed (line {mark.line + 1})")
        return super().compose_node(parent, index)


def load_front_matter(text: str):
    """The YAML document ``text`` as plain data; yaml.YAMLError when it is not acceptable."""
    if len(text) > MAX_FRONT_MATTER_CHARS:
        raise yaml.YAMLError(f"the front matter is {len(text):,} characters long; the limit "
                             f"is {MAX_FRONT_MATTER_CHARS:,}")
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
