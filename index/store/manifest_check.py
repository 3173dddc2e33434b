"""The index manifest's shape, checked before any of it is used.

A manifest is JSON anyone with write access could edit; its values name files to open and set
sizes and counts. A value of the wrong type (a string count, a list for ``files``) must be
"damaged", not an internal error deep in a load, and ``generation`` must name a folder inside
the index folder (``../other/gen-x`` or an absolute path would read another index, or any
folder, as this one).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from ..errors import IndexCorrupt

_GENERATION = re.compile(r"^gen-[A-Za-z0-9_-]{1,100}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COUNTS = ("passages", "sentences", "articles", "dim")
_TEXTS = ("model", "model_fingerprint", "question_encoder", "corpus_dir", "corpus_fingerprint",
          "corpus_signature", "built_at", "index_type", "sentence_vectors")


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _problem(manifest: dict, index_dir: Path) -> str | None:
    gen = manifest.get("generation")
    if not isinstance(gen, str) or not _GENERATION.match(gen):
        return "`generation` is not the name of a gen-* folder"
    root = Path(index_dir).resolve()
    if (root / gen).resolve().parent != root:
        return "`generation` points outside the index folder"
    files = manifest.get("files")
    if not isinstance(files, dict):
        return "`files` is not an object"
    for rel, info in files.items():
        parts = PurePosixPath(rel).parts
        if not rel or rel.startswith("/") or "\\" in rel or ".." in parts:
            return f"the file name {rel!r} is not inside the build"
        if not isinstance(info, dict) or not _is_count(info.get("size")) or \
                not isinstance(info.get("sha256"), str) or not _SHA256.match(info["sha256"]):
            return f"the entry of {rel!r} is not a size and a sha256"
        stamp = info.get("stamp")
        if stamp is not None and not (isinstance(stamp, list) and all(map(_is_count, stamp))):
            return f"the stat stamp of {rel!r} is not a list of numbers"
    for key in _COUNTS:
        if key in manifest and not _is_count(manifest[key]):
            return f"`{key}` is not a whole number"
    for key in _TEXTS:
        if manifest.get(key) is not None and not isinstance(manifest[key], str):
            return f"`{key}` is not text"
    if manifest.get("faiss") is not None and not isinstance(manifest["faiss"], dict):
        return "`faiss` is not an object"
    ef = (manifest.get("faiss") or {}).get("efSearch")
    if ef is not None and not (_is_count(ef) and 0 < ef <= 1 << 16):
        return "`faiss.efSearch` is not a search depth"
    return None


def validate_manifest(manifest: dict, path: Path, index_dir: Path) -> None:
    """IndexCorrupt naming the first wrong value, else nothing."""
    problem = _problem(manifest, index_dir)
    if problem:
        raise IndexCorrupt(f"the index manifest {path} is damaged ({problem})")
