"""citebot's core: corpus, passages, embeddings, the FAISS/BM25 store, search and quotes.

This module is the core's public API: front ends (``bot``) import only the names in
``__all__`` from here. They are loaded on first use, so importing an error type does not
load numpy, FAISS or the model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# name -> module (under index) that owns it; a name never equals a sub-package's name
_EXPORTS = {
    "Citebot": "engine", "SourceView": "cite.source",
    "Config": "config", "resolve": "config",
    "admin_chats": "config", "chat_ids": "config", "feeds": "config", "follow_every": "config",
    "parse_interval": "config",
    "resolve_device": "embed.embed_core",
    "Answer": "answer", "ArticleRef": "answer", "Citation": "answer",
    "CitebotError": "errors", "UsageError": "errors", "BadQuestion": "errors",
    "UnknownCitation": "errors", "CorpusError": "errors", "IndexError_": "errors",
    "IndexMissing": "errors", "IndexCorrupt": "errors", "IndexMismatch": "errors",
    "StaleIndex": "errors", "IngestError": "errors",
    "Conversations": "search.conversation",
    "lookup_with_bot": "cite.lookup",
    "citation_id_text": "text",
    "add_articles": "ingest.add", "INGEST_KINDS": "ingest.add",
    "display_url": "ingest.follow", "follow_once": "ingest.follow",
    "BackgroundBuilder": "live.builder", "LiveIndex": "live.reloader",
    "describe_error": "live.reloader",
    "slugify": "corpus.articles",
    "list_articles": "ingest.admin", "remove_articles": "ingest.admin",
    "find_articles": "ingest.admin",
    "article_files": "corpus.articles",
    "IndexStore": "store.store", "read_manifest": "store.store", "index_reason": "store.writer",
    "RayEncoder": "embed.distributed", "import_ray": "embed.distributed",
    "verify_spans_and_caches": "store.cache",
    "evaluate_squad": "quality.evaluate", "evaluate_index": "quality.evaluate",
    "evaluate_news": "quality.evaluate_news",
}

_RENAMED = {"add_articles": "ingest", "INGEST_KINDS": "KINDS"}  # public name -> the owner's name for it

__all__ = [
    "citation_id_text",
    "Answer", "ArticleRef", "BackgroundBuilder", "BadQuestion", "Citation", "Citebot",
    "CitebotError", "Config", "Conversations", "CorpusError", "INGEST_KINDS", "IndexCorrupt",
    "IndexError_", "IndexMismatch", "IndexMissing", "IndexStore", "IngestError", "LiveIndex",
    "RayEncoder", "SourceView", "StaleIndex", "UnknownCitation", "UsageError",
    "add_articles", "admin_chats", "article_files", "chat_ids", "describe_error", "display_url",
    "evaluate_index", "evaluate_news", "evaluate_squad", "feeds", "find_articles", "follow_every",
    "follow_once", "import_ray", "index_reason", "list_articles", "lookup_with_bot",
    "parse_interval", "read_manifest", "remove_articles", "resolve", "resolve_device", "slugify",
    "verify_spans_and_caches",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    owner = importlib.import_module(f"{__name__}.{module}")
    value = getattr(owner, _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names, for type checkers and the import graph
    from .answer import Answer, ArticleRef, Citation
    from .cite.lookup import lookup_with_bot
    from .cite.source import SourceView
    from .config import Config, admin_chats, chat_ids, feeds, follow_every, parse_interval, resolve
    from .corpus.articles import article_files, slugify
    from .embed.distributed import RayEncoder, import_ray
    from .embed.embed_core import resolve_device
    from .engine import Citebot
    from .errors import (
        BadQuestion,
        CitebotError,
        CorpusError,
        IndexCorrupt,
        IndexError_,
        IndexMismatch,
        IndexMissing,
        IngestError,
        StaleIndex,
        UnknownCitation,
        UsageError,
    )
    from .ingest.add import KINDS as INGEST_KINDS
    from .ingest.add import ingest as add_articles
    from .ingest.admin import find_articles, list_articles, remove_articles
    from .ingest.follow import display_url, follow_once
    from .live.builder import BackgroundBuilder
    from .live.reloader import LiveIndex, describe_error
    from .quality.evaluate import evaluate_index, evaluate_squad
    from .quality.evaluate_news import evaluate_news
    from .search.conversation import Conversations
    from .store.cache import verify_spans_and_caches
    from .store.store import IndexStore, read_manifest
    from .store.writer import index_reason
    from .text import citation_id_text
