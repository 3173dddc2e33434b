"""Give an archive index built before them the files later builds write beside it: the int8
passage vectors (archive.write_codes), the BM25 impact prefixes (bm25_arrays.write_impacts) and
the sentences' PQ codes (archive.write_sentence_codes), then hash them into the manifest as
writer.seal_generation does.

    python benchmarks/add_archive_files.py INDEX_DIR

All are computed from the generation's own files (the float16 exact vectors, the BM25
postings, the sentence vectors) by the functions a build calls, so the result is the index a
build of today writes; it spares rebuilding a 10-million-passage benchmark index (25 minutes)
to measure them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from common import ROOT

sys.path.insert(0, str(ROOT))

from index.fileio import sha256_file, write_json_atomic  # noqa: E402
from index.store import archive  # noqa: E402
from index.store.bm25_arrays import write_impacts  # noqa: E402
from index.store.store import MANIFEST, _stamp, read_manifest  # noqa: E402


def main(index_dir: Path) -> None:
    manifest = read_manifest(index_dir)
    gen = index_dir / manifest["generation"]
    if manifest.get("index_type") != archive.ARCHIVE:
        raise SystemExit("not an archive index")
    new = []
    t0 = time.perf_counter()
    if not (gen / archive.CODES).exists():
        archive.write_codes(gen, np.load(gen / archive.VECTORS, mmap_mode="r"))
        new += [archive.CODES, archive.SCALES]
    t1 = time.perf_counter()
    if not (gen / "bm25" / "impact.terms.npy").exists() and write_impacts(gen / "bm25"):
        new += [p.relative_to(gen).as_posix() for p in sorted((gen / "bm25").glob("impact.*"))]
    t2 = time.perf_counter()
    if not (gen / archive.SENT_CODES).exists():
        archive.write_sentence_codes(gen, np.load(gen / "sentences.npy", mmap_mode="r"))
        new += [archive.SENT_CODES, archive.SENT_QUANTIZER]
    t3 = time.perf_counter()
    files = dict(manifest["files"])
    for rel in new:
        path = gen / rel
        files[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size,
                      "stamp": _stamp(path)}
    faiss_info = {**manifest.get("faiss", {}), "codes": archive.CODES,
                  "sentence_codes": archive.SENT_CODES}
    write_json_atomic(index_dir / MANIFEST, {**manifest, "files": files, "faiss": faiss_info})
    print(f"added {new}: int8 vectors {t1 - t0:.0f} s, impact prefixes {t2 - t1:.0f} s, "
          f"sentence codes {t3 - t2:.0f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
