"""The question encoder's files, stored once per index folder and shared by its generations.

A generation used to carry its own copy of the ONNX model (87 MB for the default model), so an
index with two generations held it twice. Now::

    <index>/models/<key>/model.onnx, tokenizer.json, embedder.json
    <index>/gen-<id>/model.ref        {"model_dir": "models/<key>"}: which one it uses

``<key>`` is derived from the files' sha256, so the same export is written once and reused by
every rebuild. The manifest lists the shared files (``shared_files``, paths relative to the
index folder) with the same size / sha256 / stat stamp as the generation's own files, and the
load checks them the same way (store.IndexStore.verify). A model folder is removed when no
generation kept on disk refers to it any more (writer._prune), so a reader still holding the
previous generation keeps its encoder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

from ..errors import IndexError_
from ..fileio import replace_dir, sha256_file

MODELS_DIR = "models"
MODEL_REF = "model.ref"


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def install_model(index_dir: Path, src: Path, names: tuple[str, ...],
                  previous: dict | None = None) -> tuple[str, dict]:
    """Put the files ``names`` of folder ``src`` under ``<index>/models/<key>/`` unless an
    intact copy is there already; returns (the folder relative to the index, its file records
    for the manifest). ``previous``: the current manifest, whose records spare re-hashing a
    copy nobody has written to since (its stat stamp is unchanged)."""
    index_dir, src = Path(index_dir), Path(src)
    digests = {n: sha256_file(src / n) for n in names}
    key = hashlib.sha256("".join(f"{n}\0{d}\0" for n, d in sorted(digests.items()))
                         .encode()).hexdigest()[:32]
    rel = f"{MODELS_DIR}/{key}"
    dest = index_dir / rel
    known = (previous or {}).get("shared_files") or {}

    def intact(name: str) -> bool:
        path, info = dest / name, known.get(f"{rel}/{name}") or {}
        if not path.is_file():
            return False
        if info.get("sha256") == digests[name] and info.get("stamp") == _stamp(path) \
                and info.get("size") == path.stat().st_size:
            return True  # as recorded, and not written to since
        return sha256_file(path) == digests[name]

    if not all(intact(n) for n in names):
        models = index_dir / MODELS_DIR
        models.mkdir(parents=True, exist_ok=True)
        tmp = models / f".{key}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir()
        try:
            for n in names:
                shutil.copyfile(src / n, tmp / n)
                with open(tmp / n, "rb") as fh:
                    os.fsync(fh.fileno())
            if sha256_file(tmp / names[0]) != digests[names[0]]:  # the copy itself went wrong
                raise OSError(f"copying {src / names[0]} gave other bytes")
            replace_dir(tmp, dest)  # a damaged copy is set aside, the new one swapped in
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    records = {f"{rel}/{n}": {"sha256": digests[n], "size": (dest / n).stat().st_size,
                              "stamp": _stamp(dest / n)} for n in names}
    return rel, records


def attach_model(index_dir: Path, gen_dir: Path, src: Path, names: tuple[str, ...],
                 current_manifest) -> dict:
    """Install the model (install_model) and name it in the new generation ``gen_dir``; returns
    the manifest's keys. ``current_manifest()``: the index's manifest now (it may raise: then
    every copy is re-hashed)."""
    try:
        previous = current_manifest()
    except IndexError_:  # missing, damaged, another format: the records only spare hashing
        previous = None
    rel, shared = install_model(index_dir, src, names, previous)
    write_ref(gen_dir, rel)
    return {"model_dir": rel, "shared_files": shared}


def shared_listing(index_dir: Path, manifest: dict) -> list[tuple[Path, str, dict]]:
    """(base folder, path, record) of the files a generation shares (store.IndexStore.verify)."""
    return [(Path(index_dir), rel, info)
            for rel, info in (manifest.get("shared_files") or {}).items()]


def write_ref(gen_dir: Path, rel: str) -> None:
    """Record in a generation which shared model folder it uses."""
    (Path(gen_dir) / MODEL_REF).write_text(json.dumps({"model_dir": rel}), encoding="utf-8")


def prune_models(index_dir: Path, generations: list[Path]) -> None:
    """Remove model folders no remaining generation refers to (and old leftovers)."""
    models = Path(index_dir) / MODELS_DIR
    if not models.is_dir():
        return
    used = set()
    for gen in generations:
        try:
            used.add(json.loads((gen / MODEL_REF).read_text(encoding="utf-8"))["model_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    for p in models.iterdir():
        if p.name.startswith("."):
            if time.time() - p.stat().st_mtime > 3600:  # a killed build's half copy
                shutil.rmtree(p, ignore_errors=True)
        elif f"{MODELS_DIR}/{p.name}" not in used:
            shutil.rmtree(p, ignore_errors=True)
