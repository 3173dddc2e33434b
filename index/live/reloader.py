"""A loaded index kept current while it answers (the bot, the interactive prompt).

Questions read ``citebot.searcher`` and never wait for anything here: looking for a newer build
runs in one background thread, building in the BackgroundBuilder's (a child process), and a new
build is loaded and verified beside the one answering, then switched in one assignment
(Citebot.load_newer). A corpus changed while a build ran is seen after it (the build records
the corpus as it read it) and built again; a build that failed is not retried until the corpus
changes again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ..corpus.articles import corpus_stat_signature
from ..errors import CitebotError
from ..store.store import read_manifest
from .builder import BackgroundBuilder, BuildResult

EventFn = Callable[[str, str], None]  # (level: "info" | "warning", message)


def describe_error(exc: BaseException) -> str:
    """An error in one line for a log (a core error's own message, else only its type)."""
    return exc.user_message() if isinstance(exc, CitebotError) else type(exc).__name__


class LiveIndex:
    """Keeps ``citebot`` (already loaded) current: ``check()`` and ``request_build()``."""

    def __init__(self, citebot, on_event: EventFn | None = None,
                 builder: BackgroundBuilder | None = None):
        self.citebot = citebot
        self.say = on_event or (lambda _level, _message: None)
        self.builder = builder or BackgroundBuilder(citebot.config, on_done=self._after_build)
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citebot-reload")
        self._queued: Future | None = None
        self._queue_lock = threading.Lock()
        self._load_lock = threading.Lock()  # loads by the reload and build threads, one at a time
        self._requested_for: str | None = None  # the corpus signature last rebuilt for

    @property
    def building(self) -> bool:
        return self.builder.busy

    def check(self) -> Future:
        """Look for a newer build or a changed corpus in the background (a changed corpus is
        rebuilt when auto-build is on). The Future: True when another index was loaded."""
        with self._queue_lock:
            queued = self._queued
            if queued is not None and not queued.running() and not queued.done():
                return queued  # one check waiting is enough
            try:
                self._queued = self._loader.submit(self._check)
            except RuntimeError:  # closed: shutting down
                done: Future = Future()
                done.set_result(False)
                return done
            return self._queued

    def request_build(self) -> Future:
        """Build the corpus as it is now, in the background; the Future resolves to the
        BuildResult once the new index is loaded (or to the BuildFailed)."""
        self._requested_for = self._signature()
        return self.builder.request()

    def close(self, wait: bool = True) -> None:
        """Stop: a running build is stopped; a running check is waited for (``wait``)."""
        self.builder.close()
        self._loader.shutdown(wait=wait, cancel_futures=True)

    # -- in the background ------------------------------------------------------------------
    def _signature(self) -> str | None:
        try:
            return corpus_stat_signature(self.citebot.config.corpus)
        except CitebotError:
            return None

    def _load(self) -> bool:
        with self._load_lock:
            try:
                loaded = self.citebot.load_newer()
            except Exception as exc:
                self.say("warning", "the index could not be reloaded; answering from the "
                                    f"loaded one: {describe_error(exc)}")
                raise
        if loaded:
            store = self.citebot.store
            self.say("info", f"reloaded the index: {len(store.articles)} articles, "
                             f"{len(store.passages)} passages")
        return loaded

    def _rebuild_if_stale(self) -> None:
        """A changed corpus is built again (once per corpus state) when auto-build is on."""
        if self.builder.busy:
            return
        try:
            stale = self.citebot.is_stale(read_manifest(self.citebot.config.index))
        except Exception as exc:  # noqa: BLE001 - an unreadable article: said, then waited out
            self.say("warning", f"cannot check the corpus: {describe_error(exc)}")
            return
        signature = self._signature()
        if not stale or signature == self._requested_for:
            return
        if not self.citebot.config.auto_build:  # said once per corpus state
            self._requested_for = signature
            self.say("warning", "the corpus changed, and CITEBOT_AUTO_BUILD is off: answering "
                                "from the loaded index (run `citebot index build`)")
            return
        self.say("info", "the corpus changed: rebuilding the index in the background")
        self.request_build()

    def _check(self) -> bool:
        loaded = self._load()
        self._rebuild_if_stale()
        return loaded

    def _after_build(self, result: BuildResult | None, error: Exception | None) -> None:
        """In the build thread: load what was built, then look again (a corpus changed while
        the build read it is built again)."""
        if error is not None:
            self.say("warning", "the index could not be rebuilt; answering from the loaded "
                                f"one: {describe_error(error)}")
            return
        if result.built:
            self.say("info", f"built the index in {result.seconds:.1f} s: "
                             f"{result.manifest.get('articles')} articles, "
                             f"{result.manifest.get('passages')} passages")
        self._load()
        if self.citebot.config.auto_build:
            try:
                stale = self.citebot.is_stale(read_manifest(self.citebot.config.index))
            except Exception:  # noqa: BLE001 - the next check says why
                return
            if stale:
                self.say("info", "the corpus changed during the build: building again")
                self._requested_for = self._signature()
                self.builder.request()
