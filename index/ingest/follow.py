"""Following feeds and pages: their new entries become articles (`citebot follow`, the bot's
--follow).

Each round reads every followed URL with ingest's own fetcher and extractors (ingest/add.py)
and adds the entries it has not seen before. An entry is remembered by its link (else by its
text) in ``<index>/follow.json``: an entry an admin removed is not added again, and one already
in the corpus (the same URL or text: ingest's duplicate check) is never added twice. A URL that
fails is reported and read again next round; it never stops the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import CitebotError
from ..fileio import write_json_atomic
from .add import Catalog, Outcome, corpus_lock, extract, write_draft
from .draft import Draft, text_key, url_key

STATE_FILE = "follow.json"
KEEP_PER_URL = 5000  # entries remembered per followed URL (a feed holds tens)


def display_url(url: str) -> str:
    """A URL fit for logs and replies: a user name and password in it are left out."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def entry_key(draft: Draft) -> str:
    """What identifies an entry across rounds: its link, else its text."""
    key = url_key(draft.url)
    if key:
        return f"url:{key}"
    return "text:" + hashlib.sha256(text_key(draft.body).encode()).hexdigest()[:32]


@dataclass
class FollowResult:
    """One followed URL in one round."""

    url: str
    added: list[Outcome] = field(default_factory=list)
    duplicates: int = 0        # new to this URL, but already in the corpus
    seen: int = 0              # entries of earlier rounds
    failed: list[tuple[str, str]] = field(default_factory=list)  # entries without text...
    error: str | None = None   # the URL itself could not be read (retried next round)

    def to_dict(self) -> dict:
        return {"url": self.url, "added": [o.to_dict() for o in self.added],
                "duplicates": self.duplicates, "seen": self.seen,
                "failed": [{"origin": o, "message": m} for o, m in self.failed],
                "error": self.error}


class FollowState:
    """The entries seen per followed URL, kept in a JSON file beside the index."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.seen: dict[str, list[str]] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("seen"), dict):
                self.seen = {str(u): [str(k) for k in keys] for u, keys in data["seen"].items()
                             if isinstance(keys, list)}
        except (OSError, ValueError):
            pass  # none yet, or unreadable: ingest's duplicate check still holds

    def keys(self, url: str) -> set[str]:
        return set(self.seen.get(url, ()))

    def remember(self, url: str, keys: list[str]) -> None:
        known = self.seen.setdefault(url, [])
        have = set(known)
        known += [k for k in keys if k not in have and not have.add(k)]
        del known[:-KEEP_PER_URL]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"version": 1, "seen": self.seen})


def _add_drafts(drafts: list[Draft], corpus_dir: Path, result: FollowResult) -> None:
    """Write the drafts not already in the corpus, as `citebot add` does (add.py)."""
    with corpus_lock(corpus_dir):
        catalog = Catalog(corpus_dir)
        for draft in drafts:
            if catalog.duplicate_of(draft):
                result.duplicates += 1
                continue
            article_id = catalog.new_id(draft)
            write_draft(corpus_dir, draft, article_id)
            catalog.remember(article_id, draft.url, draft.body)
            result.added.append(Outcome(draft.origin, "added", article_id, draft.title))


def follow_once(urls, corpus_dir: Path, index_dir: Path,
                progress: Callable[[str], None] | None = None) -> list[FollowResult]:
    """Read each URL once and add its new entries to the corpus (the index is not touched)."""
    say = progress or (lambda _m: None)
    corpus_dir = Path(corpus_dir)
    state = FollowState(Path(index_dir) / STATE_FILE)
    results = []
    for url in urls:
        result = FollowResult(url)
        results.append(result)
        try:
            drafts, failures = extract("url", url)
        except CitebotError as exc:
            result.error = exc.user_message().removeprefix(f"{url}: ")
        except Exception as exc:  # noqa: BLE001 - a library choking on one feed skips it
            result.error = f"{type(exc).__name__}: {exc}"
        if result.error:
            say(f"{display_url(url)}: {result.error} (read again next round)")
            continue
        result.failed = [(where, why.removeprefix(f"{where}: ")) for where, why in failures]
        known = state.keys(url)
        fresh = [d for d in drafts if entry_key(d) not in known]
        result.seen = len(drafts) - len(fresh)
        try:
            _add_drafts(fresh, corpus_dir, result)
            state.remember(url, [entry_key(d) for d in drafts])
            state.save()
        except OSError as exc:  # a read-only or full disk: said, and tried next round
            result.error = f"cannot write {exc.filename or corpus_dir} ({exc.strerror or exc})"
            say(f"{display_url(url)}: {result.error} (read again next round)")
            continue
        for outcome in result.added:
            say(f"added {outcome.article_id}: {outcome.title} ({display_url(url)})")
    return results
