"""The library's front door: open (or build) the index for a config, answer, look up sources."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from .answer import Answer, ArticleRef
from .build import ProgressFn, build_index
from .cite.source import SourceView, source_view
from .config import Config
from .corpus.articles import corpus_fingerprint, corpus_stat_signature, load_corpus
from .errors import (
    WRITE_ERRNOS,
    CitebotError,
    IndexMismatch,
    IndexMissing,
    StaleIndex,
    StorageError,
    UsageError,
)
from .fileio import folder_lock
from .search.params import SearchParams
from .search.searcher import Searcher
from .store.store import IndexStore, read_manifest


@contextmanager
def build_lock(index_dir: Path, on_wait=None):
    """One build at a time per index folder, across processes (readers never need the lock);
    ``on_wait()`` is called when another build holds it (see fileio.folder_lock)."""
    with folder_lock(index_dir, ".lock", on_wait):
        yield


@contextmanager
def storage_errors(where: Path):
    """A write that the file system refuses (read-only, full, over a size limit) becomes a
    StorageError naming the folder; whatever was half written has been removed by then."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        what = f" ({exc.filename})" if exc.filename else ""
        raise StorageError(f"cannot write the index at {where}: {exc.strerror}{what}") from exc


class Citebot:
    """Opens the index named by a config, building it first when needed, and answers."""

    def __init__(self, config: Config, progress: ProgressFn | None = None,
                 params: SearchParams | None = None, embedder=None, question_embedder=None,
                 device: str = "auto"):
        """``embedder``: the model to build with (default: loaded from ``config.model`` when
        first needed, on ``device`` and in ``build_precision()``); ``question_embedder``:
        embeds every question instead of the index's own encoder (benchmarks compare engines
        with it)."""
        if embedder is None:  # "no such model" before anything else is done (no torch loaded)
            from .embed.base import require_local_model

            require_local_model(config.model)
        self.config = config
        self.progress = progress or (lambda _m: None)
        self.params = params or SearchParams()
        if config.threshold is not None:
            self.params.threshold = config.threshold
        self._index_embedder = embedder
        self.device = device  # "auto" (a CUDA GPU when present), "cpu" or "cuda"
        self._fixed_question_embedder = question_embedder
        self._question_embedder = None  # (generation, embedder)
        self._store: IndexStore | None = None
        self._searcher: Searcher | None = None
        # --since / --source for a whole session: {"since": "YYYY-MM-DD", "source": "name"}.
        self.scope: dict = {}
        self._in_scope = None  # (scope key, store, article ids): articles_in_scope's last
        self.warm = False  # keep_warm: map each loaded index into memory in the background

    # -- embedders: torch is imported only when something must be embedded with it ----------
    def index_embedder(self):
        """The embedder used to build (loaded once): onnxruntime over the model's cached ONNX
        export when there is one (torch is not imported), else sentence-transformers."""
        if self._index_embedder is not None:
            return self._index_embedder
        from .embed.embed_core import engine_for

        # The index records its precision (model_variant) and its question encoder is the same
        # export (embed/embed_core.py). Not kept: the precision may change with the index's,
        # and engine_for loads each engine once per process anyway.
        return engine_for(self.config.model, self.device, self.build_precision())

    def build_precision(self) -> str:
        """As asked (--precision, CITEBOT_PRECISION), else int8 when the existing index is int8
        (a rebuild, automatic ones included, keeps it), else auto."""
        if self.config.precision_given:
            return self.config.precision
        from .embed.embed_core import precision_of

        try:
            return precision_of(read_manifest(self.config.index)) or self.config.precision
        except CitebotError:  # no index (or an unreadable one): a fresh build
            return self.config.precision

    def build_sentence_vectors(self) -> str:
        """late or separate: as asked (--sentence-vectors, CITEBOT_SENTENCE_VECTORS), else as
        the existing index was built (a rebuild keeps it), else the default (embed/late.py)."""
        if self.config.sentence_vectors_given:
            return self.config.sentence_vectors
        try:
            # An index from before the choice existed records none: it gets the default.
            return read_manifest(self.config.index).get("sentence_vectors") or \
                self.config.sentence_vectors
        except CitebotError:  # no index (or an unreadable one): a fresh build
            return self.config.sentence_vectors

    def question_embedder(self, manifest: dict):
        """What embeds questions for this index: it must be the model the index was built with
        (name, and the files' fingerprint for a model folder). The index's own ONNX export
        when it has one (no torch import: a one-shot `ask` stays under a second), else the
        index embedder."""
        from .embed.base import check_model
        from .embed.onnx import question_encoder

        cached = getattr(self, "_question_embedder", None)
        if cached is None or cached[0] != manifest.get("generation"):
            check_model(self.config.model, manifest)
            fast = self._fixed_question_embedder or question_encoder(self.config.index,
                                                                     manifest)
            cached = self._question_embedder = (manifest.get("generation"),
                                                fast or self.index_embedder())
        return cached[1]

    # -- index lifecycle ---------------------------------------------------------------------
    def build(self, show_bars: bool = False, only_if_stale: bool = False, encode=None) -> dict:
        """Build the index of the configured corpus (replacing any earlier one); ``encode``:
        build.build_index's pluggable embedding step (e.g. embed/distributed.py RayEncoder).

        Requests coalesce: when another process was building this index, or with
        ``only_if_stale``, an index that is now current for this corpus and model is kept.
        """
        waited = []

        def on_wait():
            waited.append(True)
            self.progress("another build of this index is running: waiting for it")

        from .embed.embed_core import resolve_device, resolve_precision

        if self._index_embedder is None and resolve_device(self.device) == "cpu":
            # A precision this machine cannot run is refused before anything (even the lock
            # file) is written; the engine itself loads under the lock, as before.
            resolve_precision(self.build_precision())
        with storage_errors(self.config.index), build_lock(self.config.index, on_wait):
            current = self.current_manifest() if (waited or only_if_stale) else None
            if current is not None:
                if waited:
                    self.progress("the index is now current: nothing more to build")
                return current
            manifest = build_index(self.config.corpus, self.config.index, self.index_embedder(),
                                   progress=self.progress, show_bars=show_bars, encode=encode,
                                   sentence_vectors=self.build_sentence_vectors())
        self._store = self._searcher = None
        return manifest

    def current_manifest(self) -> dict | None:
        """The manifest when the index is there, of this model and of the corpus as it is now;
        else None."""
        try:
            manifest = read_manifest(self.config.index)
            self.check_model_name(manifest)
            return None if self.is_stale(manifest) else manifest
        except CitebotError:
            return None

    def is_stale(self, manifest: dict) -> bool:
        """Has the corpus changed since the build? File stats first, contents when they differ."""
        if not self.config.corpus.is_dir():
            return False  # an index without its corpus folder still answers
        signature = corpus_stat_signature(self.config.corpus)
        if signature == manifest.get("corpus_signature"):
            return False
        # Same stats as at the last look: the same answer (a bot checks every few seconds,
        # and must not reread the whole corpus each time while a rebuild is running).
        key = (manifest.get("corpus_fingerprint"), signature)
        memo = getattr(self, "_stale_memo", None)
        if memo is not None and memo[0] == key:
            return memo[1]
        articles = load_corpus(self.config.corpus)
        stale = corpus_fingerprint(articles) != manifest.get("corpus_fingerprint")
        self._stale_memo = (key, stale)
        return stale

    def ensure_index(self) -> dict:
        """The manifest of a current index: built when missing, rebuilt when the corpus changed.

        A damaged index (unreadable manifest, a file failing its checksum: IndexStore), or one
        of another format or model, is never rebuilt behind the user's back nor answered from:
        it raises, naming `citebot index build`. A folder with builds but no manifest.json (a
        first build killed before it finished, or a lost file) is an index that is not there:
        built when auto-build is on, and said so.
        """
        try:
            manifest = read_manifest(self.config.index)
        except IndexMissing as missing:
            exc = missing  # the error raised, unless a better message replaces it
            lost = self.config.index.is_dir() and any(
                p.is_dir() for p in self.config.index.glob("gen-*"))
            if lost:
                exc = IndexMissing(f"the index at {self.config.index} has no manifest.json "
                                   f"(a build that did not finish, or a lost file)")
            if not self.config.auto_build:
                raise exc from None
            load_corpus(self.config.corpus)  # a missing corpus is the user's error, say it first
            self.progress(f"{exc}: building it again" if lost else
                          f"no index at {self.config.index}: building it (once)")
            return self.build()
        if self.is_stale(manifest):
            if not self.config.auto_build:
                raise StaleIndex(f"the corpus in {self.config.corpus} changed since the index "
                                 f"was built")
            self.progress("the corpus changed since the index was built: rebuilding")
            return self.build()
        return manifest

    @property
    def store(self) -> IndexStore:
        """The loaded, verified index (built or rebuilt first when needed), of this model."""
        if self._store is None:
            self.check_model_name(self.ensure_index())
            self._store = IndexStore(self.config.index)
            if self.warm:
                self._store.warm()
        return self._store

    def keep_warm(self) -> None:
        """For a process that answers for long (the bot, the prompt, a stream of questions):
        map the index into memory in the background now and after every reload, so that
        questions on a big index do not wait on page faults (store/warm.py)."""
        self.warm = True
        if self._store is not None:
            self._store.warm()

    def check_model_name(self, manifest: dict) -> None:
        """IndexMismatch unless the index was built with this Citebot's model (its embedder's,
        or the configured one): every command refuses another model's index alike, even one
        that needs no vectors (`source`, an exact `cite`). Cheap: names only; the model files
        are compared when questions are embedded (question_embedder)."""
        from .embed.base import resolve_model

        wanted = getattr(self._index_embedder, "name", None) or resolve_model(
            self.config.model)[0]
        if manifest.get("model") != wanted:
            raise IndexMismatch(f"the index was built with the model {manifest.get('model')!r}, "
                                f"not {wanted!r}")

    @property
    def searcher(self) -> Searcher:
        """The index plus the question embedder (opened on first use)."""
        if self._searcher is None:
            store = self.store
            self._searcher = Searcher(store, self.question_embedder(store.manifest), self.params)
        return self._searcher

    def reload_if_changed(self, build: bool = True) -> bool:
        """Pick up a newer build (and, with ``build`` and auto-build on, rebuild a changed
        corpus first, here); True when another index was loaded.

        The loaded index answers until the new one is loaded and verified, then both are
        switched in one step: a question in another thread sees the old index or the new one.
        A server passes ``build=False`` and builds in the background (index/live/reloader.py).
        """
        if self._store is None:
            return False
        manifest = read_manifest(self.config.index)
        if build and self.config.auto_build and self.is_stale(manifest):
            self.progress("the corpus changed since the index was built: rebuilding")
            self.build()  # drops the loaded objects: load again below
        return self.load_newer(manifest if self._store is not None else None)

    def load_newer(self, manifest: dict | None = None) -> bool:
        """Load the index's current build when it is not the loaded one; never builds.
        Raises (the loaded index staying in place) when the new build cannot be used."""
        manifest = manifest or read_manifest(self.config.index)
        loaded = self._store.manifest["generation"] if self._store is not None else None
        if manifest["generation"] == loaded:
            return False
        self.check_model_name(manifest)
        store = IndexStore(self.config.index)
        searcher = Searcher(store, self.question_embedder(store.manifest), self.params)
        if self.warm:
            store.warm()
        self._searcher, self._store = searcher, store
        return True

    # -- questions and lookups ---------------------------------------------------------------
    def articles_in_scope(self, since: str | None = None, source: str | None = None):
        """Ids of the articles published on or after ``since`` (undated ones excluded) and from
        ``source`` (case-insensitive); None when neither is given (every article)."""
        from .ingest.draft import normalize_date

        since = since or self.scope.get("since")
        source = source or self.scope.get("source")
        if not since and not source:
            return None
        since_iso = normalize_date(since) if since else None
        if since and not since_iso:
            raise UsageError(f"not a full date: {since!r}", fix="use YYYY-MM-DD")
        wanted = " ".join(source.split()).casefold() if source else None
        store = self.store
        key = (store.manifest.get("generation"), since_iso, wanted)
        cached = self._in_scope
        if cached is not None and cached[0] == key and cached[1] is store:
            return cached[2]  # once per scope and loaded index, not once per question
        articles = store.articles
        ids = {a.id for a in articles
               if (not since_iso or (normalize_date(a.published) or "") >= since_iso)
               and (not wanted or " ".join((a.source or "").split()).casefold() == wanted)}
        if not ids:
            asked = " and ".join(x for x in (since_iso and f"published since {since_iso}",
                                             source and f"from the source {source!r}") if x)
            known = sorted({a.source for a in articles if a.source})
            raise UsageError(f"no article is {asked}",
                             fix="sources: " + "; ".join(known) if known and source
                             else "`citebot list` shows each article's source and date")
        self._in_scope = (key, store, ids)
        return ids

    def articles_covered(self) -> list[ArticleRef]:
        """The articles questions are answered from (within ``scope``), in index order: what a
        "not found" reply names."""
        allowed = self.articles_in_scope()
        return [ArticleRef(**a.meta()) for a in self.store.articles
                if allowed is None or a.id in allowed]

    def ask(self, question: str, k: int = 3, as_of=None, **kw) -> Answer:
        """Answer one question with up to ``k`` citations (within ``scope`` when it is set), as
        of the date ``as_of`` (None: now; later articles are not used, recent ones preferred
        for questions about the present: search/timeframe.py)."""
        if kw.get("articles") is None:
            kw["articles"] = self.articles_in_scope()
        return self.searcher.ask(question, k=k, as_of=as_of, **kw)

    def source(self, citation_id: str, around: int = 1) -> SourceView:
        """A passage by citation id (``art:p3``) or character range (``art:120-240``), in context."""
        return source_view(self.store, citation_id, around)
