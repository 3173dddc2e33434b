"""Index size: rewrite a copy of a built index in the storage this citebot writes, file by file.

    python benchmarks/index_size.py --corpus C --index I --out DIR [--float32]

Copies C and I to DIR/corpus and DIR/index (C and I are only read), then writes a new generation
of the copy with this code's writer (writer.write_generation): the passage vectors read back
from the old FAISS index and stored as a new build stores them (float16: writer.PASSAGE_DTYPE),
the same sentence vectors, passage table and BM25 files, and the question encoder with its
weights stored in float16 (embed/fp16.py). The manifest and checksums are the writer's own, so
the copy is an index like a fresh build's, except that nothing is embedded again: answers can
be compared (`citebot eval --news ... --corpus DIR/corpus --index DIR/index`) against the
original without a 20-minute rebuild. ``--float32``: the control, the same rewrite in the old
storage (float32 FAISS vectors, fp32 model file), so that a rebuilt HNSW graph is not mistaken
for the effect of float16. Prints the size of every file before and after.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.embed.fp16 import half_weights_export  # noqa: E402
from index.embed.onnx import FILES  # noqa: E402
from index.store import store as store_mod  # noqa: E402
from index.store import writer  # noqa: E402

GEN_KEYS = ("files", "generation", "format_version", "shared_files", "model_dir", "index_type",
            "faiss", "index_type_asked", "passages", "sentences", "articles")


class _CopyBm25:
    """Stands for a bm25s retriever in BuildData: its save() copies the stored BM25 folder."""

    def __init__(self, folder: Path):
        self.folder = folder

    def save(self, dest: str) -> None:
        shutil.copytree(self.folder, dest)


def _sizes(index: Path) -> dict[str, int]:
    """Size of each file of the current generation, the models and the cache, by role."""
    manifest = store_mod.read_manifest(index)
    out = {}
    for rel, info in manifest["files"].items():
        out[f"gen/{rel}"] = info["size"]
    for rel, info in (manifest.get("shared_files") or {}).items():
        out["models/<key>/" + rel.split("/")[-1]] = info["size"]
    for p in (index / "cache").rglob("*"):
        if p.is_file():
            out[f"cache/{p.relative_to(index / 'cache').as_posix()}"] = p.stat().st_size
    return out


def _float32_storage(monkey: bool) -> None:
    """The control: FAISS classes of the old storage under the new names."""
    if not monkey:
        return
    import faiss

    faiss.IndexScalarQuantizer = lambda d, _q, metric: faiss.IndexFlatIP(d)
    faiss.IndexHNSWSQ = lambda d, _q, m, metric: faiss.IndexHNSWFlat(d, m, metric)


def convert(corpus: Path, index: Path, out: Path, float32: bool = False) -> tuple[dict, dict]:
    """Copy and rewrite (see the module docstring); returns (sizes before, sizes after)."""
    out.mkdir(parents=True, exist_ok=False)
    shutil.copytree(corpus, out / "corpus")  # copy2: names, sizes, mtimes as the original
    shutil.copytree(index, out / "index")
    copy = out / "index"
    before = _sizes(copy)
    store = store_mod.IndexStore(copy)
    old = store.manifest
    vectors = store.faiss.reconstruct_n(0, store.faiss.ntotal)
    model_dir = copy / old["model_dir"]
    export = out / "exports" / model_dir.name
    shutil.copytree(model_dir, export)
    if not float32:
        export = half_weights_export(export)
        if export is None:
            raise SystemExit("the model could not be stored in float16")
    _float32_storage(float32)
    manifest = {k: v for k, v in old.items() if k not in GEN_KEYS}
    manifest["corpus_dir"] = str((out / "corpus").resolve())
    writer.write_generation(copy, writer.BuildData(
        articles=list(store.articles), passages=list(store.passages),
        passage_vectors=np.asarray(vectors, dtype=np.float32),
        sentence_vectors=np.asarray(store.sentence_vectors), bm25=_CopyBm25(store.gen_dir / "bm25"),
        manifest=manifest, index_type=old.get("index_type") if old.get("index_type_asked")
        else None, model_dir=export, model_files=FILES))
    del store
    return before, _sizes(copy)


def _du(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="a new folder")
    ap.add_argument("--float32", action="store_true", help="the control: old storage")
    args = ap.parse_args()
    before, after = convert(args.corpus, args.index, args.out, args.float32)
    print("| file | before (bytes) | after (bytes) |\n|---|---:|---:|")
    for name in sorted(set(before) | set(after)):
        print(f"| {name} | {before.get(name, 0):,} | {after.get(name, 0):,} |")
    print(f"| **total** | {sum(before.values()):,} | {sum(after.values()):,} |")
    # du of the copy: the previous generation is kept too (KEEP_GENERATIONS), so measure the
    # current one and what it shares
    manifest = store_mod.read_manifest(args.out / "index")
    gen = args.out / "index" / manifest["generation"]
    shared = args.out / "index" / manifest["model_dir"]
    print(f"current generation + its model + cache on disk: "
          f"{(_du(gen) + _du(shared) + _du(args.out / 'index' / 'cache')) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
